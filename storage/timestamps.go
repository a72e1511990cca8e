package storage

import "time"

// NextTimestamp applies the timestamp rules of RES-13 to one write: cur
// is the list's current timestamp (0 when it has none), sent a
// last_modified the client sent (0 when none), create whether the write
// creates the object. It returns the object's timestamp and the list's new
// one, the latter always greater than cur.
func NextTimestamp(cur, sent int64, create bool) (object, list int64) {
	now := time.Now().UnixMilli()
	fresh := cur + 1
	if now > fresh {
		fresh = now
	}
	if sent > 0 {
		if sent > cur {
			return sent, sent
		}
		if create {
			if sent == cur {
				return cur + 1, cur + 1
			}
			return sent, fresh
		}
	}
	return fresh, fresh
}

// DeleteMatching deletes the live objects a query selects, one by one
// through tx.Delete, and returns their tombstones in the query's order.
// Backends implement Tx.DeleteMany with it.
func DeleteMatching(tx Tx, ref Ref, q Query) ([]Object, error) {
	q.IncludeDeleted = false
	objs, err := tx.List(ref, q)
	if err != nil {
		return nil, err
	}
	out := make([]Object, 0, len(objs))
	for _, o := range objs {
		tomb, err := tx.Delete(ref, ID(o), 0)
		if err != nil {
			return nil, err
		}
		out = append(out, tomb)
	}
	return out, nil
}
