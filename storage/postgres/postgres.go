package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nimbus-server/nimbus/storage"
)

// Options tune the connection pool and the read cache.
type Options struct {
	MaxConns    int32
	PoolTimeout time.Duration
	// CacheEntries bounds each map of the read cache (objects, ACLs,
	// principals); 0 means 50,000 and a negative value turns the cache
	// off.
	CacheEntries int
	// CacheBytes bounds the stored JSON the read cache keeps in rows and
	// list pages (cachebytes.go); 0 means 64 MiB.
	CacheBytes int
	// WriteGroups is how many combined write transactions may run at
	// once (combine.go); 0 means 1 (measured best: groups writing one
	// list only wait for each other's lock) and a negative value runs every write
	// in a transaction of its own.
	WriteGroups int
	// Logger receives the cache listener's warnings (slog.Default when
	// nil).
	Logger *slog.Logger
	// MaxIndexedFields bounds the distinct declared fields that get
	// indexes (indexes.go): 0 means 32, a negative value none.
	MaxIndexedFields int
}

// SharedBetweenInstances implements storage.Sharer: every instance on the
// database reads and writes the same data.
func (b *Backend) SharedBetweenInstances() bool { return true }

var _ storage.Sharer = (*Backend)(nil)

// Backend is a storage.Backend on PostgreSQL.
type Backend struct {
	layouts *layouts
	pool    *pgxpool.Pool
	acq     *acquirer
	timeout time.Duration
	cache   *cache
	// maxIndexed bounds the declared fields with indexes (indexes.go).
	maxIndexed int
	// comb combines concurrent writes (combine.go); nil runs each alone.
	comb *combiner
	// groups and groupCalls count the write transactions the combiner
	// committed and the calls they held (Stats).
	groups, groupCalls atomic.Int64
	// stats starts analyses as the tables grow (analyze.go).
	stats      statsKeeper
	nextLocks  nextLocks
	stopListen context.CancelFunc
	listening  sync.WaitGroup
}

var (
	_ storage.Backend        = (*Backend)(nil)
	_ storage.Pinger         = (*Backend)(nil)
	_ storage.LayoutFollower = (*Backend)(nil)
)

// layouts are the storage layouts declared per resource; they are set
// while the server is built and read by every transaction.
type layouts struct {
	mu sync.RWMutex
	m  map[string]storage.Layout
}

func (l *layouts) get(resource string) storage.Layout {
	if l == nil {
		return storage.UnderParent
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.m[resource]
}

// SetLayout implements storage.LayoutFollower.
func (b *Backend) SetLayout(resource string, l storage.Layout) {
	b.layouts.mu.Lock()
	defer b.layouts.mu.Unlock()
	b.layouts.m[resource] = l
}

// ErrSchemaMissing is returned by Open when the database has no Nimbus
// (Kinto) schema yet.
var ErrSchemaMissing = errors.New("postgres: the database has no schema; run \"nimbus migrate\" first")

func connect(ctx context.Context, url string, opts Options) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: invalid storage_url: %v", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		// Without connect_timeout in the URL a dial to a host that drops
		// packets waits for the system (minutes), and every request with it.
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	cfg.ConnConfig.DialFunc = newPausingDialer(cfg.ConnConfig.DialFunc).DialContext
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return pool, nil
}

// migrateLock is the session advisory lock Migrate holds: instances
// started together on a fresh database (containers running migrate
// before serve) run it one after the other, where all but one failed on
// the objects another had just created.
const migrateLock = `SELECT pg_advisory_lock(hashtextextended('nimbus migrate', 7))`

// Migrate creates the schema on an empty database; a database with a
// schema version Nimbus does not know is refused. Concurrent runs wait
// for each other (migrateLock).
func Migrate(ctx context.Context, url string) (string, error) {
	pool, err := connect(ctx, url, Options{MaxConns: 2})
	if err != nil {
		return "", err
	}
	defer pool.Close()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return "", fmt.Errorf("postgres: %w", err)
	}
	// The lock goes with the session, which pool.Close ends.
	defer conn.Release()
	if _, err := conn.Exec(ctx, migrateLock); err != nil {
		return "", fmt.Errorf("postgres: waiting for another migrate: %w", err)
	}
	sv, pv, err := versions(ctx, conn)
	switch {
	case err != nil:
		return "", err
	case sv == storageVersion && pv == permissionVersion:
		if err := execAll(ctx, conn, append(append([]string(nil), fixupSQL...), cacheSQL...)); err != nil {
			return "", fmt.Errorf("postgres: installing the cache triggers: %v", err)
		}
		msg := "schema is up to date (storage 26, permission 2); cache triggers in place"
		tag, err := conn.Exec(ctx, staleMembershipsSQL)
		if err != nil {
			return "", fmt.Errorf("postgres: removing the memberships of deleted groups: %v", err)
		}
		switch n := tag.RowsAffected(); {
		case n == 1:
			msg += "; 1 membership of a group that no longer exists removed"
		case n > 1:
			msg += fmt.Sprintf("; %d memberships of groups that no longer exist removed", n)
		}
		return msg, nil
	case sv != "" || pv != "":
		return "", fmt.Errorf("postgres: unknown schema versions (storage %q, permission %q); Nimbus knows storage 26 and permission 2", sv, pv)
	}
	if err := execAll(ctx, conn, append(append([]string(nil), schemaSQL...), cacheSQL...)); err != nil {
		return "", fmt.Errorf("postgres: creating the schema: %v", err)
	}
	return "schema created (storage 26, permission 2)", nil
}

// session runs statements and transactions: a pool, or one of its
// connections.
type session interface {
	querier
	Begin(ctx context.Context) (pgx.Tx, error)
}

// execAll runs statements in one transaction.
func execAll(ctx context.Context, db session, stmts []string) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	for _, stmt := range stmts {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

func versions(ctx context.Context, pool session) (string, string, error) {
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('metadata') IS NOT NULL`).Scan(&exists); err != nil {
		return "", "", fmt.Errorf("postgres: %w", err)
	}
	if !exists {
		return "", "", nil
	}
	var sv, pv string
	rows, err := pool.Query(ctx, `SELECT name, value FROM metadata WHERE name IN ('storage_schema_version', 'permission_schema_version')`)
	if err != nil {
		return "", "", err
	}
	defer rows.Close()
	for rows.Next() {
		var n, v string
		if err := rows.Scan(&n, &v); err != nil {
			return "", "", err
		}
		if n == "storage_schema_version" {
			sv = v
		} else {
			pv = v
		}
	}
	return sv, pv, rows.Err()
}

// Open connects and checks the schema version.
func Open(ctx context.Context, url string, opts Options) (*Backend, error) {
	pool, err := connect(ctx, url, opts)
	if err != nil {
		return nil, err
	}
	sv, pv, err := versions(ctx, pool)
	if err != nil {
		pool.Close()
		return nil, err
	}
	if sv == "" && pv == "" {
		pool.Close()
		return nil, ErrSchemaMissing
	}
	if sv != storageVersion || pv != permissionVersion {
		pool.Close()
		return nil, fmt.Errorf("postgres: schema versions storage %q / permission %q are not the ones Nimbus knows (26 / 2); run \"nimbus migrate\"", sv, pv)
	}
	timeout := opts.PoolTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	b := &Backend{layouts: &layouts{m: map[string]storage.Layout{}}, pool: pool, acq: &acquirer{pool: pool}, timeout: timeout, maxIndexed: opts.MaxIndexedFields}
	switch {
	case b.maxIndexed == 0:
		b.maxIndexed = DefaultMaxIndexedFields
	case b.maxIndexed < 0:
		b.maxIndexed = 0
	}
	if opts.WriteGroups >= 0 {
		n := opts.WriteGroups
		if n == 0 {
			n = 1
		}
		b.comb = &combiner{max: n}
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	var ordered bool
	if err := pool.QueryRow(ctx, `SELECT coalesce(bool_or(prosrc LIKE '%nimbus_lock_list%'), false)
	  AND EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'nimbus_lock_timestamps')
	  FROM pg_proc WHERE proname = 'bump_timestamp'`).Scan(&ordered); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %v", err)
	}
	if !ordered {
		log.Warn("postgres: the database's stamping trigger is Kinto's or an older Nimbus's, so writes Kinto makes to it are not ordered with Nimbus's; run \"nimbus migrate\" to update it")
	}
	if opts.CacheEntries >= 0 {
		var n int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'nimbus\_cache\_%' AND NOT tgisinternal`).Scan(&n)
		switch {
		case err != nil:
			pool.Close()
			return nil, fmt.Errorf("postgres: %v", err)
		case n < cacheTriggers:
			log.Warn("postgres: the database lacks Nimbus's cache triggers, so every read goes to the database; run \"nimbus migrate\" to add them")
		default:
			max := opts.CacheEntries
			if max == 0 {
				max = 50000
			}
			b.cache = newCache(max)
			if opts.CacheBytes > 0 {
				b.cache.maxBytes = opts.CacheBytes
			}
			b.cache.watch = &watchers{layouts: b.layouts, fns: map[int]func(storage.Change){}}
			lctx, cancel := context.WithCancel(context.Background())
			b.stopListen = cancel
			b.listening.Add(1)
			go func() {
				defer b.listening.Done()
				b.cache.listen(lctx, pool.Config().ConnConfig.Config.Copy(), log)
			}()
		}
	}
	return b, nil
}

// Close implements storage.Backend.
func (b *Backend) Close() error {
	if b.stopListen != nil {
		b.stopListen()
		b.listening.Wait()
	}
	b.pool.Close()
	return nil
}

// CacheReady tells whether the read cache is in use: it is set up and its
// listening connection is up. Tests wait for it.
func (b *Backend) CacheReady() bool { return b.cache.on() }

// CacheStats returns how many reads (objects, list pages) the cache
// answered and how many went to the database since the backend was
// opened.
func (b *Backend) CacheStats() (hits, misses uint64) {
	if b.cache == nil {
		return 0, 0
	}
	return b.cache.hits.Load(), b.cache.misses.Load()
}

// Ping implements storage.Pinger.
func (b *Backend) Ping(ctx context.Context) error { return b.pool.Ping(ctx) }

// View implements storage.Backend.
func (b *Backend) View(ctx context.Context, fn func(storage.Tx) error) error {
	return b.run(ctx, false, fn)
}

// Update implements storage.Backend. A transaction that loses a deadlock
// or a serialization race is retried a few times.
func (b *Backend) Update(ctx context.Context, fn func(storage.Tx) error) error {
	if b.comb != nil {
		return b.update(ctx, fn)
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if err = b.run(ctx, true, fn); !errors.Is(err, storage.ErrConflict) {
			return err
		}
	}
	return err
}

// fnError marks an error returned by the caller's function.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }
func (e fnError) Unwrap() error { return e.err }

func (b *Backend) run(ctx context.Context, write bool, fn func(storage.Tx) error) (err error) {
	if !write {
		lazy := &lazyConn{acq: b.acq, timeout: b.timeout}
		defer lazy.release()
		return fn(&pgTx{layouts: b.layouts, ctx: ctx, tx: lazy, write: false, cache: b.cache})
	}
	bctx, cancel := context.WithTimeout(ctx, b.timeout)
	tx, err := b.pool.BeginTx(bctx, pgx.TxOptions{AccessMode: pgx.ReadWrite})
	cancel()
	if err != nil {
		return wrap("begin", err)
	}
	t := &pgTx{layouts: b.layouts, ctx: ctx, write: write, cache: b.cache, next: &b.nextLocks, queued: []stmt{stampedStmt}}
	t.tx = spTx{t: t, tx: tx}
	err = fn(t)
	t.endCall()
	if err == nil {
		err = t.flushAll()
	}
	if err != nil {
		tx.Rollback(context.Background())
		var fe fnError
		if errors.As(err, &fe) {
			return fe.err
		}
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		// The outcome is unknown: what the transaction touched must not
		// be served from the cache.
		b.cache.invalidate(&t.tc)
		return wrap("commit", err)
	}
	b.cache.invalidate(&t.tc)
	b.wrote(len(t.tc.objects.list) - t.bulkRows)
	b.groups.Add(1)
	b.groupCalls.Add(1)
	return nil
}

// lazyConn takes a pooled connection on its first query, so that a read
// answered from the cache holds none.
type lazyConn struct {
	acq     *acquirer
	timeout time.Duration
	conn    *pgxpool.Conn
}

func (l *lazyConn) get(ctx context.Context) (*pgxpool.Conn, error) {
	if l.conn != nil {
		return l.conn, nil
	}
	actx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	c, err := l.acq.acquire(actx)
	if err != nil {
		return nil, wrap("acquire", err)
	}
	l.conn = c
	return c, nil
}

func (l *lazyConn) release() {
	if l.conn != nil {
		l.conn.Release()
	}
}

func (l *lazyConn) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	c, err := l.get(ctx)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	return c.Exec(ctx, sql, args...)
}

func (l *lazyConn) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	c, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return c.Query(ctx, sql, args...)
}

func (l *lazyConn) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	c, err := l.get(ctx)
	if err != nil {
		return errRow{err}
	}
	return c.QueryRow(ctx, sql, args...)
}

// errRow is a pgx.Row that fails with err.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// readOps are the operations of wrap that look up or filter (their
// refused values come from the request's path or querystring).
var readOps = map[string]bool{"get": true, "exists": true, "list": true, "count": true, "lists": true}

// wrap maps database errors to the storage errors.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "40001", "40P01":
			return storage.ErrConflict
		case "23505":
			return storage.ErrConflict
		case "22021", "22P05", "22003", "22008":
			// Invalid UTF-8 or U+0000 in a parameter or in JSON text, a
			// number out of numeric's range, a timestamp a client sent
			// beyond the timestamp type's (year 294276): the statement's
			// error stays in the chain (a fused round trip tells a
			// refusal by it).
			return &storage.UnstorableError{Read: readOps[op], Err: fmt.Errorf("postgres %s: %w", op, err)}
		case "54000":
			// A B-tree entry over 2,704 bytes (the indexes of declared
			// fields bound theirs: a last resort).
			return fmt.Errorf("postgres %s: %w: %w", op, storage.ErrTooLargeForIndex, err)
		}
	}
	return &storage.BackendError{Op: "postgres " + op, Err: err}
}

var _ storage.StatsReporter = (*Backend)(nil)

// Stats implements storage.StatsReporter: the connection pool and the
// read cache.
func (b *Backend) Stats() []storage.Stat {
	s := b.pool.Stat()
	hits, misses := b.CacheStats()
	return []storage.Stat{
		{Name: "pool_acquired_connections", Help: "Connections in use.", Value: float64(s.AcquiredConns())},
		{Name: "pool_idle_connections", Help: "Idle connections.", Value: float64(s.IdleConns())},
		{Name: "pool_max_connections", Help: "The pool's size.", Value: float64(s.MaxConns())},
		{Name: "pool_acquire_wait_seconds_total", Help: "Time spent waiting for a connection.", Value: s.AcquireDuration().Seconds(), Counter: true},
		{Name: "cache_hits_total", Help: "Reads of objects and list pages answered by the read cache.", Value: float64(hits), Counter: true},
		{Name: "cache_misses_total", Help: "Reads of objects and list pages that went to the database.", Value: float64(misses), Counter: true},
		{Name: "write_transactions_total", Help: "Write transactions committed (each holds one or more combined writes).", Value: float64(b.groups.Load()), Counter: true},
		{Name: "writes_total", Help: "Writes committed; divided by write_transactions_total, how many shared a commit.", Value: float64(b.groupCalls.Load()), Counter: true},
	}
}
