package postgres

import (
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/nimbus-server/nimbus/storage"
)

// Parents held against their deletion (storage.ParentHolder). Writes to
// different lists run side by side here, each holding only its own
// lists' locks. A record's creation that checked its collection exists
// (through the cache, or in the database before its list's lock was
// granted) could then commit after another transaction deleted the
// collection and everything under it (DeleteTree takes no lock of the
// lists below: it cannot know them all, and a deletion must not wait for
// every list of a bucket); the record stayed, under a collection that is
// gone, and came back when the collection was created again (two
// instances, eight writers and a deletion: 75 records left under 20
// deleted collections).
//
// A write under objects therefore takes the lock of each one's list in
// shared mode (pg_advisory_xact_lock_shared: writers of other lists
// under the same parents share it; the list's writers, who take it
// exclusively, wait for them) and only then reads them from the
// database. A deletion of the parent writes its list, so it either
// committed before (and is seen) or waits for this transaction (and then
// deletes what it wrote). The list about to be written is locked in the
// same round trip, in the order lockAndRead would take it, after the
// parents: a group's first call costs no round trip more. Later calls of
// a group only try the locks, as for their lists (combine.go). An object
// read under a shared lock this transaction holds needs no second read,
// and the transaction's later reads of it (a record's validation reads
// its collection's schema) answer that row rather than the cache, which
// can be older; unless the transaction holds its list exclusively (it
// may have written it) or deleted a subtree. Kinto takes no such lock:
// its writes can still land under a parent Nimbus deletes at the same
// moment, as they can under Kinto's own deletions.

var _ storage.ParentHolder = (*pgTx)(nil)

const heldRowSQL = `SELECT data, as_epoch(last_modified), deleted FROM objects WHERE id = $1 AND parent_id = $2 AND resource_name = $3`

// HoldParents implements storage.ParentHolder.
func (t *pgTx) HoldParents(objs []storage.Held, under storage.Ref) ([]bool, error) {
	if !t.write {
		return storage.ParentsExist(t, objs)
	}
	live := make([]bool, len(objs))
	rows := make([]struct {
		key objKey
		row cachedRow
	}, len(objs))
	var stmts []stmt
	var shared []string
	for i, o := range objs {
		key := lockKey(o.List)
		k := objKey{resource: o.List.Resource, parent: t.rowParent(o.List, o.ID), id: o.ID}
		_, excl := t.locked[key]
		if r, ok := t.held[k]; ok && !excl {
			live[i] = r.found && !r.deleted
			continue
		}
		if !excl && !t.shared[key] {
			stmts = append(stmts, t.sharedLockStmt(key))
			shared = append(shared, key)
		}
		rows[i].key = k
		stmts = append(stmts, stmt{sql: heldRowSQL, args: []any{k.id, k.parent, k.resource},
			scan: func(r pgx.Row) error {
				c := &rows[i].row
				err := r.Scan(&c.data, &c.lm, &c.deleted)
				if errors.Is(err, pgx.ErrNoRows) {
					return nil
				}
				c.found = err == nil
				live[i] = c.found && !c.deleted
				return err
			}})
	}
	if !t.tryLocks && under != (storage.Ref{}) {
		// The list written next, with its timestamp, as lockAndRead
		// takes it (a later member tries it when it writes).
		if st, need := t.lockStmt(under); need {
			var ts int64
			stmts = append(stmts, st)
			t.markLocked(under)
			stmts = append(stmts, t.listTSStmt(under, &ts))
			stmts = append(stmts, t.lockNext(under)...)
		}
	}
	if len(stmts) == 0 {
		return live, nil
	}
	if t.shared == nil {
		t.shared = map[string]bool{}
	}
	for _, key := range shared {
		t.shared[key] = true
	}
	if err := t.roundTrip("hold", stmts...); err != nil {
		return nil, err
	}
	for i, o := range objs {
		if rows[i].key != (objKey{}) {
			if _, excl := t.locked[lockKey(o.List)]; !excl {
				if t.held == nil {
					t.held = map[objKey]cachedRow{}
				}
				t.held[rows[i].key] = rows[i].row
			}
		}
		if !live[i] {
			// Top down: what is under a missing object is missing too.
			clear(live[i:])
			break
		}
	}
	return live, nil
}

// heldRow is the row of an object HoldParents read under a shared lock
// this transaction holds: the transaction's later reads of it answer the
// same (a read through the cache could be older than it: the cache is
// as fresh as the request's barrier, the row as the lock). A list the
// transaction holds exclusively is read from the database instead.
func (t *pgTx) heldRow(k objKey, ref storage.Ref) (cachedRow, bool) {
	if len(t.held) == 0 {
		return cachedRow{}, false
	}
	if _, excl := t.locked[lockKey(ref)]; excl {
		return cachedRow{}, false
	}
	r, ok := t.held[k]
	return r, ok
}

// sharedLockStmt takes a list's lock in shared mode, or tries it for a
// later member of a write group.
func (t *pgTx) sharedLockStmt(key string) stmt {
	if t.tryLocks {
		return stmt{sql: `SELECT pg_try_advisory_xact_lock_shared(hashtextextended($1, 7))`, args: []any{key}, scan: t.scanTry}
	}
	return stmt{sql: `SELECT pg_advisory_xact_lock_shared(hashtextextended($1, 7))`, args: []any{key}}
}
