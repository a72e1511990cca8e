package postgres

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// fakeConn is a connection with the addresses a test gives it.
type fakeConn struct {
	net.Conn
	local, remote string
	closed        bool
}

func (c *fakeConn) LocalAddr() net.Addr  { return addr(c.local) }
func (c *fakeConn) RemoteAddr() net.Addr { return addr(c.remote) }
func (c *fakeConn) Close() error         { c.closed = true; return nil }

type addr string

func (a addr) Network() string { return "tcp" }
func (a addr) String() string  { return string(a) }

// TestPausingDialer drives the dialer of dial.go with a fake dial and a
// fake clock: which dials reach the network, and what they answer.
func TestPausingDialer(t *testing.T) {
	const db, other = "127.0.0.1:5432", "10.0.0.2:5432"
	refused := errors.New("connection refused")
	type dial struct {
		name     string
		at       time.Duration // on the fake clock
		addr     string
		canceled bool   // the caller gave up (its context is canceled)
		late     bool   // the caller's deadline passed
		outcome  string // what the network does: "ok", "refused", "self"
		dialed   bool   // the network is asked
		want     error  // nil: a connection
	}
	steps := []dial{
		{name: "first dial fails", at: 0, addr: db, outcome: "refused", dialed: true, want: refused},
		{name: "within the pause: refused at once", at: 100 * time.Millisecond, addr: db, dialed: false, want: errDatabaseDown},
		{name: "another address is not paused", at: 110 * time.Millisecond, addr: other, outcome: "ok", dialed: true},
		{name: "pause over: dialed again, fails again", at: 260 * time.Millisecond, addr: db, outcome: "refused", dialed: true, want: refused},
		{name: "the pause restarts from the last failure", at: 400 * time.Millisecond, addr: db, dialed: false, want: errDatabaseDown},
		{name: "back: a connection", at: 520 * time.Millisecond, addr: db, outcome: "ok", dialed: true},
		{name: "a success ends the pause", at: 521 * time.Millisecond, addr: db, outcome: "ok", dialed: true},
		{name: "a dial its caller gave up on", at: 530 * time.Millisecond, addr: db, canceled: true, outcome: "refused", dialed: true, want: refused},
		{name: "starts no pause", at: 531 * time.Millisecond, addr: db, outcome: "ok", dialed: true},
		{name: "a dial out of time (a host dropping packets)", at: 532 * time.Millisecond, addr: other, late: true, outcome: "refused", dialed: true, want: refused},
		{name: "pauses that address", at: 533 * time.Millisecond, addr: other, dialed: false, want: errDatabaseDown},
		{name: "a connection to itself is refused", at: 540 * time.Millisecond, addr: db, outcome: "self", dialed: true, want: errSelfConnect},
		{name: "and pauses", at: 541 * time.Millisecond, addr: db, dialed: false, want: errDatabaseDown},
	}
	var clock time.Time
	var dialed bool
	var outcome string
	var last *fakeConn
	d := newPausingDialer(func(ctx context.Context, network, a string) (net.Conn, error) {
		dialed = true
		switch outcome {
		case "refused":
			return nil, refused
		case "self":
			last = &fakeConn{local: a, remote: a}
		default:
			last = &fakeConn{local: "127.0.0.1:40000", remote: a}
		}
		return last, nil
	})
	d.now = func() time.Time { return clock }
	start := time.Unix(1_800_000_000, 0)
	for _, s := range steps {
		clock, dialed, outcome, last = start.Add(s.at), false, s.outcome, nil
		ctx, cancel := context.WithCancel(context.Background())
		if s.late {
			ctx, cancel = context.WithDeadline(context.Background(), time.Unix(1, 0))
		}
		if s.canceled {
			cancel()
		}
		c, err := d.DialContext(ctx, "tcp", s.addr)
		cancel()
		if dialed != s.dialed {
			t.Errorf("%s: network asked %v, want %v", s.name, dialed, s.dialed)
		}
		if !errors.Is(err, s.want) || (s.want == nil) != (c != nil) {
			t.Errorf("%s: got %v, %v; want error %v", s.name, c, err, s.want)
		}
		if s.outcome == "self" && (last == nil || !last.closed) {
			t.Errorf("%s: the connection to itself was not closed", s.name)
		}
	}
}
