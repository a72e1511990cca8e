package kvengine

import (
	"encoding/json"
	"runtime"
	"strconv"
	"sync"

	"github.com/nimbus-server/nimbus/storage"
)

var _ storage.BulkWriter = (*Tx)(nil)

// WriteMany implements storage.BulkWriter: what Replace or WriteTombstone
// and SetACL do for each object, with the list's metadata read and
// written once for the page. Objects come encoded (PrepareMany, done
// here for those that were not), so that the write loop does little more
// than the key-value writes themselves.
func (t *Tx) WriteMany(ref storage.Ref, objs []storage.BulkObject, uri func(id string) string) error {
	if err := t.writable(); err != nil {
		return err
	}
	for _, o := range objs {
		if _, ok := o.Prepared.(prepared); !ok && !storage.IsDeleted(o.Object) {
			if err := PrepareMany(objs); err != nil {
				return err
			}
			break
		}
	}
	if a, ok := t.kv.(Appender); ok && ascending(objs) {
		a.Appending()
	}
	lk := listKey(ref)
	m := t.getMeta(lk)
	for i, o := range objs {
		obj := o.Object
		id := storage.ID(obj)
		if id == "" {
			return storage.ErrInvalidObject
		}
		prev, err := t.stored(lk, id)
		if err != nil {
			return err
		}
		if o.SkipSame && storage.SameVersion(prev, obj) {
			objs[i].Skipped = true
			continue
		}
		if storage.IsDeleted(obj) {
			// Rare in an import: the one-by-one path, around the page's
			// metadata.
			if err := t.putMeta(lk, m); err != nil {
				return err
			}
			if _, err := t.tombstone(ref, id, storage.LastModified(obj), false); err != nil {
				return err
			}
			if err := t.storeACL(uri(id), preparedACL{}); err != nil {
				return err
			}
			m = t.getMeta(lk)
			continue
		}
		live := prev != nil && !storage.IsDeleted(prev)
		var ts int64
		ts, m.ts = storage.NextTimestamp(m.ts, sentTimestamp(obj), !live)
		p := o.Prepared.(prepared)
		data := p.data
		if _, hasDeleted := obj["deleted"]; hasDeleted || !stampedAs(obj, ts) {
			// Stored as Replace would: the list's timestamp, no deleted
			// flag.
			obj = copyObject(obj)
			delete(obj, "deleted")
			obj["last_modified"] = ts
			if data, err = encode(obj, flagLive); err != nil {
				return err
			}
		}
		if !live {
			m.count++
		}
		if err := t.writeEncoded(lk, prev, obj, data); err != nil {
			return err
		}
		if err := t.storeACL(uri(id), p.acl); err != nil {
			return err
		}
	}
	return t.putMeta(lk, m)
}

// prepared is a live object of a bulk write encoded as stored, and its
// ACL.
type prepared struct {
	data []byte
	acl  preparedACL
}

// PrepareMany encodes the live objects of a bulk write and their ACLs
// (what storage.BulkPreparer asks of a backend on this engine), those not
// prepared yet, on every core when the page is large enough to be worth
// it.
func PrepareMany(objs []storage.BulkObject) error {
	workers := min(runtime.GOMAXPROCS(0), len(objs)/256+1)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(objs); i += workers {
				o := &objs[i]
				if _, done := o.Prepared.(prepared); done || storage.IsDeleted(o.Object) {
					continue
				}
				data, err := encode(o.Object, flagLive)
				if err != nil {
					errs[w] = err
					return
				}
				o.Prepared = prepared{data: data, acl: prepareACL(o.ACL)}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// stampedAs tells whether obj's last_modified is already ts, written as
// Replace would store it (an integer with no other spelling).
func stampedAs(obj storage.Object, ts int64) bool {
	switch v := obj["last_modified"].(type) {
	case int64:
		return v == ts
	case json.Number:
		return string(v) == strconv.FormatInt(ts, 10)
	}
	return false
}

// ascending tells whether a page's ids are in increasing order (an
// export's, whose ids sort as they were created, or a list's own order).
func ascending(objs []storage.BulkObject) bool {
	for i := 1; i < len(objs); i++ {
		if storage.ID(objs[i].Object) <= storage.ID(objs[i-1].Object) {
			return false
		}
	}
	return len(objs) > 1
}
