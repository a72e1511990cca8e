package kvengine

import (
	"bytes"
	"encoding/binary"
	"sort"
	"time"

	"github.com/nimbus-server/nimbus/storage"
)

// Get implements storage.Tx.
func (t *Tx) Get(ref storage.Ref, id string) (storage.Object, error) {
	v := t.bucket("o").Get(objKey(listKey(ref), id))
	if len(v) == 0 || v[0] != flagLive {
		return nil, storage.ErrNotFound
	}
	return decode(v)
}

// Exists implements storage.Tx.
func (t *Tx) Exists(ref storage.Ref, id string) (bool, error) {
	v := t.bucket("o").Get(objKey(listKey(ref), id))
	return len(v) > 0 && v[0] == flagLive, nil
}

// stored returns the object or tombstone stored under id, or nil.
func (t *Tx) stored(lk []byte, id string) (storage.Object, error) {
	v := t.bucket("o").Get(objKey(lk, id))
	if v == nil {
		return nil, nil
	}
	return decode(v)
}

func sentTimestamp(obj storage.Object) int64 {
	v, ok := obj["last_modified"]
	if !ok {
		return 0
	}
	i, ok := storage.Int(v)
	if !ok || i <= 0 {
		return 0
	}
	return i
}

// write stores obj (with its final timestamp set) and maintains the index,
// removing the index entry of what was stored before under the same id.
func (t *Tx) write(lk []byte, prev, obj storage.Object) error {
	data, err := encode(obj, flagOf(obj))
	if err != nil {
		return err
	}
	return t.writeEncoded(lk, prev, obj, data)
}

func flagOf(obj storage.Object) byte {
	if storage.IsDeleted(obj) {
		return flagDeleted
	}
	return flagLive
}

// writeEncoded is write with obj already encoded as data.
func (t *Tx) writeEncoded(lk []byte, prev, obj storage.Object, data []byte) error {
	id := storage.ID(obj)
	if prev != nil {
		if err := t.bucket("t").Delete(tsKey(lk, storage.LastModified(prev), id)); err != nil {
			return err
		}
	}
	flag := data[0]
	if err := t.bucket("o").Put(objKey(lk, id), data); err != nil {
		return err
	}
	if err := t.keepIndexes(lk, prev, obj); err != nil {
		return err
	}
	return t.bucket("t").Put(tsKey(lk, storage.LastModified(obj), id), []byte{flag})
}

func copyObject(obj storage.Object) storage.Object {
	out := make(storage.Object, len(obj)+1)
	for k, v := range obj {
		out[k] = v
	}
	return out
}

func (t *Tx) put(ref storage.Ref, obj storage.Object, create bool) (storage.Object, error) {
	if err := t.writable(); err != nil {
		return nil, err
	}
	id := storage.ID(obj)
	if id == "" {
		return nil, storage.ErrInvalidObject
	}
	lk := listKey(ref)
	prev, err := t.stored(lk, id)
	if err != nil {
		return nil, err
	}
	live := prev != nil && !storage.IsDeleted(prev)
	if create && live {
		return nil, &storage.UnicityError{Field: "id", Existing: prev}
	}
	m := t.getMeta(lk)
	obj = copyObject(obj)
	delete(obj, "deleted")
	var objTS int64
	objTS, m.ts = storage.NextTimestamp(m.ts, sentTimestamp(obj), create || !live)
	obj["last_modified"] = objTS
	if !live {
		m.count++
	}
	if err := t.write(lk, prev, obj); err != nil {
		return nil, err
	}
	return obj, t.putMeta(lk, m)
}

// Create implements storage.Tx.
func (t *Tx) Create(ref storage.Ref, obj storage.Object) (storage.Object, error) {
	return t.put(ref, obj, true)
}

// Replace implements storage.Tx.
func (t *Tx) Replace(ref storage.Ref, obj storage.Object) (storage.Object, error) {
	return t.put(ref, obj, false)
}

// Delete implements storage.Tx.
func (t *Tx) Delete(ref storage.Ref, id string, lastModified int64) (storage.Object, error) {
	return t.tombstone(ref, id, lastModified, true)
}

var _ storage.TombstoneWriter = (*Tx)(nil)

// WriteTombstone implements storage.TombstoneWriter.
func (t *Tx) WriteTombstone(ref storage.Ref, id string, lastModified int64) (storage.Object, error) {
	return t.tombstone(ref, id, lastModified, false)
}

// tombstone replaces id by a tombstone, with lastModified as its
// timestamp when that is newer than the list's; with mustLive, a missing
// or deleted object is ErrNotFound.
func (t *Tx) tombstone(ref storage.Ref, id string, lastModified int64, mustLive bool) (storage.Object, error) {
	if err := t.writable(); err != nil {
		return nil, err
	}
	lk := listKey(ref)
	prev, err := t.stored(lk, id)
	if err != nil {
		return nil, err
	}
	live := prev != nil && !storage.IsDeleted(prev)
	if mustLive && !live {
		return nil, storage.ErrNotFound
	}
	m := t.getMeta(lk)
	var sent int64
	if lastModified > m.ts {
		sent = lastModified
	}
	var ts int64
	ts, m.ts = storage.NextTimestamp(m.ts, sent, false)
	if live {
		m.count--
	}
	tomb := storage.Object{"id": id, "deleted": true, "last_modified": ts}
	if err := t.write(lk, prev, tomb); err != nil {
		return nil, err
	}
	return tomb, t.putMeta(lk, m)
}

// DeleteMany implements storage.Tx.
func (t *Tx) DeleteMany(ref storage.Ref, q storage.Query) ([]storage.Object, error) {
	if err := t.writable(); err != nil {
		return nil, err
	}
	return storage.DeleteMatching(t, ref, q)
}

// Timestamp implements storage.Tx.
func (t *Tx) Timestamp(ref storage.Ref) (int64, error) {
	lk := listKey(ref)
	m := t.getMeta(lk)
	if m.ts != 0 || !t.kv.Writable() {
		return m.ts, nil
	}
	m.ts = time.Now().UnixMilli()
	return m.ts, t.putMeta(lk, m)
}

// PurgeDeleted implements storage.Tx.
func (t *Tx) PurgeDeleted(ref storage.Ref, before int64, keep int) (int, error) {
	if err := t.writable(); err != nil {
		return 0, err
	}
	lk := listKey(ref)
	type tomb struct {
		key []byte
		ts  int64
		id  string
	}
	var tombs []tomb
	prefixScan(t.bucket("t"), lk, func(k, v []byte) bool {
		if len(v) == 1 && v[0] == flagDeleted && len(k) >= len(lk)+8 {
			tombs = append(tombs, tomb{bytes.Clone(k), int64(binary.BigEndian.Uint64(k[len(lk):])), string(k[len(lk)+8:])})
		}
		return true
	})
	sort.Slice(tombs, func(i, j int) bool { return tombs[i].ts > tombs[j].ts })
	removed := 0
	for i, tb := range tombs {
		old := before > 0 && tb.ts < before
		extra := keep >= 0 && i >= keep
		if !old && !extra {
			continue
		}
		if err := t.bucket("t").Delete(tb.key); err != nil {
			return removed, err
		}
		if err := t.bucket("o").Delete(objKey(lk, tb.id)); err != nil {
			return removed, err
		}
		removed++
	}
	return removed, nil
}

// DeleteTree implements storage.Tx.
func (t *Tx) DeleteTree(uri string) error {
	if err := t.writable(); err != nil {
		return err
	}
	t.memo.decls = nil // the lists' declarations go with them
	for _, prefix := range [][]byte{[]byte(uri + "\x00"), []byte(uri + "/")} {
		for _, b := range []string{"o", "t", "m", "x", "X"} {
			if err := deletePrefix(t.bucket(b), prefix); err != nil {
				return err
			}
		}
	}
	if uri == "" {
		// The whole store: every list above, and every ACL, index entry
		// and membership.
		t.memo.clear()
		for _, b := range []string{"o", "t", "m", "a", "i", "u", "p", "x", "X"} {
			if err := deletePrefix(t.bucket(b), nil); err != nil {
				return err
			}
		}
	}
	return nil
}
