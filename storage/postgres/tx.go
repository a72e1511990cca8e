package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/nimbus-server/nimbus/storage"
)

// querier is what a transaction or a pooled connection offers.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// pgTx implements storage.Tx in one PostgreSQL transaction, or, for
// reads, on one pooled connection: under READ COMMITTED a read-only
// transaction adds two round trips and no consistency.
type pgTx struct {
	ctx   context.Context
	tx    querier
	write bool
	sp    int
	// cache serves reads of a read-only transaction; a write transaction
	// notes in tc what it changed, to drop it from the cache on commit.
	cache  *cache
	tc     touched
	synced int8 // 0: not asked yet, 1: cache usable, -1: not usable
	// locked holds the lists whose advisory lock this transaction holds,
	// with their timestamp once read (only this transaction can change it
	// while the lock is held).
	locked map[string]*int64
	// ownACLs holds the ACLs this transaction set.
	ownACLs map[string]storage.ACL
	// pendingSP is a savepoint not sent yet; sentSP the ones sent.
	pendingSP int
	sentSP    map[int]bool
}

// cached tells whether reads of this transaction may use the cache; the
// first call waits for the cache to have heard of every change committed
// before it (cache.sync). A write transaction reads through the cache only
// what it has not written itself (see the callers), and never the objects
// it may write: those it reads from the database.
func (t *pgTx) cached() bool {
	if !t.cache.on() {
		return false
	}
	if t.synced == 0 {
		t.synced = -1
		if t.cache.sync(t.ctx) {
			t.synced = 1
		}
	}
	return t.synced == 1
}

var (
	_ storage.Tx          = (*pgTx)(nil)
	_ storage.Savepointer = (*pgTx)(nil)
)

func (t *pgTx) Context() context.Context { return t.ctx }

func (t *pgTx) writable() error {
	if !t.write {
		return storage.ErrReadOnly
	}
	return nil
}

func (t *pgTx) exec(op, sql string, args ...any) error {
	return t.roundTrip(op, stmt{sql: sql, args: args})
}

// Savepoint implements storage.Savepointer.
// The SAVEPOINT statement is sent with the first write that follows, in
// the same round trip: a sub-request that writes nothing costs none.
func (t *pgTx) Savepoint() int {
	t.sp++
	t.pendingSP = t.sp
	return t.sp
}

// spTx is a write transaction's querier: it sends a pending savepoint
// before any statement (roundTrip sends it in its own batch instead).
type spTx struct {
	t  *pgTx
	tx pgx.Tx
}

func (s spTx) flush(ctx context.Context) error {
	for _, st := range s.t.savepointStmts() {
		if _, err := s.tx.Exec(ctx, st.sql); err != nil {
			return err
		}
	}
	return nil
}

func (s spTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := s.flush(ctx); err != nil {
		return pgconn.CommandTag{}, err
	}
	return s.tx.Exec(ctx, sql, args...)
}

func (s spTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := s.flush(ctx); err != nil {
		return nil, err
	}
	return s.tx.Query(ctx, sql, args...)
}

func (s spTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if err := s.flush(ctx); err != nil {
		return errRow{err}
	}
	return s.tx.QueryRow(ctx, sql, args...)
}

func (s spTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	return s.tx.SendBatch(ctx, b)
}

// savepointStmts is the pending SAVEPOINT, if any, to send first.
func (t *pgTx) savepointStmts() []stmt {
	if t.pendingSP == 0 {
		return nil
	}
	if t.sentSP == nil {
		t.sentSP = map[int]bool{}
	}
	t.sentSP[t.pendingSP] = true
	st := stmt{sql: fmt.Sprintf("SAVEPOINT nimbus_sp_%d", t.pendingSP)}
	t.pendingSP = 0
	return []stmt{st}
}

// RollbackTo implements storage.Savepointer.
func (t *pgTx) RollbackTo(sp int) error {
	if sp <= 0 {
		return nil
	}
	if t.pendingSP >= sp {
		t.pendingSP = 0
	}
	// A savepoint never sent had no write after it until the next one
	// that was sent: rolling back to that one is the same.
	target := 0
	for n := range t.sentSP {
		if n >= sp && (target == 0 || n < target) {
			target = n
		}
	}
	if target == 0 {
		return nil // nothing was written since sp
	}
	for n := range t.sentSP {
		if n > target {
			delete(t.sentSP, n)
		}
	}
	// Locks taken since the savepoint are released with it, and what it
	// wrote is undone.
	t.locked, t.ownACLs = nil, nil
	_, err := t.tx.Exec(t.ctx, fmt.Sprintf("ROLLBACK TO SAVEPOINT nimbus_sp_%d", target))
	return wrap("rollback to savepoint", err)
}

// row turns a stored row into an object: data plus id and last_modified.
func row(id string, data []byte, lm int64, deleted bool) (storage.Object, error) {
	if deleted {
		return storage.Object{"id": id, "last_modified": lm, "deleted": true}, nil
	}
	v, err := storage.DecodeJSON(data)
	if err != nil {
		return nil, &storage.BackendError{Op: "postgres decode", Err: err}
	}
	o, ok := v.(map[string]any)
	if !ok {
		return nil, &storage.BackendError{Op: "postgres decode", Err: errors.New("data is not an object")}
	}
	o["id"], o["last_modified"] = id, lm
	return o, nil
}

func (t *pgTx) stored(ref storage.Ref, id string, lock bool) (storage.Object, error) {
	q := `SELECT data, as_epoch(last_modified), deleted FROM objects WHERE id = $1 AND parent_id = $2 AND resource_name = $3`
	if lock {
		q += ` FOR UPDATE`
	}
	var data []byte
	var lm int64
	var deleted bool
	err := t.tx.QueryRow(t.ctx, q, id, rowParent(ref, id), ref.Resource).Scan(&data, &lm, &deleted)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap("get", err)
	}
	return row(id, data, lm, deleted)
}

// cachedStored is stored for a read-only transaction, through the cache.
func (t *pgTx) cachedStored(ref storage.Ref, id string) (storage.Object, error) {
	k := objKey{resource: ref.Resource, parent: rowParent(ref, id), id: id}
	if t.tc.hasObject(k) || !t.cached() {
		return t.stored(ref, id, false)
	}
	if r, ok := t.cache.getObject(k); ok {
		t.cache.hits.Add(1)
		if !r.found {
			return nil, nil
		}
		return row(id, r.data, r.lm, r.deleted)
	}
	t.cache.misses.Add(1)
	gen := t.cache.gen.Load()
	var r cachedRow
	err := t.tx.QueryRow(t.ctx, `SELECT data, as_epoch(last_modified), deleted FROM objects WHERE id = $1 AND parent_id = $2 AND resource_name = $3`,
		id, rowParent(ref, id), ref.Resource).Scan(&r.data, &r.lm, &r.deleted)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		t.cache.putObject(k, r, gen)
		return nil, nil
	case err != nil:
		return nil, wrap("get", err)
	}
	r.found = true
	t.cache.putObject(k, r, gen)
	return row(id, r.data, r.lm, r.deleted)
}

func (t *pgTx) Get(ref storage.Ref, id string) (storage.Object, error) {
	get := t.cachedStored
	if t.write {
		// What a write checks (If-Match, existence before a create) comes
		// from the database.
		get = func(ref storage.Ref, id string) (storage.Object, error) { return t.stored(ref, id, false) }
	}
	o, err := get(ref, id)
	if err != nil {
		return nil, err
	}
	if o == nil || storage.IsDeleted(o) {
		return nil, storage.ErrNotFound
	}
	return o, nil
}

func (t *pgTx) Exists(ref storage.Ref, id string) (bool, error) {
	if k := (objKey{resource: ref.Resource, parent: rowParent(ref, id), id: id}); !t.tc.hasObject(k) && t.cached() {
		o, err := t.cachedStored(ref, id)
		return o != nil && !storage.IsDeleted(o), err
	}
	var ok bool
	err := t.tx.QueryRow(t.ctx, `SELECT EXISTS (SELECT 1 FROM objects WHERE id = $1 AND parent_id = $2 AND resource_name = $3 AND NOT deleted)`,
		id, rowParent(ref, id), ref.Resource).Scan(&ok)
	return ok, wrap("exists", err)
}

// Kinto stores each account under its own id as parent_id (so that a
// user's plural endpoint lists their account only), where Nimbus keeps
// all accounts in one list (parent ""). The rows are written and read the
// Kinto way, so both servers share them.
func selfParented(ref storage.Ref) bool { return ref.Resource == "account" && ref.Parent == "" }

// rowParent is the parent_id the row of object id of ref is stored under.
func rowParent(ref storage.Ref, id string) string {
	if selfParented(ref) {
		return id
	}
	return ref.Parent
}

// listCond is the SQL condition selecting the rows of ref's list, with
// the parent as parameter $1 and the resource name as $2.
func listCond(ref storage.Ref) string {
	if selfParented(ref) {
		return `parent_id = id AND $1::TEXT = '' AND resource_name = $2`
	}
	return `parent_id = $1 AND resource_name = $2`
}

// lock serialises the writers of one list, across instances, until the
// transaction ends.
func (t *pgTx) lock(ref storage.Ref) error {
	if st, ok := t.lockStmt(ref); ok {
		if err := t.exec("lock", st.sql, st.args...); err != nil {
			return err
		}
		t.markLocked(ref)
	}
	return nil
}

// lockStmt is the statement taking ref's lock, unless it is held already.
func (t *pgTx) lockStmt(ref storage.Ref) (stmt, bool) {
	key := ref.Parent + " " + ref.Resource
	if _, held := t.locked[key]; held {
		return stmt{}, false
	}
	return stmt{sql: `SELECT pg_advisory_xact_lock(hashtextextended($1, 7))`, args: []any{key}}, true
}

func (t *pgTx) markLocked(ref storage.Ref) {
	key := ref.Parent + " " + ref.Resource
	if _, held := t.locked[key]; held {
		return
	}
	if t.locked == nil {
		t.locked = map[string]*int64{}
	}
	t.locked[key] = nil
}

// stmt is one statement of a round trip; scan reads its row (nil: the
// statement returns none).
type stmt struct {
	sql  string
	args []any
	scan func(pgx.Row) error
}

// batcher is a transaction that sends several statements at once.
type batcher interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// roundTrip runs statements in order, in one round trip when the
// connection allows it, and returns the first error.
func (t *pgTx) roundTrip(op string, stmts ...stmt) error {
	if t.pendingSP != 0 {
		stmts = append(t.savepointStmts(), stmts...)
	}
	sb, ok := t.tx.(batcher)
	if !ok || len(stmts) == 1 {
		for _, st := range stmts {
			var err error
			if st.scan != nil {
				err = st.scan(t.tx.QueryRow(t.ctx, st.sql, st.args...))
			} else {
				_, err = t.tx.Exec(t.ctx, st.sql, st.args...)
			}
			if err != nil {
				return wrap(op, err)
			}
		}
		return nil
	}
	b := &pgx.Batch{}
	for _, st := range stmts {
		b.Queue(st.sql, st.args...)
	}
	br := sb.SendBatch(t.ctx, b)
	var first error
	for _, st := range stmts {
		if st.scan != nil {
			first = st.scan(br.QueryRow())
		} else {
			_, first = br.Exec()
		}
		if first != nil {
			break
		}
	}
	if err := br.Close(); first == nil {
		first = err
	}
	return wrap(op, first)
}

// knownTS remembers the timestamp of a locked list.
func (t *pgTx) knownTS(ref storage.Ref, ts int64) {
	key := ref.Parent + " " + ref.Resource
	if _, held := t.locked[key]; held {
		t.locked[key] = &ts
	}
}

// listTS returns the list's current timestamp (0 when it never had one).
func (t *pgTx) listTS(ref storage.Ref) (int64, error) {
	if known := t.locked[ref.Parent+" "+ref.Resource]; known != nil {
		return *known, nil
	}
	var ts int64
	if err := t.roundTrip("timestamp", t.listTSStmt(ref, &ts)); err != nil {
		return 0, err
	}
	return ts, nil
}

// listTSStmt reads the list's current timestamp into dst (0 when it never
// had one), remembering it while the list is locked.
func (t *pgTx) listTSStmt(ref storage.Ref, dst *int64) stmt {
	tsCond := `parent_id = $1 AND resource_name = $2`
	if selfParented(ref) {
		tsCond = `$1::TEXT = '' AND resource_name = $2`
	}
	return stmt{sql: `SELECT GREATEST(
	    (SELECT as_epoch(last_modified) FROM objects WHERE ` + listCond(ref) + ` ORDER BY last_modified DESC LIMIT 1),
	    (SELECT MAX(as_epoch(last_modified)) FROM timestamps WHERE ` + tsCond + `))`, args: []any{ref.Parent, ref.Resource},
		scan: func(r pgx.Row) error {
			var ts *int64
			if err := r.Scan(&ts); err != nil {
				return err
			}
			*dst = 0
			if ts != nil {
				*dst = *ts
			}
			t.knownTS(ref, *dst)
			return nil
		}}
}

// setListTS records the list timestamp; id names the object written, whose
// row parent holds the timestamp of a self-parented list ("" for none).
func (t *pgTx) setListTS(ref storage.Ref, id string, ts int64) error {
	return t.roundTrip("timestamp", t.setListTSStmt(ref, id, ts))
}

func (t *pgTx) setListTSStmt(ref storage.Ref, id string, ts int64) stmt {
	t.knownTS(ref, ts)
	return stmt{sql: `INSERT INTO timestamps (parent_id, resource_name, last_modified) VALUES ($1, $2, from_epoch($3))
	  ON CONFLICT (parent_id, resource_name) DO UPDATE SET last_modified = GREATEST(timestamps.last_modified, EXCLUDED.last_modified)`,
		args: []any{rowParent(ref, id), ref.Resource, ts}}
}

// lockAndRead takes ref's lock (unless held), locks and reads the stored
// row of id and the list timestamp, in one round trip.
func (t *pgTx) lockAndRead(ref storage.Ref, id string) (storage.Object, int64, error) {
	var stmts []stmt
	lockSt, needLock := t.lockStmt(ref)
	if needLock {
		stmts = append(stmts, lockSt)
	}
	var r cachedRow
	stmts = append(stmts, stmt{sql: `SELECT data, as_epoch(last_modified), deleted FROM objects WHERE id = $1 AND parent_id = $2 AND resource_name = $3 FOR UPDATE`,
		args: []any{id, rowParent(ref, id), ref.Resource},
		scan: func(row pgx.Row) error {
			err := row.Scan(&r.data, &r.lm, &r.deleted)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			r.found = err == nil
			return err
		}})
	var cur int64
	known := t.locked[ref.Parent+" "+ref.Resource]
	if known != nil {
		cur = *known
	} else {
		stmts = append(stmts, t.listTSStmt(ref, &cur))
	}
	if needLock {
		// listTSStmt remembers the timestamp only for a held lock.
		t.markLocked(ref)
	}
	if err := t.roundTrip("write", stmts...); err != nil {
		return nil, 0, err
	}
	if !r.found {
		return nil, cur, nil
	}
	o, err := row(id, r.data, r.lm, r.deleted)
	return o, cur, err
}

func sentTimestamp(obj storage.Object) int64 {
	i, ok := storage.Int(obj["last_modified"])
	if !ok || i <= 0 {
		return 0
	}
	return i
}

func dataOf(obj storage.Object) ([]byte, error) {
	d := make(map[string]any, len(obj))
	for k, v := range obj {
		if k != "id" && k != "last_modified" && k != "deleted" {
			d[k] = v
		}
	}
	return storage.AppendJSON(nil, d)
}

func (t *pgTx) put(ref storage.Ref, obj storage.Object, create bool) (storage.Object, error) {
	if err := t.writable(); err != nil {
		return nil, err
	}
	id := storage.ID(obj)
	if id == "" {
		return nil, storage.ErrInvalidObject
	}
	prev, cur, err := t.lockAndRead(ref, id)
	if err != nil {
		return nil, err
	}
	live := prev != nil && !storage.IsDeleted(prev)
	if create && live {
		return nil, &storage.UnicityError{Field: "id", Existing: prev}
	}
	objTS, listTS := storage.NextTimestamp(cur, sentTimestamp(obj), create || !live)
	data, err := dataOf(obj)
	if err != nil {
		return nil, err
	}
	t.tc.objects = append(t.tc.objects, objKey{resource: ref.Resource, parent: rowParent(ref, id), id: id})
	err = t.roundTrip("write", stmt{sql: `INSERT INTO objects (id, parent_id, resource_name, data, last_modified, deleted)
	  VALUES ($1, $2, $3, $4::JSONB, from_epoch($5), FALSE)
	  ON CONFLICT (id, parent_id, resource_name) DO UPDATE
	  SET data = EXCLUDED.data, last_modified = EXCLUDED.last_modified, deleted = FALSE`,
		args: []any{id, rowParent(ref, id), ref.Resource, string(data), objTS}},
		t.setListTSStmt(ref, id, listTS))
	if err != nil {
		return nil, err
	}
	out := make(storage.Object, len(obj)+1)
	for k, v := range obj {
		out[k] = v
	}
	delete(out, "deleted")
	out["last_modified"] = objTS
	return out, nil
}

func (t *pgTx) Create(ref storage.Ref, obj storage.Object) (storage.Object, error) {
	return t.put(ref, obj, true)
}

func (t *pgTx) Replace(ref storage.Ref, obj storage.Object) (storage.Object, error) {
	return t.put(ref, obj, false)
}

func (t *pgTx) Delete(ref storage.Ref, id string, lastModified int64) (storage.Object, error) {
	if err := t.writable(); err != nil {
		return nil, err
	}
	prev, cur, err := t.lockAndRead(ref, id)
	if err != nil {
		return nil, err
	}
	if prev == nil || storage.IsDeleted(prev) {
		return nil, storage.ErrNotFound
	}
	var sent int64
	if lastModified > cur {
		sent = lastModified
	}
	ts, _ := storage.NextTimestamp(cur, sent, false)
	t.tc.objects = append(t.tc.objects, objKey{resource: ref.Resource, parent: rowParent(ref, id), id: id})
	err = t.roundTrip("delete", stmt{sql: `UPDATE objects SET deleted = TRUE, data = '{"deleted": true}'::JSONB, last_modified = from_epoch($4)
	  WHERE id = $1 AND parent_id = $2 AND resource_name = $3`, args: []any{id, rowParent(ref, id), ref.Resource, ts}},
		t.setListTSStmt(ref, id, ts))
	if err != nil {
		return nil, err
	}
	return storage.Object{"id": id, "last_modified": ts, "deleted": true}, nil
}

func (t *pgTx) DeleteMany(ref storage.Ref, q storage.Query) ([]storage.Object, error) {
	if err := t.writable(); err != nil {
		return nil, err
	}
	return storage.DeleteMatching(t, ref, q)
}

func (t *pgTx) Timestamp(ref storage.Ref) (int64, error) {
	ts, err := t.listTS(ref)
	if err != nil || ts != 0 || !t.write {
		return ts, err
	}
	if err := t.lock(ref); err != nil {
		return 0, err
	}
	if ts, err = t.listTS(ref); err != nil || ts != 0 {
		return ts, err
	}
	ts = time.Now().UnixMilli()
	return ts, t.setListTS(ref, "", ts)
}

// scan runs a query returning (id, data, epoch, deleted) rows and hands
// each object to fn until it returns false.
func (t *pgTx) scan(sql string, args []any, fn func(storage.Object) bool) error {
	rows, err := t.tx.Query(t.ctx, sql, args...)
	if err != nil {
		return wrap("list", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var data []byte
		var lm int64
		var deleted bool
		if err := rows.Scan(&id, &data, &lm, &deleted); err != nil {
			return wrap("list", err)
		}
		o, err := row(id, data, lm, deleted)
		if err != nil {
			return err
		}
		if !fn(o) {
			break
		}
	}
	return wrap("list", rows.Err())
}

// exactInSQL tells whether pushdown answers every filter exactly, so
// that SQL can apply the limit itself.
func exactInSQL(q storage.Query) bool {
	for _, f := range q.Filters {
		switch {
		case f.Field == "last_modified" && (f.Op == storage.OpGt || f.Op == storage.OpLt || f.Op == storage.OpMin || f.Op == storage.OpMax):
			if _, ok := storage.Int(f.Value); !ok {
				return false
			}
		case f.Op == storage.OpEq && !strings.Contains(f.Field, ".") && f.Field != "id" && f.Field != "last_modified" && f.Field != "deleted":
			switch f.Value.(type) {
			case string, bool:
			default:
				return false
			}
		default:
			return false
		}
	}
	return true
}

// pushdown turns the filters SQL can answer exactly into conditions:
// equality of top-level string, boolean and null values, and time bounds.
func pushdown(q storage.Query, args *[]any) string {
	var conds []string
	add := func(v any) string { *args = append(*args, v); return fmt.Sprintf("$%d", len(*args)) }
	lo, hi := storage.TimeBounds(q.Filters)
	if lo > 0 {
		conds = append(conds, "last_modified >= from_epoch("+add(lo)+")")
	}
	if hi < math.MaxInt64 {
		conds = append(conds, "last_modified <= from_epoch("+add(hi)+")")
	}
	for _, f := range q.Filters {
		if f.Op != storage.OpEq || strings.Contains(f.Field, ".") || f.Field == "id" || f.Field == "last_modified" || f.Field == "deleted" {
			continue
		}
		switch f.Value.(type) {
		case string, bool:
			b, err := storage.AppendJSON(nil, f.Value)
			if err == nil {
				conds = append(conds, "data -> "+add(f.Field)+" = "+add(string(b))+"::JSONB")
			}
		}
	}
	if !q.IncludeDeleted {
		conds = append(conds, "NOT deleted")
	}
	if len(conds) == 0 {
		return ""
	}
	return " AND " + strings.Join(conds, " AND ")
}

func (t *pgTx) List(ref storage.Ref, q storage.Query) ([]storage.Object, error) {
	sorts := storage.FullSort(q.Sort)
	keep := func(o storage.Object) bool {
		if storage.IsDeleted(o) && !q.IncludeDeleted {
			return false
		}
		return storage.Match(o, q.Filters) && (q.After == nil || storage.Compare(o, q.After, sorts) > 0)
	}
	args := []any{ref.Parent, ref.Resource}
	base := `SELECT id, data, as_epoch(last_modified), deleted FROM objects WHERE ` + listCond(ref)
	if q.IDs != nil {
		args = append(args, q.IDs)
		base += ` AND id = ANY($3)`
	}
	base += pushdown(q, &args)
	indexOrder := len(sorts) == 2 && sorts[0].Field == "last_modified" && sorts[1].Field == "id" && sorts[0].Desc == sorts[1].Desc
	if indexOrder && q.IDs == nil {
		dir, cmp := "DESC", "<"
		if !sorts[0].Desc {
			dir, cmp = "ASC", ">"
		}
		if q.After != nil {
			if ts, ok := storage.Int(q.After["last_modified"]); ok {
				args = append(args, ts, storage.ID(q.After))
				base += fmt.Sprintf(` AND (last_modified, id) %s (from_epoch($%d), $%d)`, cmp, len(args)-1, len(args))
			}
		}
		base += fmt.Sprintf(` ORDER BY last_modified %s, id %s`, dir, dir)
		if q.Limit > 0 && exactInSQL(q) {
			base += fmt.Sprintf(` LIMIT %d`, q.Limit)
		}
		var out []storage.Object
		err := t.scan(base, args, func(o storage.Object) bool {
			if keep(o) {
				out = append(out, o)
			}
			return q.Limit <= 0 || len(out) < q.Limit
		})
		return out, err
	}
	var all []storage.Object
	err := t.scan(base, args, func(o storage.Object) bool {
		if keep(o) {
			all = append(all, o)
			if q.Limit > 0 && len(all) > 4*q.Limit+256 {
				all = topK(all, sorts, q.Limit)
			}
		}
		return true
	})
	return topK(all, sorts, q.Limit), err
}

func topK(objs []storage.Object, sorts []storage.Sort, limit int) []storage.Object {
	sort.SliceStable(objs, func(i, j int) bool { return storage.Compare(objs[i], objs[j], sorts) < 0 })
	if limit > 0 && len(objs) > limit {
		objs = objs[:limit]
	}
	return objs
}

func (t *pgTx) Count(ref storage.Ref, filters []storage.Filter, includeDeleted bool) (int, error) {
	if len(filters) == 0 {
		var n int
		q := `SELECT COUNT(*) FROM objects WHERE ` + listCond(ref)
		if !includeDeleted {
			q += ` AND NOT deleted`
		}
		err := t.tx.QueryRow(t.ctx, q, ref.Parent, ref.Resource).Scan(&n)
		return n, wrap("count", err)
	}
	q := storage.Query{Filters: filters, IncludeDeleted: includeDeleted}
	if exactInSQL(q) {
		// Every filter is answered in SQL: count there.
		var n int
		args := []any{ref.Parent, ref.Resource}
		sql := `SELECT COUNT(*) FROM objects WHERE ` + listCond(ref) + pushdown(q, &args)
		err := t.tx.QueryRow(t.ctx, sql, args...).Scan(&n)
		return n, wrap("count", err)
	}
	objs, err := t.List(ref, q)
	return len(objs), err
}

func (t *pgTx) PurgeDeleted(ref storage.Ref, before int64, keep int) (int, error) {
	if err := t.writable(); err != nil {
		return 0, err
	}
	cur, err := t.listTS(ref)
	if err != nil {
		return 0, err
	}
	if cur > 0 {
		if err := t.setListTS(ref, "", cur); err != nil { // the list timestamp survives the purge
			return 0, err
		}
	}
	rows, err := t.tx.Query(t.ctx, `SELECT id, as_epoch(last_modified) FROM objects
	  WHERE `+listCond(ref)+` AND deleted ORDER BY last_modified DESC`, ref.Parent, ref.Resource)
	if err != nil {
		return 0, wrap("purge", err)
	}
	var ids []string
	i := 0
	for rows.Next() {
		var id string
		var ts int64
		if err := rows.Scan(&id, &ts); err != nil {
			rows.Close()
			return 0, wrap("purge", err)
		}
		if (before > 0 && ts < before) || (keep >= 0 && i >= keep) {
			ids = append(ids, id)
		}
		i++
	}
	rows.Close()
	if len(ids) == 0 {
		return 0, nil
	}
	t.tc.allObjects = true
	tag, err := t.tx.Exec(t.ctx, `DELETE FROM objects WHERE `+listCond(ref)+` AND deleted AND id = ANY($3)`,
		ref.Parent, ref.Resource, ids)
	return int(tag.RowsAffected()), wrap("purge", err)
}

func (t *pgTx) DeleteTree(uri string) error {
	if err := t.writable(); err != nil {
		return err
	}
	t.tc.allObjects = true
	for k := range t.locked {
		t.locked[k] = nil // their timestamps rows may go
	}
	if uri == "" {
		t.tc.allACLs, t.tc.principals = true, true
	}
	if uri == "" {
		for _, table := range []string{"objects", "timestamps", "access_control_entries", "user_principals"} {
			if err := t.exec("flush", "DELETE FROM "+table); err != nil {
				return err
			}
		}
		return nil
	}
	for _, table := range []string{"objects", "timestamps"} {
		if err := t.exec("delete tree", `DELETE FROM `+table+` WHERE parent_id = $1 OR starts_with(parent_id, $2)`, uri, uri+"/"); err != nil {
			return err
		}
	}
	return nil
}

// Lists implements storage.Lister.
func (t *pgTx) Lists(resource string) ([]storage.Ref, error) {
	if all := (storage.Ref{Resource: resource}); selfParented(all) {
		return []storage.Ref{all}, nil
	}
	rows, err := t.tx.Query(t.ctx, `SELECT DISTINCT parent_id FROM objects WHERE resource_name = $1`, resource)
	if err != nil {
		return nil, wrap("lists", err)
	}
	defer rows.Close()
	var out []storage.Ref
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, wrap("lists", err)
		}
		out = append(out, storage.Ref{Resource: resource, Parent: p})
	}
	return out, wrap("lists", rows.Err())
}
