package postgres

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// While the database is down, every request that needs a connection
// makes the pool dial it: tens of thousands of dials a second under
// load, each a 503 only once its own dial failed, and a crowd of
// connections arriving together the moment the database is back. The
// dialer below fails at once, for dialPause after a failed dial to the
// same address, so that an instance tries the database a few times a
// second and answers 503 at once in between.
//
// It also refuses a connection to itself. When the database listens on
// a port of the ephemeral range (a throwaway cluster, a test) and is
// down, a dial can get that very port as its source and connect to
// itself (TCP simultaneous open); the socket then holds the port and the
// restarted database cannot listen on it.

// defaultConnectTimeout bounds a connection's set-up when storage_url
// says nothing (connect_timeout).
const defaultConnectTimeout = 5 * time.Second

// dialPause is how long dials to an address fail at once after one
// failed.
const dialPause = 250 * time.Millisecond

// errDatabaseDown is a dial refused during the pause.
var errDatabaseDown = errors.New("the database could not be reached moments ago; not dialing again yet")

// errSelfConnect is a dial that connected to itself.
var errSelfConnect = errors.New("the connection reached itself (the database is down and listens on an ephemeral port)")

// pausingDialer wraps a dial function with the pause.
type pausingDialer struct {
	dial  pgconn.DialFunc
	pause time.Duration
	now   func() time.Time
	mu    sync.Mutex
	// failed is when the last dial to each address failed; an address
	// whose last dial succeeded has no entry.
	failed map[string]time.Time
}

func newPausingDialer(dial pgconn.DialFunc) *pausingDialer {
	return &pausingDialer{dial: dial, pause: dialPause, now: time.Now, failed: map[string]time.Time{}}
}

// DialContext is a pgconn.DialFunc.
func (d *pausingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	at, down := d.failed[addr]
	d.mu.Unlock()
	if down && d.now().Sub(at) < d.pause {
		return nil, errDatabaseDown
	}
	c, err := d.dial(ctx, network, addr)
	if err == nil && network != "unix" && c.LocalAddr().String() == c.RemoteAddr().String() {
		if tc, ok := c.(*net.TCPConn); ok {
			// Reset, not closed: a closed socket would still hold the
			// port for a minute (TIME_WAIT).
			tc.SetLinger(0) //nolint:errcheck // closed either way
		}
		c.Close()
		err = errSelfConnect
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case err == nil:
		delete(d.failed, addr)
	case !errors.Is(ctx.Err(), context.Canceled):
		// A dial its caller gave up on says nothing of the database; one
		// that ran out of time does (a host that drops packets).
		d.failed[addr] = d.now()
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Unreachable tells whether err, from Open or Migrate, says the server
// was not reached, or not ready: nothing listening, no answer in time, a
// host name not known yet, a server starting up or shutting down. Such a
// start may succeed moments later (a container starting beside this one),
// unlike one refused by the server (a password, a missing database).
func Unreachable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// cannot_connect_now, admin_shutdown, and the connection
		// exceptions (class 08).
		return pe.Code == "57P03" || pe.Code == "57P01" || strings.HasPrefix(pe.Code, "08")
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, errDatabaseDown) || errors.Is(err, errSelfConnect)
}
