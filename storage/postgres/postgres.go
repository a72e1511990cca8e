// Package postgres is the PostgreSQL storage backend: many stateless Nimbus
// instances can share one database, which uses Kinto 26's own table layout
// (objects, timestamps, access_control_entries, user_principals, metadata),
// so a Kinto database works with Nimbus unchanged and the other way round.
//
// Timestamps stay strictly increasing per list across concurrent
// transactions and instances: a write takes a transaction-scoped advisory
// lock on its list, reads the latest timestamp and stores the next one.
// Lists in timestamp order are keyset queries on the
// (parent_id, resource_name, last_modified) index that stop at the page
// size; other orders are computed from a scan of the list, keeping only the
// page in memory.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nimbus-server/nimbus/storage"
)

// Options tune the connection pool.
type Options struct {
	MaxConns    int32
	PoolTimeout time.Duration
}

// Backend is a storage.Backend on PostgreSQL.
type Backend struct {
	pool    *pgxpool.Pool
	timeout time.Duration
}

var (
	_ storage.Backend = (*Backend)(nil)
	_ storage.Pinger  = (*Backend)(nil)
)

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
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %v", err)
	}
	return pool, nil
}

// Migrate creates the schema on an empty database; a database with a
// schema version Nimbus does not know is refused.
func Migrate(ctx context.Context, url string) (string, error) {
	pool, err := connect(ctx, url, Options{MaxConns: 2})
	if err != nil {
		return "", err
	}
	defer pool.Close()
	sv, pv, err := versions(ctx, pool)
	switch {
	case err != nil:
		return "", err
	case sv == storageVersion && pv == permissionVersion:
		return "schema is up to date (storage 26, permission 2)", nil
	case sv != "" || pv != "":
		return "", fmt.Errorf("postgres: unknown schema versions (storage %q, permission %q); Nimbus knows storage 26 and permission 2", sv, pv)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return "", err
	}
	defer tx.Rollback(ctx)
	for _, stmt := range schemaSQL {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return "", fmt.Errorf("postgres: creating the schema: %v", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return "", err
	}
	return "schema created (storage 26, permission 2)", nil
}

func versions(ctx context.Context, pool *pgxpool.Pool) (string, string, error) {
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('metadata') IS NOT NULL`).Scan(&exists); err != nil {
		return "", "", fmt.Errorf("postgres: %v", err)
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
	return &Backend{pool: pool, timeout: timeout}, nil
}

// Close implements storage.Backend.
func (b *Backend) Close() error { b.pool.Close(); return nil }

// Ping implements storage.Pinger.
func (b *Backend) Ping(ctx context.Context) error { return b.pool.Ping(ctx) }

// View implements storage.Backend.
func (b *Backend) View(ctx context.Context, fn func(storage.Tx) error) error {
	return b.run(ctx, false, fn)
}

// Update implements storage.Backend. A transaction that loses a deadlock
// or a serialization race is retried a few times.
func (b *Backend) Update(ctx context.Context, fn func(storage.Tx) error) error {
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
		actx, cancel := context.WithTimeout(ctx, b.timeout)
		conn, err := b.pool.Acquire(actx)
		cancel()
		if err != nil {
			return wrap("acquire", err)
		}
		defer conn.Release()
		return fn(&pgTx{ctx: ctx, tx: conn, write: false})
	}
	bctx, cancel := context.WithTimeout(ctx, b.timeout)
	tx, err := b.pool.BeginTx(bctx, pgx.TxOptions{AccessMode: pgx.ReadWrite})
	cancel()
	if err != nil {
		return wrap("begin", err)
	}
	t := &pgTx{ctx: ctx, tx: tx, write: write}
	if err := fn(t); err != nil {
		tx.Rollback(context.Background())
		var fe fnError
		if errors.As(err, &fe) {
			return fe.err
		}
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return wrap("commit", err)
	}
	return nil
}

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
		}
	}
	return &storage.BackendError{Op: "postgres " + op, Err: err}
}
