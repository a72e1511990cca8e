// The read side of lists: counts, pages in timestamp order or sorted by
// fields, the index scans beneath them and the prefilter on stored bytes.

package kvengine

import (
	"bytes"
	"io"
	"math"
	"strings"

	"github.com/nimbus-server/nimbus/storage"
)

// Count implements storage.Tx.
func (t *Tx) Count(ref storage.Ref, filters []storage.Filter, includeDeleted bool) (int, error) {
	lk := listKey(ref)
	if len(filters) == 0 && !includeDeleted {
		return int(t.getMeta(lk).count), nil
	}
	n := 0
	if ids, ok := t.candidates(lk, filters, includeDeleted); ok {
		for _, id := range ids {
			o, err := t.stored(lk, id)
			if err != nil {
				return 0, err
			}
			if o != nil && (includeDeleted || !storage.IsDeleted(o)) && storage.Match(o, filters) {
				n++
			}
		}
		return n, nil
	}
	err := t.scanIndex(lk, false, filters, nil, func(o storage.Object) (bool, error) {
		if !includeDeleted && storage.IsDeleted(o) {
			return true, nil
		}
		if storage.Match(o, filters) {
			n++
		}
		return true, nil
	})
	return n, err
}

// List implements storage.Tx.
func (t *Tx) List(ref storage.Ref, q storage.Query) ([]storage.Object, error) {
	lk := listKey(ref)
	sorts := storage.FullSort(q.Sort)
	keep := func(o storage.Object) bool {
		if storage.IsDeleted(o) && !q.IncludeDeleted {
			return false
		}
		if !storage.Match(o, q.Filters) {
			return false
		}
		return q.After == nil || storage.Compare(o, q.After, sorts) > 0
	}
	if q.IDs != nil {
		return t.listIDs(lk, q, sorts, keep)
	}
	if ids, ok := t.candidates(lk, q.Filters, q.IncludeDeleted); ok {
		// A declared index narrows the list to its candidates; they
		// pass the same filters, order and page as a scan.
		q.IDs = ids
		return t.listIDs(lk, q, sorts, keep)
	}
	if out, served, err := t.listByIndex(lk, q, sorts, keep); err != nil || served {
		if err != nil {
			return nil, err
		}
		return t.cutStored(lk, q, out)
	}
	if len(sorts) == 2 && sorts[0].Field == "last_modified" && sorts[1].Field == "id" && sorts[0].Desc == sorts[1].Desc {
		// The list's own order: the page stops reading at its limit, or
		// at the bytes it may hold.
		var out []storage.Object
		pb, more := q.PageBytes(), false
		err := t.scanRaw(lk, sorts[0].Desc, q.Filters, q.After, func(v []byte) (bool, error) {
			o, err := decode(v)
			if err != nil {
				return false, err
			}
			if keep(o) {
				if more = pb.Full(); more {
					return false, nil
				}
				out = append(out, o)
				pb.Add(len(v))
			}
			return q.Limit <= 0 || len(out) < q.Limit, nil
		})
		pb.Report(q, len(out), more)
		return out, err
	}
	top := newTopK(q, sorts)
	candidate := candidateDecoder(q, sorts)
	n := 0
	var scanErr error
	prefixScan(t.bucket("o"), lk, func(_, v []byte) bool {
		if n++; n%1024 == 0 {
			if scanErr = t.checkCtx(); scanErr != nil {
				return false
			}
		}
		o, partial, err := candidate(v)
		if err != nil {
			scanErr = err
			return false
		}
		if keep(o) {
			top.add(ranked{o, len(v), partial})
		}
		return true
	})
	if scanErr != nil {
		return nil, scanErr
	}
	items, more := top.result()
	return t.pageOf(lk, q, items, more)
}

// partialPage is the largest page whose candidates candidateDecoder
// decodes in part. A larger one (a list without paginate_by asks for
// storage_max_fetch_size objects) returns most of them: each would be
// decoded twice, and a sorted list of 10,000 records ran 40 % slower.
const partialPage = 1000

// bigCandidate is the stored size from which candidateDecoder decodes a
// candidate in part whatever the page's size: few such objects fit a page
// (page_max_bytes), and decoding each whole cost as much as its size in
// memory and time (sorting sixty records of 7 MB decoded 420 MB a page).
const bigCandidate = 64 << 10

// candidateDecoder decodes the candidates of a page sorted in an order
// of fields: whole when the page is large or has no limit, otherwise only
// the top-level fields the filters, the order and the keyset position
// read, since most candidates are dropped and a page keeps up to twice its
// size and more while it is sorted (objects of megabytes, many at once,
// took gigabytes); large objects are decoded in part always. It tells
// which it did; pageOf then decodes the page's objects in full.
func candidateDecoder(q storage.Query, sorts []storage.Sort) func([]byte) (storage.Object, bool, error) {
	small := q.Limit > 0 && q.Limit <= partialPage
	read := func(key string) bool {
		switch key {
		case "id", "last_modified", "deleted":
			return true
		}
		for i := range sorts {
			if storage.FilteredKey(key, sorts[i].Field) {
				return true
			}
		}
		for i := range q.Filters {
			if storage.FilteredKey(key, q.Filters[i].Field) {
				return true
			}
		}
		return false
	}
	return func(v []byte) (storage.Object, bool, error) {
		if !small && len(v) < bigCandidate {
			o, err := decode(v)
			return o, false, err
		}
		if len(v) == 0 {
			return nil, false, &storage.BackendError{Op: "decode object", Err: io.ErrUnexpectedEOF}
		}
		o, err := storage.DecodeFields(v[1:], read)
		if err != nil {
			return nil, false, &storage.BackendError{Op: "decode object", Err: err}
		}
		return o, true, nil
	}
}

// pageOf makes a page of topK's candidates: it ends the page at
// q.MaxBytes of stored JSON and decodes in full the candidates decoded in
// part, up to the cut only. more tells that objects after the page's
// were left out already (topK).
func (t *Tx) pageOf(lk []byte, q storage.Query, items []ranked, more bool) ([]storage.Object, error) {
	objects := t.bucket("o")
	pb := q.PageBytes()
	page := make([]storage.Object, 0, len(items))
	for _, r := range items {
		if pb.Full() {
			more = true
			break
		}
		o := r.o
		if r.partial {
			v := objects.Get(objKey(lk, storage.ID(o)))
			if v == nil {
				return nil, &storage.BackendError{Op: "read object", Err: io.ErrUnexpectedEOF}
			}
			full, err := decode(v)
			if err != nil {
				return nil, err
			}
			o = full
		}
		page = append(page, o)
		pb.Add(r.size)
	}
	pb.Report(q, len(page), more)
	return page, nil
}

// cutStored ends a page of whole objects at q.MaxBytes of stored JSON.
func (t *Tx) cutStored(lk []byte, q storage.Query, page []storage.Object) ([]storage.Object, error) {
	if q.MaxBytes <= 0 {
		return page, nil
	}
	objects := t.bucket("o")
	n := q.CutPage(len(page), func(i int) int { return len(objects.Get(objKey(lk, storage.ID(page[i])))) }, false)
	return page[:n], nil
}

// ListRaw implements storage.RawLister for pages in last_modified order.
func (t *Tx) ListRaw(ref storage.Ref, q storage.Query) ([][]byte, bool, error) {
	sorts := storage.FullSort(q.Sort)
	if q.IDs != nil || len(sorts) != 2 || sorts[0].Field != "last_modified" || sorts[1].Field != "id" || sorts[0].Desc != sorts[1].Desc {
		return nil, false, nil
	}
	if _, indexed := t.candidates(listKey(ref), q.Filters, q.IncludeDeleted); indexed {
		return nil, false, nil // List answers it from the index
	}
	var out [][]byte
	pb, more := q.PageBytes(), false
	// A candidate is checked on the fields the filters read, decoded
	// alone.
	filtered := func(key string) bool {
		for i := range q.Filters {
			if storage.FilteredKey(key, q.Filters[i].Field) {
				return true
			}
		}
		return false
	}
	err := t.scanRaw(listKey(ref), sorts[0].Desc, q.Filters, q.After, func(v []byte) (bool, error) {
		if len(v) == 0 || (v[0] == flagDeleted && !q.IncludeDeleted) {
			return true, nil
		}
		if len(q.Filters) > 0 {
			o, err := storage.DecodeFields(v[1:], filtered)
			if err != nil {
				return false, &storage.BackendError{Op: "decode object", Err: err}
			}
			if !storage.Match(o, q.Filters) {
				return true, nil
			}
		}
		if more = pb.Full(); more {
			return false, nil
		}
		out = append(out, bytes.Clone(v[1:]))
		pb.Add(len(v))
		return q.Limit <= 0 || len(out) < q.Limit, nil
	})
	pb.Report(q, len(out), more)
	return out, true, err
}

func (t *Tx) listIDs(lk []byte, q storage.Query, sorts []storage.Sort, keep func(storage.Object) bool) ([]storage.Object, error) {
	top := newTopK(q, sorts)
	candidate := candidateDecoder(q, sorts)
	objects := t.bucket("o")
	seen := make(map[string]bool, len(q.IDs))
	for _, id := range q.IDs {
		if seen[id] {
			continue
		}
		seen[id] = true
		v := objects.Get(objKey(lk, id))
		if v == nil {
			continue
		}
		o, partial, err := candidate(v)
		if err != nil {
			return nil, err
		}
		if keep(o) {
			top.add(ranked{o, len(v), partial})
		}
	}
	items, more := top.result()
	return t.pageOf(lk, q, items, more)
}

// scanIndex walks the timestamp index of a list in order, within the time
// bounds of the filters and after the keyset position, decoding each
// object and calling fn until it returns false.
func (t *Tx) scanIndex(lk []byte, desc bool, filters []storage.Filter, after storage.Object, fn func(storage.Object) (bool, error)) error {
	return t.scanRaw(lk, desc, filters, after, func(v []byte) (bool, error) {
		o, err := decode(v)
		if err != nil {
			return false, err
		}
		return fn(o)
	})
}

// scanRaw walks the timestamp index like scanIndex, handing over the
// stored bytes (flag byte first) of the objects that pass the prefilter.
func (t *Tx) scanRaw(lk []byte, desc bool, filters []storage.Filter, after storage.Object, fn func([]byte) (bool, error)) error {
	lo, hi := storage.TimeBounds(filters)
	var afterKey []byte
	if after != nil {
		if v, ok := after["last_modified"]; ok {
			if ts, ok := storage.Int(v); ok {
				afterKey = tsKey(lk, ts, storage.ID(after))
			}
		}
	}
	lower := tsKey(lk, lo, "")
	upper := tsKey(lk, hi, "\xff\xff\xff\xff")
	if hi == math.MaxInt64 {
		upper = append(bytes.Clone(lk), 0xff)
	}
	objects := t.bucket("o")
	c := t.bucket("t").Cursor()
	needles := prefilter(filters)
	var k []byte
	if desc {
		start := upper
		if afterKey != nil && bytes.Compare(afterKey, start) < 0 {
			start = afterKey
		}
		k, _ = c.Seek(start)
		if k == nil {
			k, _ = c.Last()
		}
		for k != nil && bytes.Compare(k, start) >= 0 {
			k, _ = c.Prev()
		}
	} else {
		start := lower
		if afterKey != nil && bytes.Compare(afterKey, start) >= 0 {
			start = afterKey
		}
		k, _ = c.Seek(start)
		for k != nil && afterKey != nil && bytes.Equal(k, afterKey) {
			k, _ = c.Next()
		}
	}
	// Objects are fetched through a cursor of their own that first tries
	// the neighbour of the previous one: lists mostly grow in id order as
	// they do in time order (generated ids start with their creation
	// time), so a step usually replaces a search from the root.
	oc := objects.Cursor()
	var at []byte
	fetch := func(key []byte) []byte {
		if at != nil {
			var nk, nv []byte
			if desc {
				nk, nv = oc.Prev()
			} else {
				nk, nv = oc.Next()
			}
			if nk != nil && bytes.Equal(nk, key) {
				at = nk
				return nv
			}
		}
		nk, nv := oc.Seek(key)
		if nk == nil || !bytes.Equal(nk, key) {
			at = nil
			return nil
		}
		at = nk
		return nv
	}
	okey := bytes.Clone(lk)
	n := 0
	for ; k != nil && bytes.HasPrefix(k, lk) && len(k) >= len(lk)+8; n++ {
		if bytes.Compare(k, lower) < 0 || bytes.Compare(k, upper) > 0 {
			break
		}
		if n%1024 == 1023 {
			if err := t.checkCtx(); err != nil {
				return err
			}
		}
		okey = append(okey[:len(lk)], k[len(lk)+8:]...)
		v := fetch(okey)
		if v != nil && !rejects(v, needles) {
			more, err := fn(v)
			if err != nil || !more {
				return err
			}
		}
		if desc {
			k, _ = c.Prev()
		} else {
			k, _ = c.Next()
		}
	}
	return nil
}

// prefilter returns byte patterns that the stored JSON of any object
// matching the filters must contain: "field":value for equality filters
// on top-level fields with string, boolean or null values, whose encoding
// by storage.AppendJSON is canonical. Objects lacking one are skipped
// without being decoded; the others are still checked in full.
func prefilter(filters []storage.Filter) [][]byte {
	var out [][]byte
	for _, f := range filters {
		if f.Op != storage.OpEq || strings.Contains(f.Field, ".") {
			continue
		}
		switch f.Value.(type) {
		case string, bool, nil:
		default:
			continue
		}
		b, err := storage.AppendJSON(nil, f.Field)
		if err != nil {
			continue
		}
		b = append(b, ':')
		if b, err = storage.AppendJSON(b, f.Value); err == nil {
			out = append(out, b)
		}
	}
	return out
}

func rejects(stored []byte, needles [][]byte) bool {
	for _, n := range needles {
		if !bytes.Contains(stored, n) {
			return true
		}
	}
	return false
}

// Lists implements storage.Lister from the list metadata.
func (t *Tx) Lists(resource string) ([]storage.Ref, error) {
	var out []storage.Ref
	c := t.bucket("m").Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		parts := bytes.SplitN(k, []byte{0}, 3)
		if len(parts) == 3 && string(parts[1]) == resource {
			out = append(out, storage.Ref{Resource: resource, Parent: string(parts[0])})
		}
	}
	return out, nil
}
