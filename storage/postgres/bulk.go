package postgres

import (
	"context"
	"errors"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/nimbus-server/nimbus/storage"
)

var _ storage.BulkWriter = (*pgTx)(nil)

// WriteMany implements storage.BulkWriter: the list is locked and its
// timestamp read once, then the rows go in a round trip of a few array
// statements, the ACL entries in a COPY and the list's new timestamp in a
// last round trip, instead of three round trips per object. Kinto's and
// Nimbus's row triggers still run for each row (timestamps,
// notifications).
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
	existed := map[string]bool{}
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
				existed[id] = true
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
	// New rows and rows replacing stored ones go in two statements: a
	// plain INSERT costs PostgreSQL a fifth less than an upsert, and the
	// list's lock keeps other writers from creating these ids meanwhile
	// (an id created anyway fails the page, which runs again).
	var fresh, replaced rowArrays
	uris := make([]string, 0, n)
	var entryURIs, perms, principals []string
	// entries keeps each ACL entry of the page once (the table's key).
	type entry struct{ uri, perm, principal string }
	entries := map[entry]struct{}{}
	for _, id := range order {
		r := rows[id]
		u := uri(id)
		into := &fresh
		if existed[id] {
			into = &replaced
		}
		into.add(id, t.rowParent(ref, id), r.data, r.ts, r.gone)
		uris = append(uris, u)
		for perm, ps := range r.acl {
			for _, p := range ps {
				e := entry{u, perm, p}
				if _, dup := entries[e]; dup {
					continue
				}
				entries[e] = struct{}{}
				entryURIs, perms, principals = append(entryURIs, u), append(perms, perm), append(principals, p)
			}
		}
		t.tc.addObject(objKey{resource: ref.Resource, parent: t.rowParent(ref, id), id: id})
		t.bulkRows++
		t.tc.addACL(u)
		t.ownACLs[u] = storedACL(r.acl)
	}
	ids = order
	// The rows' own notifications are skipped (bulkStmt); one that drops
	// every cache goes instead.
	stmts = []stmt{bulkStmt(true)}
	if len(fresh.ids) > 0 {
		stmts = append(stmts, stmt{sql: bulkRowsSQL, args: fresh.args(ref.Resource)})
	}
	if len(replaced.ids) > 0 {
		stmts = append(stmts, stmt{sql: bulkRowsSQL + `
	  ON CONFLICT (id, parent_id, resource_name) DO UPDATE
	  SET data = EXCLUDED.data, last_modified = EXCLUDED.last_modified, deleted = EXCLUDED.deleted`,
			args: replaced.args(ref.Resource)})
	}
	stmts = append(stmts, stmt{sql: `DELETE FROM access_control_entries WHERE object_id = ANY($1::TEXT[])`, args: []any{uris}})
	last := []stmt{bulkStmt(false), t.setListTSStmt(ref, ids[len(ids)-1], cur)}
	if len(perms) == 0 {
		return t.roundTrip("write", append(stmts, last...)...)
	}
	// The entries are copied (COPY), once the rows are written and the
	// page's old entries deleted: PostgreSQL then fills its table pages
	// many rows at a time, where an INSERT writes, and logs, one row at a
	// time (a third less time for the entries, the largest statement of an
	// import). The page's entries are unique (entries, above) and none of
	// its objects has any left, so no conflict is expected; one that
	// happens fails the page, which the caller's transaction runs again.
	cp, ok := t.tx.(copier)
	if !ok {
		return &storage.BackendError{Op: "postgres write", Err: errors.New("not a write transaction")}
	}
	if err := t.roundTrip("write", stmts...); err != nil {
		return err
	}
	src := pgx.CopyFromSlice(len(perms), func(i int) ([]any, error) {
		return []any{entryURIs[i], perms[i], principals[i]}, nil
	})
	if _, err := cp.CopyFrom(t.ctx, pgx.Identifier{"access_control_entries"}, []string{"object_id", "permission", "principal"}, src); err != nil {
		return wrap("write", err)
	}
	return t.roundTrip("write", last...)
}

// bulkRowsSQL inserts the rows of rowArrays.args.
const bulkRowsSQL = `INSERT INTO objects (id, parent_id, resource_name, data, last_modified, deleted)
	  SELECT id, parent_id, $1, data::JSONB, from_epoch(ts), gone
	  FROM unnest($2::TEXT[], $3::TEXT[], $4::TEXT[], $5::BIGINT[], $6::BOOLEAN[]) AS r(id, parent_id, data, ts, gone)`

// rowArrays are the columns of rows written by one array statement.
type rowArrays struct {
	ids, parents, datas []string
	stamps              []int64
	deleted             []bool
}

func (a *rowArrays) add(id, parent, data string, ts int64, gone bool) {
	a.ids, a.parents, a.datas = append(a.ids, id), append(a.parents, parent), append(a.datas, data)
	a.stamps, a.deleted = append(a.stamps, ts), append(a.deleted, gone)
}

func (a *rowArrays) args(resource string) []any {
	return []any{resource, a.ids, a.parents, a.datas, a.stamps, a.deleted}
}

// copier can COPY rows in: spTx, and every connection it sends on
// (txConn).
type copier interface {
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
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
	return b.analyze(ctx, 0)
}

// analyze runs ANALYZE on Nimbus's tables; a target above zero is the
// statistics target of the columns that have none of their own, for this
// analysis only (a smaller sample, fewer common values), zero the
// server's.
func (b *Backend) analyze(ctx context.Context, target int) error {
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		return wrap("analyze", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit, a no-op
	if target > 0 {
		if _, err := tx.Exec(ctx, `SET LOCAL default_statistics_target = `+strconv.Itoa(target)); err != nil {
			return wrap("analyze", err)
		}
	}
	if _, err := tx.Exec(ctx, `ANALYZE objects, access_control_entries, timestamps`); err != nil {
		return wrap("analyze", err)
	}
	return wrap("analyze", tx.Commit(ctx))
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
