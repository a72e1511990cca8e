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
//
// Merged statements also send their rows' cache notifications themselves
// (pg_notify over the rows they return), with the row triggers of objects
// and access_control_entries silenced meanwhile (nimbus.quiet, read by the
// triggers' WHEN clause): a trigger costs a PL/pgSQL call and a queued
// event per row, as much as a third of the row's insertion. The payloads
// are the triggers' own, so every instance (of any Nimbus version) hears
// the same thing.

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

	upsertSQL = insertRowSQL + replaceRowSQL
	createSQL = insertRowSQL + replaceRowSQL + onlyTombstoneSQL + ` RETURNING TRUE`
	// returningSQL gives what a row's notification names.
	returningSQL = ` RETURNING id, parent_id, resource_name, as_epoch(last_modified) AS lm`
)

// The merged statements, which notify the rows they write.
var (
	// mergedRowsSQL writes rows and notifies each, as a creation when no
	// live row held its key before the statement (old is read in the
	// statement's snapshot, before the insertion), as an update otherwise.
	mergedRowsSQL = `WITH v AS (SELECT * FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::BIGINT[]) AS t(i, p, r, d, ts)),
	  old AS (SELECT o.id, o.parent_id, o.resource_name, o.deleted FROM objects o JOIN v ON o.id = v.i AND o.parent_id = v.p AND o.resource_name = v.r),
	  w AS (INSERT INTO objects (id, parent_id, resource_name, data, last_modified, deleted)
	    SELECT i, p, r, d::JSONB, from_epoch(ts), FALSE FROM v` + replaceRowSQL + returningSQL + `)
	  SELECT count(` + notifySQL(`'o' || w.resource_name || chr(31) || w.parent_id || chr(31) || w.id || chr(31) ||
	    CASE WHEN old.id IS NULL OR old.deleted THEN 'create' ELSE 'update' END || chr(31) || w.lm`) + `)
	  FROM w LEFT JOIN old ON old.id = w.id AND old.parent_id = w.parent_id AND old.resource_name = w.resource_name`
	// mergedCreatesSQL returns the keys (rowKey) it created or revived,
	// and notifies each as a creation.
	mergedCreatesSQL = `WITH created AS (` + insertRowsSQL + replaceRowSQL + onlyTombstoneSQL + returningSQL + `),
	  n AS (SELECT ` + notifySQL(`'o' || resource_name || chr(31) || parent_id || chr(31) || id || chr(31) || 'create' || chr(31) || lm`) + ` FROM created)
	  SELECT COALESCE((SELECT array_agg(id || chr(31) || parent_id || chr(31) || resource_name) FROM created), '{}'), (SELECT count(*) FROM n)`
	// conflictRaiseSQL makes mergedCreatesSQL fail on the server when an
	// id was not created (a live row held it), for a round trip that
	// commits (groupconn.go): a cast of the marker that cannot succeed,
	// evaluated only then (it depends on the count, so the planner cannot
	// fold it ahead).
	conflictRaiseSQL = `, (SELECT ('` + conflictMarker + ` ' || count(*))::INT FROM created HAVING count(*) < cardinality($1::TEXT[]))`
	// aclNotifySQL notifies the ACLs of the URIs it is given.
	aclNotifySQL = `SELECT count(` + notifySQL(`'a' || u`) + `) FROM unnest($1::TEXT[]) AS u`
)

// quietOn and quietOff bracket the merged statements, which notify their
// rows themselves: the triggers skip rows written while nimbus.quiet is
// on (cacheSQL). quietOn also keeps the rest of the transaction on
// generic plans: PostgreSQL otherwise plans the merged row statement
// again on every call (its estimate of a custom plan, which knows the
// arrays' lengths, always wins), which cost more than running it; its
// generic plan reads the existing rows through the primary key all the
// same.
var (
	quietOn  = stmt{sql: `SELECT set_config('nimbus.quiet', 'on', true), set_config('plan_cache_mode', 'force_generic_plan', true)`}
	quietOff = stmt{sql: `SELECT set_config('nimbus.quiet', 'off', true)`}
)

// notifySQL is the SQL notifying payload on the cache channel, as
// nimbus_notify does: a payload over PostgreSQL's limit drops every cache
// instead.
func notifySQL(payload string) string {
	return `pg_notify('` + notifyChannel + `', CASE WHEN octet_length(` + payload + `) > 7900 THEN '*' ELSE ` + payload + ` END)`
}

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

// conflictMarker names, in the server's error, a creation of a merged
// statement that found its id live.
const conflictMarker = "nimbus: an id to create exists"

// coalesce merges the statements of a last round trip when it is safe.
// With raise, merged creations fail on the server on a conflict (for a
// round trip that ends with COMMIT) instead of telling it in their row.
func coalesce(stmts []stmt, raise bool) []stmt {
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
	out := append(make([]stmt, 0, 10), byKind[kindSetup]...)
	out = append(out, quietOn)
	if s := byKind[kindUpsert]; len(s) > 0 {
		out = append(out, mergeRows(s, mergedRowsSQL, nil))
	}
	if s := byKind[kindCreate]; len(s) > 0 {
		out = append(out, mergeCreates(s, raise))
	}
	// The URIs whose ACL changes, each once.
	var notified []string
	for uri := range acls {
		notified = append(notified, uri)
	}
	for uri := range aclAdds {
		if !acls[uri] {
			notified = append(notified, uri)
		}
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
	if len(notified) > 0 {
		out = append(out, stmt{sql: aclNotifySQL, args: []any{notified}})
	}
	out = append(out, quietOff)
	return append(out, byKind[kindStamp]...)
}

// mergeRows turns row statements into one statement over arrays (one
// statement too: the merged forms notify their rows).
func mergeRows(s []stmt, sql string, scan func(pgx.Row) error) stmt {
	ids, parents, resources, data := make([]string, len(s)), make([]string, len(s)), make([]string, len(s)), make([]string, len(s))
	ts := make([]int64, len(s))
	for i, st := range s {
		ids[i], parents[i], resources[i] = st.args[0].(string), st.args[1].(string), st.args[2].(string)
		data[i], ts[i] = st.args[3].(string), st.args[4].(int64)
	}
	return stmt{sql: sql, args: []any{ids, parents, resources, data, ts}, scan: scan}
}

// mergeCreates merges creations: the statement returns the keys it
// created or revived, and a missing one is the conflict of its call (with
// raise, the statement fails instead).
func mergeCreates(s []stmt, raise bool) stmt {
	sql := mergedCreatesSQL
	if raise {
		sql += conflictRaiseSQL
	}
	return mergeRows(s, sql, func(r pgx.Row) error {
		var keys []string
		var notified int64
		dst := []any{&keys, &notified}
		if raise {
			var none *int32
			dst = append(dst, &none)
		}
		if err := r.Scan(dst...); err != nil {
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
