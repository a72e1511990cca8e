package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	"github.com/nimbus-server/nimbus/storage"
)

var _ storage.Indexer = (*Backend)(nil)

// DeclareIndexes implements storage.Indexer. A top-level field gets one
// expression index, (parent_id, resource_name, data -> 'field'), shared
// by every list that declares the field: it is what the pushed-down
// conditions of a list (query.go) use. It is built CONCURRENTLY, outside
// any transaction, so that no writer (Nimbus's or Kinto's) waits for it,
// and PostgreSQL keeps it current on every write, Kinto's included.
// An interrupted build leaves an invalid index, which is dropped and
// built again. Dotted fields get no index here (a dotted filter first
// looks for a key holding the dot, which SQL cannot say): they scan.
// Indexes are not dropped when a collection stops declaring a field,
// since other collections and instances may use them.
func (b *Backend) DeclareIndexes(ctx context.Context, ref storage.Ref, fields []string) error {
	built := false
	for _, f := range fields {
		if !plainField.MatchString(f) {
			continue
		}
		sum := sha256.Sum256([]byte(f))
		name := "nimbus_field_" + hex.EncodeToString(sum[:6])
		var valid bool
		err := b.pool.QueryRow(ctx, `SELECT i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid WHERE c.relname = $1`, name).Scan(&valid)
		switch {
		case err == nil && valid:
			continue
		case err == nil:
			if _, err := b.pool.Exec(ctx, `DROP INDEX CONCURRENTLY IF EXISTS `+name); err != nil {
				return wrap("index", err)
			}
		}
		if _, err := b.pool.Exec(ctx, `CREATE INDEX CONCURRENTLY IF NOT EXISTS `+name+` ON objects (parent_id, resource_name, (data -> '`+f+`'))`); err != nil {
			return wrap("index", err)
		}
		built = true
	}
	if built {
		// The planner needs the expression's statistics to choose it.
		_, err := b.pool.Exec(ctx, `ANALYZE objects`)
		return wrap("index", err)
	}
	return nil
}
