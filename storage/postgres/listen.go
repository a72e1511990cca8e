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
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

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

// barrier is one Sync message on the listening connection; the waiters
// that arrived before it was written are released once it is answered.
type barrier struct {
	done chan struct{}
	ok   bool
	// sent is when (since epoch) it was written: every change committed
	// before then has been applied once it is answered.
	sent int64
}

// syncMessage is the protocol's Sync: outside an extended query it only
// makes PostgreSQL answer ReadyForQuery, after the notifications pending
// for the connection (it delivers them before every ReadyForQuery of an
// idle session). It is the cheapest round trip there is: nothing to
// parse, plan or run.
var syncMessage = []byte{'S', 0, 0, 0, 4}

// syncedFor tells, without waiting, whether a barrier that started after
// the request arrived has been answered.
func (c *cache) syncedFor(ctx context.Context) bool {
	after, ok := storage.ReadAfter(ctx)
	return ok && c.synced.Load() >= int64(after.Sub(epoch)) && c.on()
}

// sync waits until every change committed before the call has been
// applied to the cache, and tells whether the cache may be used. It has a
// barrier written on the listening connection: PostgreSQL delivers the
// notifications of transactions committed before that message ahead of
// its answer, so a write answered by any instance before this read began
// is never served stale. One barrier flies at a time: the readers that
// arrive meanwhile share the next one, which the listener writes as soon
// as the flying one is answered.
func (c *cache) sync(ctx context.Context) bool {
	after := time.Now()
	if t, ok := storage.ReadAfter(ctx); ok {
		after = t
	}
	since := int64(after.Sub(epoch))
	if c.synced.Load() >= since {
		// A barrier that started after the request arrived has already
		// been answered (an earlier transaction of the same request).
		return c.on()
	}
	c.bmu.Lock()
	var b *barrier
	switch {
	case c.conn == nil:
		// The listener is down: nobody would answer.
		c.bmu.Unlock()
		return false
	case c.flying != nil && c.flying.sent >= since:
		b = c.flying
	case c.queued != nil:
		b = c.queued
	default:
		b = &barrier{done: make(chan struct{})}
		if c.flying == nil {
			c.sendLocked(b)
		} else {
			c.queued = b
		}
	}
	c.bmu.Unlock()
	select {
	case <-b.done:
		return b.ok && c.on()
	case <-ctx.Done():
		return false
	}
}

// sendLocked writes barrier b (c.bmu held). The write of five bytes
// does not wait unless PostgreSQL stopped reading; a failed one closes
// the connection, which ends the listener and fails the barriers.
func (c *cache) sendLocked(b *barrier) {
	b.sent = int64(time.Since(epoch))
	c.flying, c.flyingSince = b, time.Now()
	err := c.conn.SetWriteDeadline(time.Now().Add(c.barrierTimeout))
	if err == nil {
		_, err = c.conn.Write(syncMessage)
	}
	if err != nil {
		c.conn.Close() //nolint:errcheck // closing is the report
	}
}

// answered completes the flying barrier (a ReadyForQuery arrived) and
// writes the queued one.
func (c *cache) answered() {
	c.bmu.Lock()
	defer c.bmu.Unlock()
	if b := c.flying; b != nil {
		c.flying = nil
		c.synced.Store(b.sent)
		b.ok = true
		close(b.done)
	}
	if q := c.queued; q != nil && c.conn != nil {
		c.queued = nil
		c.sendLocked(q)
	}
}

// failBarriers releases the waiters while the listener is down.
func (c *cache) failBarriers() {
	c.bmu.Lock()
	f, q := c.flying, c.queued
	c.conn, c.flying, c.queued = nil, nil, nil
	c.bmu.Unlock()
	for _, b := range []*barrier{f, q} {
		if b != nil {
			close(b.done)
		}
	}
}

// The watchdog's timings, copied into each cache (newCache) so that the
// barrier tests shorten their own cache's without touching the listeners
// of other backends running meanwhile.
const (
	// barrierTimeout is how long a barrier may go unanswered before the
	// connection is taken for broken (the listener then reconnects).
	barrierTimeout = 5 * time.Second
	// pingEvery is how often a quiet connection gets a barrier nobody
	// asked for, so that a silently broken one stops the cache within
	// seconds.
	pingEvery = 2 * time.Second
)

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

// listenOnce connects, listens, and then reads the connection itself
// (hijacked from pgconn): notifications are applied as they arrive, and
// each ReadyForQuery answers the flying barrier. The barriers are written
// by the requests that ask for them (sync), or by answered; a watchdog
// pings a quiet connection and closes one whose barrier goes unanswered.
func (c *cache) listenOnce(ctx context.Context, cfg *pgconn.Config) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgconn.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel).ReadAll(); err != nil {
		conn.Close(context.Background())
		return err
	}
	if err := sameServer(ctx, conn); err != nil {
		conn.Close(context.Background())
		return err
	}
	// Hijack is outside pgx's compatibility promise: an upgrade of pgx
	// must keep TestCacheListenerLost and the cache tests passing. The
	// frontend it hands over keeps what pgconn had buffered, and reading
	// the connection while requests write to it is safe (TLS included).
	hj, err := conn.Hijack()
	if err != nil {
		conn.Close(context.Background())
		return err
	}
	nc, fe := hj.Conn, hj.Frontend
	defer nc.Close()
	// The end of ctx ends the read at once.
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	c.bmu.Lock()
	c.conn = nc
	c.bmu.Unlock()
	// Whatever changed before LISTEN took effect was not heard: start
	// from nothing, and tell the change watchers so.
	c.reset(true)
	c.report("*")
	quit := make(chan struct{})
	defer close(quit)
	go c.watchdog(nc, quit)
	for {
		msg, err := fe.Receive()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		switch m := msg.(type) {
		case *pgproto3.NotificationResponse:
			c.apply(m.Payload)
		case *pgproto3.ReadyForQuery:
			c.answered()
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("postgres: listener: %s (SQLSTATE %s)", m.Message, m.Code)
		}
	}
}

// watchdog pings the listening connection while nobody asks for a
// barrier, and closes it when a barrier goes unanswered for
// c.barrierTimeout, until quit is closed.
func (c *cache) watchdog(nc net.Conn, quit chan struct{}) {
	t := time.NewTicker(c.pingEvery)
	defer t.Stop()
	for {
		select {
		case <-quit:
			return
		case <-t.C:
		}
		c.bmu.Lock()
		switch {
		case c.conn != nc:
			// Down, or another connection's already: nothing to do.
		case c.flying == nil:
			c.sendLocked(&barrier{done: make(chan struct{})})
		case time.Since(c.flyingSince) > c.barrierTimeout:
			nc.Close() //nolint:errcheck // closing is the report
		}
		c.bmu.Unlock()
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
