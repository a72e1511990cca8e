package postgres

import (
	"github.com/jackc/pgx/v5"

	"github.com/nimbus-server/nimbus/storage"
)

var _ storage.Prefetcher = (*pgTx)(nil)

// PrefetchForUpdate implements storage.Prefetcher: the list's lock, its
// timestamp, the rows of ids, locked, and their ACLs, in one round trip,
// as lockAndRead and readACLs read one each. Each row (or its absence)
// answers the next lockAndRead of its id, unless the transaction wrote
// the id meanwhile (put drops it), rolled back to a savepoint, or wrote
// whole lists (the map is dropped). Lists stored under their objects' own
// ids are not prefetched.
func (t *pgTx) PrefetchForUpdate(ref storage.Ref, ids []string, uri func(string) string) error {
	if !t.write || t.selfParented(ref) || len(ids) == 0 {
		return nil
	}
	if err := t.writable(); err != nil {
		return err
	}
	if t.tryLocks {
		// A later member of a write group only tries the lock, alone
		// (see lockAndRead).
		if err := t.lock(ref); err != nil {
			return err
		}
	}
	var stmts []stmt
	lockSt, needLock := t.lockStmt(ref)
	if needLock {
		stmts = append(stmts, lockSt)
	}
	var (
		gotIDs, data []string
		lms          []int64
		deleted      []bool
	)
	stmts = append(stmts, stmt{sql: `SELECT COALESCE(array_agg(id), '{}'), COALESCE(array_agg(data::TEXT), '{}'),
	    COALESCE(array_agg(as_epoch(last_modified)), '{}'), COALESCE(array_agg(deleted), '{}')
	  FROM (SELECT id, data, last_modified, deleted FROM objects
	    WHERE parent_id = $1 AND resource_name = $2 AND id = ANY($3) FOR UPDATE) AS r`,
		args: []any{ref.Parent, ref.Resource, ids},
		scan: func(r pgx.Row) error { return r.Scan(&gotIDs, &data, &lms, &deleted) }})
	// The objects' ACLs: nobody else changes them while the list is
	// locked (a write of the object takes the lock), so they answer
	// GetACLs as the ACLs this transaction set do (ownACLs).
	var aclURIs, aclObjs, aclPerms, aclPrincipals []string
	if uri != nil && !t.tc.allACLs {
		for _, id := range ids {
			u := uri(id)
			if _, own := t.ownACLs[u]; !own {
				aclURIs = append(aclURIs, u)
			}
		}
	}
	if len(aclURIs) > 0 {
		stmts = append(stmts, stmt{sql: `SELECT COALESCE(array_agg(object_id ORDER BY principal), '{}'),
		    COALESCE(array_agg(permission ORDER BY principal), '{}'), COALESCE(array_agg(principal ORDER BY principal), '{}')
		  FROM access_control_entries WHERE object_id = ANY($1)`,
			args: []any{aclURIs},
			scan: func(r pgx.Row) error { return r.Scan(&aclObjs, &aclPerms, &aclPrincipals) }})
	}
	var cur int64
	if t.locked[lockKey(ref)] == nil {
		stmts = append(stmts, t.listTSStmt(ref, &cur))
	}
	if needLock {
		t.markLocked(ref)
	}
	if err := t.roundTrip("write", stmts...); err != nil {
		return err
	}
	if t.prefetched == nil {
		t.prefetched = make(map[objKey]cachedRow, len(ids))
	}
	for _, id := range ids {
		t.prefetched[objKey{resource: ref.Resource, parent: ref.Parent, id: id}] = cachedRow{}
	}
	for i, id := range gotIDs {
		t.prefetched[objKey{resource: ref.Resource, parent: ref.Parent, id: id}] = cachedRow{found: true, data: []byte(data[i]), lm: lms[i], deleted: deleted[i]}
	}
	if len(aclURIs) > 0 {
		if t.ownACLs == nil {
			t.ownACLs = make(map[string]storage.ACL, len(aclURIs))
		}
		for _, u := range aclURIs {
			t.ownACLs[u] = storage.ACL{}
		}
		for i, u := range aclObjs {
			t.ownACLs[u][aclPerms[i]] = append(t.ownACLs[u][aclPerms[i]], aclPrincipals[i])
		}
	}
	return nil
}

// takePrefetched answers lockAndRead from a prefetched row of a list
// whose lock and timestamp the transaction holds (ok false otherwise).
func (t *pgTx) takePrefetched(ref storage.Ref, id string) (storage.Object, int64, bool, error) {
	k := objKey{resource: ref.Resource, parent: t.rowParent(ref, id), id: id}
	r, ok := t.prefetched[k]
	known := t.locked[lockKey(ref)]
	if !ok || known == nil {
		return nil, 0, false, nil
	}
	delete(t.prefetched, k)
	if !r.found {
		return nil, *known, true, nil
	}
	o, err := row(id, r.data, r.lm, r.deleted)
	return o, *known, true, err
}
