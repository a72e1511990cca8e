package postgres

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/storage"
)

// TestBarriers drives the barrier state machine of listen.go over a
// socket standing for the listening connection, with PostgreSQL's side
// played by the test: which request shares which barrier, what an answer
// releases, and what the watchdog does with a quiet or a silent
// connection.
func TestBarriers(t *testing.T) {
	setup := func(t *testing.T) (*cache, net.Conn) {
		c := newCache(100)
		c.barrierTimeout, c.pingEvery = 300*time.Millisecond, 50*time.Millisecond
		// A TCP pair, not net.Pipe: a socket takes a barrier's five
		// bytes without waiting for the other side to read them.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		client, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		server, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { client.Close(); server.Close() })
		c.conn = client
		c.reset(true)
		return c, server
	}
	// readSync reads one barrier from PostgreSQL's side.
	readSync := func(t *testing.T, server net.Conn) {
		t.Helper()
		server.SetReadDeadline(time.Now().Add(2 * time.Second))
		msg := make([]byte, len(syncMessage))
		if _, err := io.ReadFull(server, msg); err != nil || string(msg) != string(syncMessage) {
			t.Fatalf("no Sync on the connection: %q %v", msg, err)
		}
	}
	arrived := func() context.Context { return storage.WithReadAfter(context.Background(), time.Now()) }
	wait := func(c *cache, ctx context.Context) chan bool {
		out := make(chan bool, 1)
		go func() { out <- c.sync(ctx) }()
		return out
	}
	released := func(t *testing.T, ch chan bool, want bool) {
		t.Helper()
		select {
		case got := <-ch:
			if got != want {
				t.Fatalf("sync = %v, want %v", got, want)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("sync still waits")
		}
	}
	waiting := func(t *testing.T, ch chan bool) {
		t.Helper()
		select {
		case got := <-ch:
			t.Fatalf("sync returned %v before its barrier was answered", got)
		case <-time.After(50 * time.Millisecond):
		}
	}

	t.Run("an answer releases the readers that arrived before its barrier was written", func(t *testing.T) {
		c, server := setup(t)
		first := wait(c, arrived())
		readSync(t, server)
		waiting(t, first)
		// Arrived after the flying barrier was written: needs the next,
		// which is written only once the flying one is answered.
		second, third := wait(c, arrived()), wait(c, arrived())
		waiting(t, second)
		c.answered()
		released(t, first, true)
		waiting(t, second)
		readSync(t, server) // the queued barrier, shared by second and third
		c.answered()
		released(t, second, true)
		released(t, third, true)
		// A request that arrived before the last answered barrier was
		// written does not wait at all.
		ctx := storage.WithReadAfter(context.Background(), time.Now().Add(-time.Hour))
		released(t, wait(c, ctx), true)
	})
	t.Run("a reader whose request ends stops waiting", func(t *testing.T) {
		c, server := setup(t)
		ctx, cancel := context.WithCancel(arrived())
		ch := wait(c, ctx)
		readSync(t, server)
		cancel()
		released(t, ch, false)
	})
	t.Run("a listener that goes down fails the barriers", func(t *testing.T) {
		c, server := setup(t)
		flying := wait(c, arrived())
		readSync(t, server)
		queued := wait(c, arrived())
		waiting(t, queued)
		c.reset(false)
		c.failBarriers()
		released(t, flying, false)
		released(t, queued, false)
		released(t, wait(c, arrived()), false) // no connection: no wait
	})
	t.Run("a quiet connection is pinged", func(t *testing.T) {
		c, server := setup(t)
		quit := make(chan struct{})
		defer close(quit)
		go c.watchdog(c.conn, quit)
		readSync(t, server)
		before := c.synced.Load()
		c.answered()
		if c.synced.Load() <= before {
			t.Fatal("an answered ping did not move synced")
		}
		readSync(t, server)
	})
	t.Run("a barrier left unanswered closes the connection", func(t *testing.T) {
		c, server := setup(t)
		quit := make(chan struct{})
		defer close(quit)
		ch := wait(c, arrived())
		readSync(t, server)
		go c.watchdog(c.conn, quit)
		// PostgreSQL's side sees the connection closed within the
		// timeout and a ping or two.
		server.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := io.ReadAll(server); err != nil {
			t.Fatalf("the connection was not closed: %v", err)
		}
		c.reset(false)
		c.failBarriers()
		released(t, ch, false)
	})
}
