package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nimbus-server/nimbus/storage"
)

var _ storage.Indexer = (*Backend)(nil)

// DeclareIndexes implements storage.Indexer. A field gets two
// expression indexes, shared by every list that declares the field:
// (parent_id, resource_name, <its value>), which the pushed-down
// conditions of a list (query.go) use, and (parent_id, resource_name,
// <its coarse sort key>), which a sort by the field reads in order
// (sortkey.go). It is built CONCURRENTLY, outside
// any transaction, so that no writer (Nimbus's or Kinto's) waits for it,
// and PostgreSQL keeps it current on every write, Kinto's included.
// An interrupted build leaves an invalid index, which is dropped and
// built again. A dotted field's value is the CASE expression of
// storage.Lookup (lookupExpr).
// A field's index is dropped once no collection declares the field any
// more (dropUnused), whichever collection or instance stopped.
//
// PostgreSQL keeps an index's definition in a catalog row of at most 8 kB,
// which the coarse-key expression of a path three levels deep or more
// exceeds: such an index is left out (its queries read the list as
// without it), the others are built, and the error says which.
//
// Every index of a declared field covers the whole objects table, which
// every write of every list (Kinto's too) maintains, and any user who may
// create a collection may declare fields: so the distinct fields with
// indexes are bounded (Options.MaxIndexedFields). A field past the bound
// gets none (storage.ErrIndexLimit: its queries scan, with the same
// answers) until a later declaration of it finds room (the collection's
// next change of its indexes, or the next start).
func (b *Backend) DeclareIndexes(ctx context.Context, ref storage.Ref, fields []string) error {
	// Indexes no collection declares any more go first, so that their
	// room serves the fields declared now (a collection that replaces
	// its fields).
	if err := b.dropUnused(ctx); err != nil {
		return err
	}
	built := false
	var tooLarge []error
	have, err := b.fieldIndexes(ctx)
	if err != nil {
		return err
	}
	for _, f := range fields {
		if !sqlPath(f) {
			continue
		}
		if !have[fieldIndexName(f)] {
			if len(have) >= b.maxIndexed {
				tooLarge = append(tooLarge, fmt.Errorf("no index of %q: %d fields have indexes (storage_max_indexed_fields): %w", f, len(have), storage.ErrIndexLimit))
				continue
			}
			have[fieldIndexName(f)] = true
		}
		expr, _ := fieldExpr(f, nil) // a plain path: no parameter
		for name, create := range map[string]string{
			fieldIndexName(f): `CREATE INDEX CONCURRENTLY IF NOT EXISTS ` + fieldIndexName(f) + ` ON objects ` + fieldIndexDef(expr),
			sortIndexName(f):  sortIndexSQL(f),
		} {
			ok, err := b.ensureIndex(ctx, name, create)
			if errors.Is(err, storage.ErrTooLargeForIndex) {
				tooLarge = append(tooLarge, fmt.Errorf("the index %s of %q, left out: %w", name, f, err))
				continue
			}
			if err != nil {
				return err
			}
			built = built || ok
		}
	}
	if built {
		// The planner needs the expression's statistics to choose it.
		if _, err := b.pool.Exec(ctx, `ANALYZE objects`); err != nil {
			return wrap("index", err)
		}
	}
	return errors.Join(tooLarge...)
}

// DefaultMaxIndexedFields is the bound on indexed fields when
// Options.MaxIndexedFields is 0: two indexes each, on top of Kinto's six
// on the objects table.
const DefaultMaxIndexedFields = 32

// fieldIndexes returns the names of the fields' value indexes that exist
// (valid or not: an interrupted build takes its place until rebuilt).
func (b *Backend) fieldIndexes(ctx context.Context) (map[string]bool, error) {
	rows, err := b.pool.Query(ctx, `SELECT relname FROM pg_class WHERE relkind = 'i' AND relname LIKE 'nimbus\_field\_%'`)
	if err != nil {
		return nil, wrap("index", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, wrap("index", err)
	}
	have := map[string]bool{}
	for _, n := range names {
		have[n] = true
	}
	return have, nil
}

// ensureIndex builds an index unless a valid one has its name (an
// interrupted concurrent build leaves an invalid one, dropped first);
// built tells whether it did. It holds the index's lock (withIndexLock)
// throughout: an index another instance is building is invalid until its
// build ends, and dropping it as a leftover threw that build away (the
// drop waits for the build, then removes the index it made), so
// instances started together on a large table built each index again,
// one after the other.
func (b *Backend) ensureIndex(ctx context.Context, name, create string) (built bool, err error) {
	err = b.withIndexLock(ctx, name, func(conn *pgxpool.Conn) error {
		var valid bool
		err := conn.QueryRow(ctx, `SELECT i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid WHERE c.relname = $1`, name).Scan(&valid)
		switch {
		case err == nil && valid:
			return nil
		case err == nil:
			// Invalid while nobody builds it (the lock is ours): what an
			// interrupted build left.
			if _, err := conn.Exec(ctx, `DROP INDEX CONCURRENTLY IF EXISTS `+name); err != nil {
				return err
			}
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		if _, err := conn.Exec(ctx, create); err != nil {
			return err
		}
		built = true
		return nil
	})
	return built, wrap("index", err)
}

// withIndexLock runs fn on a connection holding the session advisory
// lock of the index name, which every instance takes to build or drop
// that index, and releases it.
func (b *Backend) withIndexLock(ctx context.Context, name string, fn func(*pgxpool.Conn) error) error {
	conn, err := b.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	key := "nimbus index " + name
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended($1, 7))`, key); err != nil {
		return err
	}
	defer func() {
		// On a connection that failed meanwhile the session, and its
		// lock, are gone with it.
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn.Exec(uctx, `SELECT pg_advisory_unlock(hashtextextended($1, 7))`, key) //nolint:errcheck // see above
	}()
	return fn(conn)
}

// fieldIndexName is the name of the expression index of a field; it
// names the index's definition too (see sortIndexName).
func fieldIndexName(field string) string {
	expr, _ := fieldExpr(field, nil)
	sum := sha256.Sum256([]byte(fieldIndexDef(expr)))
	return "nimbus_field_" + hex.EncodeToString(sum[:6])
}

// fieldIndexDef is the definition of a field's expression index, on the
// bounded value (boundedExpr).
func fieldIndexDef(expr string) string {
	return `(parent_id, resource_name, (` + boundedExpr(expr) + `))`
}

// declaredSQL lists the fields some live collection declares.
const declaredSQL = `SELECT DISTINCT f FROM objects,
	  jsonb_array_elements_text(CASE WHEN jsonb_typeof(data -> 'indexes') = 'array' THEN data -> 'indexes' ELSE '[]' END) AS f
	  WHERE resource_name = 'collection' AND NOT deleted AND data ? 'indexes'`

// dropUnused drops the field indexes of fields no collection declares
// any more. Each is checked again right before its drop, so that a
// collection declaring the field meanwhile (on another instance) keeps
// it; should one slip between the two, its queries scan (an index never
// changes an answer) until that instance starts again and rebuilds it.
func (b *Backend) dropUnused(ctx context.Context) error {
	used := func() (map[string]bool, error) {
		rows, err := b.pool.Query(ctx, declaredSQL)
		if err != nil {
			return nil, err
		}
		fields, err := pgx.CollectRows(rows, pgx.RowTo[string])
		names := map[string]bool{}
		for _, f := range fields {
			// A collection may declare any field path; only the
			// paths sqlPath accepts have indexes (DeclareIndexes).
			if sqlPath(f) {
				names[fieldIndexName(f)] = true
				names[sortIndexName(f)] = true
			}
		}
		return names, err
	}
	rows, err := b.pool.Query(ctx, `SELECT relname FROM pg_class WHERE relkind = 'i' AND (relname LIKE 'nimbus\_field\_%' OR relname LIKE 'nimbus\_sort\_%')`)
	if err != nil {
		return wrap("index", err)
	}
	existing, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(existing) == 0 {
		return wrap("index", err)
	}
	names, err := used()
	if err != nil {
		return wrap("index", err)
	}
	for _, name := range existing {
		if names[name] {
			continue
		}
		// Read again right before the drop (the declarations are a scan
		// of the collections, read once more only when there is a drop).
		now, err := used()
		if err != nil {
			return wrap("index", err)
		}
		if now[name] {
			continue
		}
		if err := b.withIndexLock(ctx, name, func(conn *pgxpool.Conn) error {
			_, err := conn.Exec(ctx, `DROP INDEX CONCURRENTLY IF EXISTS `+name)
			return err
		}); err != nil {
			return wrap("index", err)
		}
	}
	return nil
}
