package postgres

import (
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/nimbus-server/nimbus/storage"
)

// The last round trip of a write transaction (flushAll) carries what its
// calls queued: for a group of combined writes, dozens of statements of a
// few shapes (an object's row, its ACL deleted then inserted, again and
// again). Statements of one shape are merged into one statement over
// arrays, so that PostgreSQL plans and runs four statements instead of
// hundreds. Merging reorders (all rows, then all ACL deletions, then all
// ACL insertions), which is safe only when no object and no ACL appears
// twice and nothing else is queued; otherwise the statements go as they
// are.

// stmtKind tells which statements may merge.
type stmtKind int

const (
	kindOther stmtKind = iota
	// kindUpsert writes an object's row (args: id, parent, resource,
	// data, timestamp).
	kindUpsert
	// kindCreate creates an object's row, or revives a tombstone, and
	// fails with a createConflict when a live row holds the id.
	kindCreate
	// kindACLDelete and kindACLInsert replace an object's ACL (args: the
	// object URI; and the permissions and principals).
	kindACLDelete
	kindACLInsert
	// kindStamp writes a list timestamp (one per list already).
	kindStamp
	// kindSetup prepares the transaction (stampedStmt) and goes first.
	kindSetup
)

// The statements writing object rows: one row, or many over arrays; an
// upsert replaces whatever is stored, a creation only a tombstone.
const (
	insertRowSQL = `INSERT INTO objects (id, parent_id, resource_name, data, last_modified, deleted)
	  VALUES ($1, $2, $3, $4::JSONB, from_epoch($5), FALSE)`
	insertRowsSQL = `INSERT INTO objects (id, parent_id, resource_name, data, last_modified, deleted)
	  SELECT i, p, r, d::JSONB, from_epoch(ts), FALSE
	  FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::BIGINT[]) AS t(i, p, r, d, ts)`
	replaceRowSQL = `
	  ON CONFLICT (id, parent_id, resource_name) DO UPDATE
	  SET data = EXCLUDED.data, last_modified = EXCLUDED.last_modified, deleted = FALSE`
	onlyTombstoneSQL = ` WHERE objects.deleted`

	upsertSQL     = insertRowSQL + replaceRowSQL
	createSQL     = insertRowSQL + replaceRowSQL + onlyTombstoneSQL + ` RETURNING TRUE`
	mergedRowsSQL = insertRowsSQL + replaceRowSQL
	// mergedCreatesSQL returns the keys (rowKey) it created or revived.
	mergedCreatesSQL = `WITH created AS (` + insertRowsSQL + replaceRowSQL + onlyTombstoneSQL +
		` RETURNING id || chr(31) || parent_id || chr(31) || resource_name AS k)
	  SELECT COALESCE(array_agg(k), '{}') FROM created`
)

// rowKey names the row a kindUpsert or kindCreate statement writes, as
// mergedCreatesSQL returns it.
func rowKey(st stmt) string {
	return st.args[0].(string) + "\x1f" + st.args[1].(string) + "\x1f" + st.args[2].(string)
}

// upsertStmt writes an object's row.
func upsertStmt(id, parent, resource, data string, ts int64) stmt {
	return stmt{sql: upsertSQL, args: []any{id, parent, resource, data, ts}, kind: kindUpsert}
}

// createStmt creates an object's row of ref (see kindCreate).
func createStmt(ref storage.Ref, id, data string, ts int64) stmt {
	return stmt{sql: createSQL, args: []any{id, ref.Parent, ref.Resource, data, ts}, kind: kindCreate, ref: ref,
		scan: func(r pgx.Row) error {
			var created bool
			if err := r.Scan(&created); errors.Is(err, pgx.ErrNoRows) {
				return &createConflict{ref: ref, id: id}
			} else if err != nil {
				return err
			}
			return nil
		}}
}

// coalesce merges the statements of a last round trip when it is safe.
func coalesce(stmts []stmt) []stmt {
	if len(stmts) < 4 {
		return stmts
	}
	var byKind [kindSetup + 1][]stmt
	rows := map[string]bool{}
	acls := map[string]bool{}
	aclAdds := map[string]bool{}
	for _, st := range stmts {
		switch st.kind {
		case kindOther:
			return stmts
		case kindUpsert, kindCreate:
			k := rowKey(st)
			if rows[k] {
				return stmts
			}
			rows[k] = true
		case kindACLDelete:
			if acls[st.args[0].(string)] {
				return stmts
			}
			acls[st.args[0].(string)] = true
		case kindACLInsert:
			if aclAdds[st.args[0].(string)] {
				return stmts
			}
			aclAdds[st.args[0].(string)] = true
		}
		byKind[st.kind] = append(byKind[st.kind], st)
	}
	out := append(make([]stmt, 0, 8), byKind[kindSetup]...)
	if s := byKind[kindUpsert]; len(s) > 0 {
		out = append(out, mergeRows(s, mergedRowsSQL, nil))
	}
	if s := byKind[kindCreate]; len(s) > 0 {
		out = append(out, mergeCreates(s))
	}
	if s := byKind[kindACLDelete]; len(s) > 0 {
		uris := make([]string, len(s))
		for i, st := range s {
			uris[i] = st.args[0].(string)
		}
		out = append(out, stmt{sql: `DELETE FROM access_control_entries WHERE object_id = ANY($1::TEXT[])`, args: []any{uris}})
	}
	if s := byKind[kindACLInsert]; len(s) > 0 {
		var objs, perms, principals []string
		for _, st := range s {
			ps := st.args[1].([]string)
			for range ps {
				objs = append(objs, st.args[0].(string))
			}
			perms = append(perms, ps...)
			principals = append(principals, st.args[2].([]string)...)
		}
		out = append(out, stmt{sql: `INSERT INTO access_control_entries (object_id, permission, principal)
	  SELECT o, p, pr FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[]) AS t(o, p, pr) ON CONFLICT DO NOTHING`,
			args: []any{objs, perms, principals}})
	}
	return append(out, byKind[kindStamp]...)
}

// mergeRows turns row statements into one statement over arrays.
func mergeRows(s []stmt, sql string, scan func(pgx.Row) error) stmt {
	if len(s) == 1 {
		return s[0]
	}
	ids, parents, resources, data := make([]string, len(s)), make([]string, len(s)), make([]string, len(s)), make([]string, len(s))
	ts := make([]int64, len(s))
	for i, st := range s {
		ids[i], parents[i], resources[i] = st.args[0].(string), st.args[1].(string), st.args[2].(string)
		data[i], ts[i] = st.args[3].(string), st.args[4].(int64)
	}
	return stmt{sql: sql, args: []any{ids, parents, resources, data, ts}, scan: scan}
}

// mergeCreates merges creations: the statement returns the keys it
// created or revived, and a missing one is the conflict of its call.
func mergeCreates(s []stmt) stmt {
	if len(s) == 1 {
		return s[0]
	}
	return mergeRows(s, mergedCreatesSQL, func(r pgx.Row) error {
		var keys []string
		if err := r.Scan(&keys); err != nil {
			return err
		}
		if len(keys) == len(s) {
			return nil
		}
		done := make(map[string]bool, len(keys))
		for _, k := range keys {
			done[k] = true
		}
		for _, st := range s {
			if !done[rowKey(st)] {
				return &createConflict{ref: st.ref, id: st.args[0].(string)}
			}
		}
		return nil
	})
}
