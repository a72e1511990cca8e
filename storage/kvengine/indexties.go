package kvengine

import (
	"bytes"

	"github.com/nimbus-server/nimbus/storage"
)

// Deep pages within a group of ties. A page sorted by an indexed field
// that starts within a group of one value (a boolean, a status) used to
// decode every object of the group to sort it, since the group's entries
// are in id order and its objects sort newest first: a client paging
// through 10,000 ties decoded 10,000 objects a page. The objects of the
// group after the previous page's last are, in order, the list's objects
// older than it that have an entry in the group: tiesAfter walks the
// list's timestamp index backwards from there and looks each object's
// entry up (no decoding), decoding only those of the group, until the
// page is full. A group that is a small part of the list takes many steps
// a match: past a budget of steps, the caller reads the group whole.

// tiesSteps bounds the timestamp index entries tiesAfter looks at for a
// page of limit objects.
func tiesSteps(limit int) int { return 64*limit + 1024 }

// tiesAfter returns the objects of group (an index key prefix holding one
// value: the field's prefix and the value's key) that come after after,
// kept by keep, in the list's order for a sort on that field, at most
// limit of them; exhausted tells that no object of the group is left
// after them, and ok false that the budget ran out first.
func (t *Tx) tiesAfter(lk, group []byte, after storage.Object, limit int, keep func(storage.Object) bool) (out []storage.Object, exhausted, ok bool, err error) {
	ts, hasTS := storage.Int(after["last_modified"])
	if !hasTS {
		return nil, false, false, nil
	}
	index := t.bucket("x")
	c := t.bucket("t").Cursor()
	start := tsKey(lk, ts, storage.ID(after))
	k, _ := c.Seek(start)
	if k == nil {
		k, _ = c.Last()
	}
	for k != nil && bytes.Compare(k, start) >= 0 {
		k, _ = c.Prev()
	}
	entry := bytes.Clone(group)
	for steps := tiesSteps(limit); k != nil && bytes.HasPrefix(k, lk); k, _ = c.Prev() {
		if steps--; steps < 0 {
			return nil, false, false, nil
		}
		if err := t.checkCtx(); err != nil {
			return nil, false, false, err
		}
		if len(k) < len(lk)+8 {
			continue
		}
		id := k[len(lk)+8:]
		if index.Get(append(entry[:len(group)], id...)) == nil {
			continue // another value's, or a tombstone
		}
		o, err := t.stored(lk, string(id))
		if err != nil {
			return nil, false, false, err
		}
		if o == nil || !keep(o) {
			continue
		}
		if out = append(out, o); len(out) == limit {
			return out, false, true, nil
		}
	}
	return out, true, true, nil
}
