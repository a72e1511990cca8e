package postgres

// The cache's listener: notifications applied as they arrive, and the
// barrier a request waits for before its first cached read (see the
// comment at the top of cache.go and docs/architecture.md, "Notifications
// and the cache").

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/nimbus-server/nimbus/storage"
)

// apply handles one notification payload.
func (c *cache) apply(payload string) {
	t := &touched{}
	switch {
	case payload == "" || payload == "*":
		t.allObjects, t.allACLs, t.principals = true, true, true
	case payload[0] == 'o':
		parts := strings.SplitN(payload[1:], "\x1f", 5)
		if len(parts) < 3 {
			t.allObjects = true
		} else {
			t.objects.add(objKey{resource: parts[0], parent: parts[1], id: parts[2]})
		}
	case payload[0] == 'a':
		t.acls.add(payload[1:])
	case payload[0] == 't':
		t.stamps = []string{payload[1:]}
	case payload[0] == 'u':
		t.users = []string{payload[1:]}
	default:
		t.allObjects, t.allACLs, t.principals = true, true, true
	}
	c.invalidate(t)
	c.report(payload)
}

// barrier is one round trip on the listening connection; waiters that
// asked for it before it started are released once it is answered.
type barrier struct {
	done chan struct{}
	ok   bool
}

// syncedFor tells, without waiting, whether a barrier that started after
// the request arrived has been answered.
func (c *cache) syncedFor(ctx context.Context) bool {
	after, ok := storage.ReadAfter(ctx)
	return ok && c.synced.Load() >= int64(after.Sub(epoch)) && c.on()
}

// sync waits until every change committed before the call has been
// applied to the cache, and tells whether the cache may be used. It sends
// a query on the listening connection: PostgreSQL delivers the
// notifications of transactions committed before that query ahead of its
// answer, so a write answered by any instance before this read began is
// never served stale. Concurrent readers share one round trip.
func (c *cache) sync(ctx context.Context) bool {
	after := time.Now()
	if t, ok := storage.ReadAfter(ctx); ok {
		after = t
	}
	if c.synced.Load() >= int64(after.Sub(epoch)) {
		// A barrier that started after the request arrived has already
		// been answered (an earlier transaction of the same request).
		return c.on()
	}
	c.bmu.Lock()
	b := c.next
	if b == nil {
		b = &barrier{done: make(chan struct{})}
		c.next = b
		if c.idle != nil {
			c.idle.SetReadDeadline(time.Now()) //nolint:errcheck // a closed socket ends the wait too
		}
	}
	c.bmu.Unlock()
	if !c.on() {
		// The listener went down meanwhile: nobody may answer soon.
		return false
	}
	select {
	case <-b.done:
		return b.ok && c.on()
	case <-ctx.Done():
		return false
	}
}

// failBarriers releases the waiters while the listener is down.
func (c *cache) failBarriers() {
	c.bmu.Lock()
	b := c.next
	c.next = nil
	c.bmu.Unlock()
	if b != nil {
		close(b.done)
	}
}

// listen keeps a LISTEN connection open until ctx ends, enabling the cache
// while it is up; it reconnects with a growing pause when it drops.
func (c *cache) listen(ctx context.Context, cfg *pgconn.Config, log *slog.Logger) {
	pause := 100 * time.Millisecond
	cfg.OnNotification = func(_ *pgconn.PgConn, n *pgconn.Notification) { c.apply(n.Payload) }
	for ctx.Err() == nil {
		err := c.listenOnce(ctx, cfg)
		c.reset(false)
		c.failBarriers()
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errPooled) {
			log.Error("postgres: the read cache is off: " + err.Error())
			return
		}
		log.Warn("postgres: cache listener lost; reads go to the database until it is back", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		if pause < 5*time.Second {
			pause *= 2
		}
	}
}

func (c *cache) listenOnce(ctx context.Context, cfg *pgconn.Config) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgconn.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	// A barrier is the cheapest round trip there is, an empty query
	// (no parsing, no plan; PostgreSQL still delivers the pending
	// notifications before it reports itself ready), bounded by a
	// deadline on the socket rather than a context: a context with a
	// deadline costs pgconn a watching goroutine per query, and barriers
	// run thousands of times a second under load.
	roundTrip := func() error {
		if err := conn.Conn().SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
			return err
		}
		_, err := conn.Exec(context.Background(), "").ReadAll()
		return err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel).ReadAll(); err != nil {
		return err
	}
	if err := sameServer(ctx, conn); err != nil {
		return err
	}
	// The end of ctx ends a wait for notifications at once.
	stop := context.AfterFunc(ctx, func() {
		c.bmu.Lock()
		defer c.bmu.Unlock()
		conn.Conn().SetReadDeadline(time.Now()) //nolint:errcheck // a closed socket ends the wait too
	})
	defer stop()
	// Whatever changed before LISTEN took effect was not heard: start
	// from nothing, and tell the change watchers so.
	c.reset(true)
	c.report("*")
	quiet := time.Now()
	for {
		c.bmu.Lock()
		b := c.next
		c.next = nil
		c.bmu.Unlock()
		if b != nil || time.Since(quiet) > 2*time.Second {
			// A barrier asked for, or a ping of a quiet connection so that
			// a silently broken one stops the cache within seconds.
			started := int64(time.Since(epoch))
			err := roundTrip()
			if err == nil {
				c.synced.Store(started)
			}
			if b != nil {
				b.ok = err == nil
				close(b.done)
			}
			if err != nil {
				return err
			}
			quiet = time.Now()
			continue
		}
		// Wait for notifications until a barrier is asked for (sync moves
		// the deadline to now), a ping is due, or ctx ends (the function
		// above does the same). Under load this runs between every two
		// barriers: a deadline costs no goroutine or timer, where a
		// context would cost both.
		c.bmu.Lock()
		if c.next != nil || ctx.Err() != nil {
			c.bmu.Unlock()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue
		}
		c.idle = conn.Conn()
		err := c.idle.SetReadDeadline(time.Now().Add(2 * time.Second))
		c.bmu.Unlock()
		if err == nil {
			err = conn.WaitForNotification(context.Background())
		}
		c.bmu.Lock()
		c.idle = nil
		c.bmu.Unlock()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		switch {
		case err == nil:
			quiet = time.Now()
		case conn.IsClosed():
			return err
		}
	}
}

// errPooled is a listening connection that reaches PostgreSQL through a
// pooler.
var errPooled = errors.New("the connection to PostgreSQL goes through a pooler (pgbouncer?), which may move the LISTEN " +
	"to a server connection that later queries do not reach, so changes made by other instances would not be heard; " +
	"connect Nimbus to PostgreSQL directly, or through a TCP proxy, to use the cache")

// sameServer checks that the listening connection talks to the server
// process that announced itself when it connected (BackendKeyData).
// A pooler announces a process of its own. In its transaction mode the
// LISTEN stays on one server connection while later queries, the
// barriers among them, may run on another: the notifications would be
// lost and the cache would keep what other instances changed. Session
// mode would be safe, but cannot be told apart from here; the cache is
// left off either way (reads go to the database).
func sameServer(ctx context.Context, conn *pgconn.PgConn) error {
	res, err := conn.Exec(ctx, "SELECT pg_backend_pid()").ReadAll()
	if err != nil {
		return err
	}
	if len(res) != 1 || len(res[0].Rows) != 1 || len(res[0].Rows[0]) != 1 {
		return errors.New("postgres: pg_backend_pid() answered no row")
	}
	pid, err := strconv.ParseUint(string(res[0].Rows[0][0]), 10, 32)
	if err != nil {
		return fmt.Errorf("postgres: pg_backend_pid(): %w", err)
	}
	if uint32(pid) != conn.PID() {
		return errPooled
	}
	return nil
}
