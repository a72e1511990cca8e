package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/nimbus-server/nimbus/storage"
)

var _ storage.BulkWriter = (*pgTx)(nil)

// WriteMany implements storage.BulkWriter: the list is locked and its
// timestamp read once, then every row, every ACL entry and the list's new
// timestamp go in one round trip of a few array statements, instead of
// three round trips per object. Kinto's and Nimbus's row triggers still
// run for each row (timestamps, notifications).
func (t *pgTx) WriteMany(ref storage.Ref, objs []storage.BulkObject, uri func(id string) string) error {
	t.prefetched = nil
	if err := t.writable(); err != nil {
		return err
	}
	if len(objs) == 0 {
		return nil
	}
	var cur int64
	var stmts []stmt
	ids := make([]string, 0, len(objs))
	for _, o := range objs {
		ids = append(ids, storage.ID(o.Object))
	}
	// What is stored under them: a replaced object's timestamp follows
	// Replace's rule, a new one Create's, and SkipSame compares versions.
	stored := map[string]storage.Object{}
	storedStmt := stmt{sql: `SELECT coalesce(array_agg(id), '{}'), coalesce(array_agg(as_epoch(last_modified)), '{}'), coalesce(array_agg(deleted), '{}')
	  FROM objects WHERE ` + t.listCond(ref) + ` AND id = ANY($3)`,
		args: []any{ref.Parent, ref.Resource, ids},
		scan: func(r pgx.Row) error {
			var found []string
			var stamps []int64
			var gone []bool
			if err := r.Scan(&found, &stamps, &gone); err != nil {
				return err
			}
			for i, id := range found {
				stored[id] = version(stamps[i], gone[i])
			}
			return nil
		}}
	if st, needLock := t.lockStmt(ref); needLock {
		stmts = append(stmts, st)
		t.markLocked(ref)
	}
	if known := t.locked[lockKey(ref)]; known != nil {
		cur = *known
	} else {
		stmts = append(stmts, t.listTSStmt(ref, &cur))
	}
	stmts = append(stmts, storedStmt)
	if err := t.roundTrip("write", stmts...); err != nil {
		return err
	}
	if t.ownACLs == nil {
		t.ownACLs = map[string]storage.ACL{}
	}
	// An id given twice is stored once, as its last occurrence written
	// (one statement cannot write a row twice), with the timestamps the
	// occurrences would get one by one.
	type row struct {
		data string
		ts   int64
		gone bool
		acl  storage.ACL
	}
	rows := make(map[string]row, len(objs))
	var order []string
	for i, o := range objs {
		obj := o.Object
		id := storage.ID(obj)
		if id == "" {
			return storage.ErrInvalidObject
		}
		prev := stored[id]
		if o.SkipSame && storage.SameVersion(prev, obj) {
			objs[i].Skipped = true
			continue
		}
		gone := storage.IsDeleted(obj)
		var ts, list int64
		if gone {
			// As WriteTombstone: the sent timestamp only when newer.
			sent := sentTimestamp(obj)
			if sent <= cur {
				sent = 0
			}
			ts, list = storage.NextTimestamp(cur, sent, false)
		} else {
			ts, list = storage.NextTimestamp(cur, sentTimestamp(obj), prev == nil || storage.IsDeleted(prev))
		}
		cur = list
		stored[id] = version(ts, gone)
		r := row{data: `{"deleted": true}`, ts: ts, gone: true}
		if !gone {
			b, err := dataOf(obj)
			if err != nil {
				return err
			}
			r = row{data: string(b), ts: ts, acl: o.ACL}
		}
		if _, seen := rows[id]; !seen {
			order = append(order, id)
		}
		rows[id] = r
	}
	if len(order) == 0 {
		return nil
	}
	n := len(order)
	parents, datas := make([]string, 0, n), make([]string, 0, n)
	stamps, deleted, uris := make([]int64, 0, n), make([]bool, 0, n), make([]string, 0, n)
	var entryURIs, perms, principals []string
	for _, id := range order {
		r := rows[id]
		u := uri(id)
		parents, datas = append(parents, t.rowParent(ref, id)), append(datas, r.data)
		stamps, deleted, uris = append(stamps, r.ts), append(deleted, r.gone), append(uris, u)
		for perm, ps := range r.acl {
			for _, p := range ps {
				entryURIs, perms, principals = append(entryURIs, u), append(perms, perm), append(principals, p)
			}
		}
		t.tc.addObject(objKey{resource: ref.Resource, parent: t.rowParent(ref, id), id: id})
		t.bulkRows++
		t.tc.addACL(u)
		t.ownACLs[u] = storedACL(r.acl)
	}
	ids = order
	stmts = []stmt{
		// The rows' own notifications are skipped (bulkStmt); one that
		// drops every cache goes instead.
		bulkStmt(true),
		{sql: `INSERT INTO objects (id, parent_id, resource_name, data, last_modified, deleted)
	  SELECT id, parent_id, $1, data::JSONB, from_epoch(ts), gone
	  FROM unnest($2::TEXT[], $3::TEXT[], $4::TEXT[], $5::BIGINT[], $6::BOOLEAN[]) AS r(id, parent_id, data, ts, gone)
	  ON CONFLICT (id, parent_id, resource_name) DO UPDATE
	  SET data = EXCLUDED.data, last_modified = EXCLUDED.last_modified, deleted = EXCLUDED.deleted`,
			args: []any{ref.Resource, ids, parents, datas, stamps, deleted}},
		{sql: `DELETE FROM access_control_entries WHERE object_id = ANY($1::TEXT[])`, args: []any{uris}},
	}
	if len(perms) > 0 {
		stmts = append(stmts, stmt{sql: `INSERT INTO access_control_entries (object_id, permission, principal)
	  SELECT object_id, perm, principal FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[]) AS t(object_id, perm, principal)
	  ON CONFLICT DO NOTHING`, args: []any{entryURIs, perms, principals}})
	}
	stmts = append(stmts, bulkStmt(false), t.setListTSStmt(ref, ids[len(ids)-1], cur))
	return t.roundTrip("write", stmts...)
}

var (
	_ storage.Analyzer   = (*Backend)(nil)
	_ storage.BulkSyncer = (*Backend)(nil)
)

// Sync implements storage.BulkSyncer. A transaction that has a
// transaction id commits with a flush of the log up to its commit record,
// and so of every commit before it, the asynchronous ones of WriteMany
// included.
func (b *Backend) Sync(ctx context.Context) error {
	tx, err := b.pool.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return wrap("sync", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit, a no-op
	for _, q := range []string{`SET LOCAL synchronous_commit = on`, `SELECT pg_current_xact_id()`} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return wrap("sync", err)
		}
	}
	return wrap("sync", tx.Commit(ctx))
}

// Analyze implements storage.Analyzer: it refreshes the planner's
// statistics of the tables a bulk load grew. Until autovacuum comes by,
// a table loaded in one go still looks empty to the planner, which then
// scans it whole for every lookup by id.
func (b *Backend) Analyze(ctx context.Context) error {
	_, err := b.pool.Exec(ctx, `ANALYZE objects, access_control_entries, timestamps`)
	return wrap("analyze", err)
}

// bulkStmt turns the per-row cache notifications of the transaction off
// (cacheSQL's triggers read nimbus.bulk) or back on; turning them back on
// notifies every instance that anything may have changed ("*"), which a
// bulk write pays once instead of three notifications per object.
//
// A bulk transaction also commits without waiting for its log to reach
// disk (storage.BulkWriter's contract): Sync makes it durable.
func bulkStmt(on bool) stmt {
	if on {
		return stmt{sql: `SELECT set_config('nimbus.bulk', 'on', true), set_config('synchronous_commit', 'off', true)`}
	}
	return stmt{sql: `SELECT set_config('nimbus.bulk', 'off', true), pg_notify('` + notifyChannel + `', '*')`}
}

// version is what SameVersion compares of a stored row.
func version(lm int64, deleted bool) storage.Object {
	o := storage.Object{"last_modified": lm}
	if deleted {
		o["deleted"] = true
	}
	return o
}
