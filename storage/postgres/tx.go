package postgres

import (
	"context"
	"errors"
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
	// layouts are the storage layouts resources declared.
	layouts *layouts
	// ctx carries the queries; reqCtx, when set, is the caller's own
	// context (a write group runs its queries on one that the caller's
	// cancellation cannot break).
	ctx    context.Context
	reqCtx context.Context
	tx     querier
	write  bool
	sp     int
	// cache serves reads of a read-only transaction; a write transaction
	// notes in tc what it changed, to drop it from the cache on commit.
	cache  *cache
	tc     touched
	synced int8 // 0: not asked yet, 1: cache usable, -1: not usable
	// locked holds the lists whose advisory lock this transaction holds,
	// with their timestamp once read (only this transaction can change it
	// while the lock is held).
	locked map[string]*int64
	// shared holds the lists whose lock this transaction holds shared,
	// and held the rows read under such a lock (hold.go).
	shared map[string]bool
	held   map[objKey]cachedRow
	// ownACLs holds the ACLs this transaction set, and those it read
	// ahead of its writes under the list's lock (prefetch.go).
	ownACLs map[string]storage.ACL
	// open are the savepoints of the transaction (savepoint.go).
	open []savepoint
	// tryLocks makes list locks tries, for a later member of a write
	// group; busy records that one failed (combine.go).
	tryLocks bool
	busy     bool
	// queued are writes not sent yet (later).
	queued []stmt
	// stamps are the list timestamps to write before the commit, one
	// per list however many writes it had (noteStamp).
	stamps map[listKey]int64
	// carried tells that the queue holds writes of earlier members of a
	// write group; poisoned that a round trip carrying them failed, so
	// the failure cannot be pinned on one member (combine.go).
	carried  bool
	poisoned bool
	// next and prevLock learn and guess the lists locked together
	// (locknext.go).
	next     *nextLocks
	prevLock string
	guesses  []guess
	// bulkRows counts the rows of WriteMany, whose callers (imports)
	// analyse the tables themselves (analyze.go).
	bulkRows int
	// prefetched are rows read for a write ahead of it, each answering
	// one lockAndRead (prefetch.go).
	prefetched map[objKey]cachedRow
	// early is a write group's early send in flight (early.go).
	early *earlyBatch
	// seenTS are the list timestamps a read-only transaction returned,
	// by list: a page it reads is served from the cache only if read
	// under the same timestamp (listcache.go).
	seenTS map[string]int64
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
		// A write transaction (it may hold list locks, and runs the
		// calls of a whole write group) never waits for a barrier: it
		// uses the cache only when the request's barrier is already
		// answered, and reads the database otherwise.
		if t.write && t.cache.syncedFor(t.ctx) || !t.write && t.cache.sync(t.ctx) {
			t.synced = 1
		}
	}
	return t.synced == 1
}

var (
	_ storage.Tx          = (*pgTx)(nil)
	_ storage.Savepointer = (*pgTx)(nil)
)

func (t *pgTx) Context() context.Context {
	if t.reqCtx != nil {
		return t.reqCtx
	}
	return t.ctx
}

func (t *pgTx) writable() error {
	if !t.write {
		return storage.ErrReadOnly
	}
	return nil
}

// row turns a stored row into an object: data plus id and last_modified.
func row(id string, data []byte, lm int64, deleted bool) (storage.Object, error) {
	if deleted {
		return storage.Object{"id": id, "last_modified": lm, "deleted": true}, nil
	}
	// JSONB's text keeps one key order (its own), which the object keeps
	// as its order hint: every read answers the same bytes.
	o, err := storage.DecodeOrdered(data)
	if err != nil {
		return nil, &storage.BackendError{Op: "postgres decode", Err: err}
	}
	o["id"], o["last_modified"] = id, lm
	return o, nil
}

func (t *pgTx) stored(ref storage.Ref, id string, lock bool) (storage.Object, error) {
	r, err := t.storedRow(ref, id, lock)
	if err != nil || !r.found {
		return nil, err
	}
	return row(id, r.data, r.lm, r.deleted)
}

// storedRow reads the row of id from the database (found false when
// there is none), not decoded.
func (t *pgTx) storedRow(ref storage.Ref, id string, lock bool) (cachedRow, error) {
	q := `SELECT data, as_epoch(last_modified), deleted FROM objects WHERE id = $1 AND parent_id = $2 AND resource_name = $3`
	if lock {
		q += ` FOR UPDATE`
	}
	var r cachedRow
	err := t.tx.QueryRow(t.ctx, q, id, t.rowParent(ref, id), ref.Resource).Scan(&r.data, &r.lm, &r.deleted)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, nil
	}
	if err != nil {
		return r, wrap("get", err)
	}
	r.found = true
	return r, nil
}

// cachedStored is stored for a read-only transaction, through the cache.
func (t *pgTx) cachedStored(ref storage.Ref, id string) (storage.Object, error) {
	r, err := t.cachedRow(ref, id)
	if err != nil || !r.found {
		return nil, err
	}
	return row(id, r.data, r.lm, r.deleted)
}

// cachedRow is the row of id through the cache (found false when there
// is none), not decoded: Exists needs no more.
func (t *pgTx) cachedRow(ref storage.Ref, id string) (cachedRow, error) {
	k := objKey{resource: ref.Resource, parent: t.rowParent(ref, id), id: id}
	if r, ok := t.heldRow(k, ref); ok {
		return r, nil
	}
	if t.tc.hasObject(k) || !t.cached() {
		return t.storedRow(ref, id, false)
	}
	if r, ok := lookup(t.cache, objectsOf, k); ok {
		t.cache.hits.Add(1)
		return r, nil
	}
	t.cache.misses.Add(1)
	gen := t.cache.gen.Load()
	r, err := t.storedRow(ref, id, false)
	if err == nil {
		t.cache.keepRow(k, r, gen)
	}
	return r, err
}

// Get reads through the cache what the transaction has not written and,
// in a write transaction, what is not in a list it holds the lock of
// (parents, ACL owners): the cache is as fresh as a read of the database
// made when the request began (cache.sync). What a write depends on is
// read with GetForUpdate, under the list's lock.
func (t *pgTx) Get(ref storage.Ref, id string) (storage.Object, error) {
	get := t.cachedStored
	if _, held := t.locked[lockKey(ref)]; held && t.write {
		get = func(ref storage.Ref, id string) (storage.Object, error) { return t.stored(ref, id, false) }
	}
	return live(get(ref, id))
}

func live(o storage.Object, err error) (storage.Object, error) {
	if err != nil {
		return nil, err
	}
	if o == nil || storage.IsDeleted(o) {
		return nil, storage.ErrNotFound
	}
	return o, nil
}

var _ storage.ForUpdateReader = (*pgTx)(nil)

// GetForUpdate implements storage.ForUpdateReader: the list's lock, then
// the row, locked too.
func (t *pgTx) GetForUpdate(ref storage.Ref, id string) (storage.Object, error) {
	if !t.write {
		return t.Get(ref, id)
	}
	o, _, err := t.lockAndRead(ref, id)
	return live(o, err)
}

func (t *pgTx) Exists(ref storage.Ref, id string) (bool, error) {
	_, held := t.locked[lockKey(ref)]
	if k := (objKey{resource: ref.Resource, parent: t.rowParent(ref, id), id: id}); !(held && t.write) && !t.tc.hasObject(k) && t.cached() {
		r, err := t.cachedRow(ref, id)
		return r.found && !r.deleted, err
	}
	var ok bool
	err := t.tx.QueryRow(t.ctx, `SELECT EXISTS (SELECT 1 FROM objects WHERE id = $1 AND parent_id = $2 AND resource_name = $3 AND NOT deleted)`,
		id, t.rowParent(ref, id), ref.Resource).Scan(&ok)
	return ok, wrap("exists", err)
}

// selfParented tells whether ref is the list of a resource declared
// storage.UnderOwnID (Kinto's accounts): each row has its own id as
// parent_id, where Nimbus reads and writes them as one list (parent "").
// The rows are written and read the Kinto way, so both servers share
// them.
func (t *pgTx) selfParented(ref storage.Ref) bool {
	return ref.Parent == "" && t.layouts.get(ref.Resource) == storage.UnderOwnID
}

// rowParent is the parent_id the row of object id of ref is stored under.
func (t *pgTx) rowParent(ref storage.Ref, id string) string {
	if t.selfParented(ref) {
		return id
	}
	return ref.Parent
}

// listCond is the SQL condition selecting the rows of ref's list, with
// the parent as parameter $1 and the resource name as $2.
func (t *pgTx) listCond(ref storage.Ref) string {
	if t.selfParented(ref) {
		return `parent_id = id AND $1::TEXT = '' AND resource_name = $2`
	}
	return `parent_id = $1 AND resource_name = $2`
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
	data, err := dataOf(obj)
	if err != nil {
		return nil, err
	}
	var objTS, listTS int64
	var write stmt
	sent := sentTimestamp(obj)
	// The call wants the list's lock now, held or not (locknext.go).
	t.learnLock(ref)
	known := t.locked[lockKey(ref)]
	switch {
	case known != nil && !create && !t.selfParented(ref) && (sent == 0 || sent > *known):
		// The list is locked and its timestamp known, and the stored
		// version does not change the new timestamp: the write is
		// queued with nothing read first.
		objTS, listTS = storage.NextTimestamp(*known, sent, true)
		write = upsertStmt(id, ref.Parent, ref.Resource, string(data), objTS)
	case known != nil && create && !t.selfParented(ref):
		// A creation is queued too. Should the id exist after all (only
		// a race with a writer that ignores the list lock can do that,
		// the callers having looked first), the statement changes
		// nothing and its round trip fails with the UnicityError.
		objTS, listTS = storage.NextTimestamp(*known, sent, true)
		write = createStmt(ref, id, string(data), objTS)
	default:
		prev, cur, err := t.lockAndRead(ref, id)
		if err != nil {
			return nil, err
		}
		live := prev != nil && !storage.IsDeleted(prev)
		if create && live {
			return nil, &storage.UnicityError{Field: "id", Existing: prev}
		}
		objTS, listTS = storage.NextTimestamp(cur, sent, create || !live)
		if create && !t.selfParented(ref) {
			// Queued as the creations above are, it merges with them (a
			// group's first call reads its row while taking the lock).
			write = createStmt(ref, id, string(data), objTS)
		} else {
			write = upsertStmt(id, t.rowParent(ref, id), ref.Resource, string(data), objTS)
		}
	}
	t.tc.addObject(objKey{resource: ref.Resource, parent: t.rowParent(ref, id), id: id})
	delete(t.prefetched, objKey{resource: ref.Resource, parent: t.rowParent(ref, id), id: id})
	t.noteStamp(ref, id, listTS)
	if err := t.later(write); err != nil {
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
	t.tc.addObject(objKey{resource: ref.Resource, parent: t.rowParent(ref, id), id: id})
	err = t.later(stmt{sql: `UPDATE objects SET deleted = TRUE, data = '{"deleted": true}'::JSONB, last_modified = from_epoch($4)
	  WHERE id = $1 AND parent_id = $2 AND resource_name = $3`, args: []any{id, t.rowParent(ref, id), ref.Resource, ts}})
	t.noteStamp(ref, id, ts)
	if err != nil {
		return nil, err
	}
	return storage.Object{"id": id, "last_modified": ts, "deleted": true}, nil
}

var _ storage.TombstoneWriter = (*pgTx)(nil)

// WriteTombstone implements storage.TombstoneWriter.
func (t *pgTx) WriteTombstone(ref storage.Ref, id string, lastModified int64) (storage.Object, error) {
	if err := t.writable(); err != nil {
		return nil, err
	}
	_, cur, err := t.lockAndRead(ref, id)
	if err != nil {
		return nil, err
	}
	var sent int64
	if lastModified > cur {
		sent = lastModified
	}
	ts, _ := storage.NextTimestamp(cur, sent, false)
	t.tc.addObject(objKey{resource: ref.Resource, parent: t.rowParent(ref, id), id: id})
	err = t.later(stmt{sql: `INSERT INTO objects (id, parent_id, resource_name, data, last_modified, deleted)
	  VALUES ($1, $2, $3, '{"deleted": true}'::JSONB, from_epoch($4), TRUE)
	  ON CONFLICT (id, parent_id, resource_name) DO UPDATE SET deleted = TRUE, data = EXCLUDED.data, last_modified = EXCLUDED.last_modified`,
		args: []any{id, t.rowParent(ref, id), ref.Resource, ts}})
	t.noteStamp(ref, id, ts)
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
	  WHERE `+t.listCond(ref)+` AND deleted ORDER BY last_modified DESC`, ref.Parent, ref.Resource)
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
	t.prefetched = nil
	tag, err := t.tx.Exec(t.ctx, `DELETE FROM objects WHERE `+t.listCond(ref)+` AND deleted AND id = ANY($3)`,
		ref.Parent, ref.Resource, ids)
	return int(tag.RowsAffected()), wrap("purge", err)
}

func (t *pgTx) DeleteTree(uri string) error {
	if err := t.writable(); err != nil {
		return err
	}
	// The noted timestamps of the lists that go are dropped, and so are
	// the rows read under shared locks (some may be under uri).
	t.dropStamps(uri)
	t.prefetched, t.held = nil, nil
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
	if all := (storage.Ref{Resource: resource}); t.selfParented(all) {
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
