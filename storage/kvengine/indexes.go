package kvengine

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/nimbus-server/nimbus/storage"
)

// Declared indexes (QRY-14). For a list whose fields are declared
// indexed (storage.Indexer), every live object with a value at such a
// field has an entry
//
//	x  L + field + NUL + value key + id -> empty
//	X  L                                -> declaration (JSON: fields, and those built)
//
// The value key orders like storage.CompareValues across types (null,
// string, number, boolean, array, object) and, within strings, numbers
// and booleans, like their values; it is self-delimiting, so the id
// follows it. Every write of the list keeps the entries of every declared
// field, built or not; a query uses only the built ones, and only to find
// candidates, which then pass the same filters, order and page as a scan:
// the index changes the work, never the answer.

// declaration is what X holds for a list.
type declaration struct {
	Fields []string        `json:"fields"`
	Built  map[string]bool `json:"built"`
}

// declaration is the list's declaration, nil when it declares nothing.
// It is decoded once per transaction (memo); callers that change it
// write it back with setDeclaration.
func (t *Tx) declaration(lk []byte) *declaration {
	if d, ok := t.memo.decls[string(lk)]; ok {
		return d
	}
	var d *declaration
	if v := t.bucket("X").Get(lk); v != nil {
		d = &declaration{}
		if json.Unmarshal(v, d) != nil || len(d.Fields) == 0 {
			d = nil
		}
	}
	if t.memo.decls == nil {
		t.memo.decls = map[string]*declaration{}
	}
	t.memo.decls[string(lk)] = d
	return d
}

// setDeclaration stores the list's declaration (none: removed).
func (t *Tx) setDeclaration(lk []byte, d *declaration) error {
	delete(t.memo.decls, string(lk))
	if d == nil || len(d.Fields) == 0 {
		return t.bucket("X").Delete(lk)
	}
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return t.bucket("X").Put(lk, b)
}

// Value key ranks, as storage's typeRank.
const (
	rankNull byte = iota
	rankString
	rankNumber
	rankBool
	rankArray
	rankObject
)

// appendEscaped writes b with NUL escaped (NUL 0xFF) and a terminator
// (NUL 0x01), which keeps byte order and delimits the value.
func appendEscaped(dst, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, c)
		if c == 0 {
			dst = append(dst, 0xff)
		}
	}
	return append(dst, 0, 1)
}

// valueKey encodes a JSON value; ok is false for a value of no type
// storage knows.
func valueKey(dst []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case nil:
		return append(dst, rankNull), true
	case string:
		return appendEscaped(append(dst, rankString), []byte(x)), true
	case json.Number, float64, int64, int:
		f, ok := toFloat(v)
		if !ok {
			return dst, false
		}
		if f == 0 {
			f = 0 // -0 and 0 are one value
		}
		bits := math.Float64bits(f)
		if f >= 0 {
			bits ^= 1 << 63
		} else {
			bits = ^bits
		}
		return binary.BigEndian.AppendUint64(append(dst, rankNumber), bits), true
	case bool:
		if x {
			return append(dst, rankBool, 1), true
		}
		return append(dst, rankBool, 0), true
	case []any, map[string]any:
		rank := rankArray
		if _, ok := x.(map[string]any); ok {
			rank = rankObject
		}
		b, err := storage.AppendJSON(nil, x)
		if err != nil {
			return dst, false
		}
		return appendEscaped(append(dst, rank), b), true
	}
	return dst, false
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		// A number beyond float64 is ±Inf, which still orders it.
		return f, err == nil || math.IsInf(f, 0)
	case float64:
		return n, true
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	}
	return 0, false
}

func fieldPrefix(lk []byte, field string) []byte {
	k := append(bytes.Clone(lk), field...)
	return append(k, 0)
}

// indexEntry is the key of obj's entry for field, or nil when obj has no
// value there (or is a tombstone).
func indexEntry(lk []byte, field string, obj storage.Object) []byte {
	if obj == nil || storage.IsDeleted(obj) {
		return nil
	}
	v, ok := storage.Lookup(obj, field)
	if !ok {
		return nil
	}
	k, ok := valueKey(fieldPrefix(lk, field), v)
	if !ok {
		return nil
	}
	return append(k, storage.ID(obj)...)
}

// countKey is where the number of a field's entries is kept (X, beside
// the declaration): a descending walk needs to know that every live
// object has the field.
func countKey(lk []byte, field string) []byte { return append(fieldPrefix(lk, field), '#') }

func (t *Tx) entryCount(lk []byte, field string) int64 {
	v := t.bucket("X").Get(countKey(lk, field))
	if len(v) < 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

func (t *Tx) addEntries(lk []byte, field string, n int64) error {
	return t.bucket("X").Put(countKey(lk, field), binary.BigEndian.AppendUint64(nil, uint64(t.entryCount(lk, field)+n)))
}

// putEntry and dropEntry write and remove one entry, counting it.
func (t *Tx) putEntry(lk []byte, field string, e []byte) error {
	x := t.bucket("x")
	if x.Get(e) != nil {
		return nil
	}
	if err := x.Put(e, []byte{}); err != nil {
		return err
	}
	return t.addEntries(lk, field, 1)
}

func (t *Tx) dropEntry(lk []byte, field string, e []byte) error {
	x := t.bucket("x")
	if x.Get(e) == nil {
		return nil // not built yet
	}
	if err := x.Delete(e); err != nil {
		return err
	}
	return t.addEntries(lk, field, -1)
}

// keepIndexes replaces prev's entries by obj's, for every declared field.
func (t *Tx) keepIndexes(lk []byte, prev, obj storage.Object) error {
	d := t.declaration(lk)
	if d == nil {
		return nil
	}
	for _, f := range d.Fields {
		old, cur := indexEntry(lk, f, prev), indexEntry(lk, f, obj)
		if bytes.Equal(old, cur) {
			continue
		}
		if old != nil {
			if err := t.dropEntry(lk, f, old); err != nil {
				return err
			}
		}
		if cur != nil {
			if err := t.putEntry(lk, f, cur); err != nil {
				return err
			}
		}
	}
	return nil
}

// candidates returns the ids an index can narrow a query to, with ok
// false when no built index serves any of the filters (the caller
// scans). The ids are a superset of the matches (tombstones included
// when includeDeleted); order is the index's.
func (t *Tx) candidates(lk []byte, filters []storage.Filter, includeDeleted bool) ([]string, bool) {
	d := t.declaration(lk)
	if d == nil {
		return nil, false
	}
	best, rank := -1, 99
	for i, f := range filters {
		// A tombstone holds "deleted": such a field is never served.
		if !d.Built[f.Field] || f.Field == "deleted" {
			continue
		}
		if (f.Op == storage.OpMin || f.Op == storage.OpGt) && (includeDeleted || t.entryCount(lk, f.Field) != t.getMeta(lk).count) {
			// Objects without the field (tombstones among them) match
			// too, and the index does not hold them.
			continue
		}
		r := 99
		switch f.Op {
		case storage.OpEq:
			r = 0
		case storage.OpIn:
			r = 1
		case storage.OpMin, storage.OpMax, storage.OpLt, storage.OpGt:
			r = 2
		}
		if r < rank && scalarFilter(f) {
			best, rank = i, r
		}
	}
	if best < 0 {
		return nil, false
	}
	f := filters[best]
	prefix := fieldPrefix(lk, f.Field)
	var ids []string
	seen := map[string]bool{}
	collect := func(lo, hi []byte) {
		c := t.bucket("x").Cursor()
		for k, _ := c.Seek(lo); k != nil && bytes.Compare(k, hi) < 0; k, _ = c.Next() {
			id := idOfEntry(k, len(prefix))
			if id != "" && !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	end := prefixEnd(prefix)
	switch f.Op {
	case storage.OpEq:
		k, _ := valueKey(bytes.Clone(prefix), f.Value)
		collect(k, prefixEnd(k))
	case storage.OpIn:
		for _, v := range f.Value.([]any) {
			k, _ := valueKey(bytes.Clone(prefix), v)
			collect(k, prefixEnd(k))
		}
	case storage.OpMin, storage.OpGt:
		k, _ := valueKey(bytes.Clone(prefix), f.Value)
		collect(k, end)
	case storage.OpMax, storage.OpLt:
		k, _ := valueKey(bytes.Clone(prefix), f.Value)
		collect(prefix, prefixEnd(k))
	}
	return ids, true
}

// scalarFilter tells whether the filter's value (each value of an in_)
// is a string, number, boolean or null: the index answers those.
func scalarFilter(f storage.Filter) bool {
	scalar := func(v any) bool {
		switch v.(type) {
		case nil, string, bool, json.Number, float64, int64, int:
			return true
		}
		return false
	}
	if f.Op == storage.OpIn {
		l, ok := f.Value.([]any)
		if !ok {
			return false
		}
		return !slices.ContainsFunc(l, func(v any) bool { return !scalar(v) })
	}
	return scalar(f.Value)
}

// idOfEntry returns the id at the end of an entry key: after the value
// key that starts at off.
func idOfEntry(k []byte, off int) string {
	i := valueEnd(k, off)
	if i < 0 {
		return ""
	}
	return string(k[i:])
}

// prefixEnd is the first key after every key starting with p.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return append(end, 0xff)
}

// indexBatch and indexSlice bound one transaction of an index build (the
// objects it reads, the time it runs): a build holds the single writer
// a few milliseconds at a time, however fast the machine.
const (
	indexBatch = 500
	indexSlice = 5 * time.Millisecond
)

// DeclareIndexes implements storage.Indexer for the backends on this
// engine: the list's declaration is replaced (entries of fields no longer
// declared go at once), then the entries of new fields are written in
// batches of write transactions, writers running between them, and the
// fields marked built. update runs a write transaction.
func DeclareIndexes(ctx context.Context, update func(context.Context, func(*Tx) error) error, ref storage.Ref, fields []string) error {
	lk := listKey(ref)
	var todo []string
	err := update(ctx, func(t *Tx) error {
		old := t.declaration(lk)
		d := declaration{Fields: fields, Built: map[string]bool{}}
		todo = todo[:0]
		for _, f := range fields {
			if old != nil && old.Built[f] {
				d.Built[f] = true
			} else {
				todo = append(todo, f)
			}
		}
		if old != nil {
			for _, f := range old.Fields {
				if !slices.Contains(fields, f) {
					if err := deletePrefix(t.bucket("x"), fieldPrefix(lk, f)); err != nil {
						return err
					}
					if err := t.bucket("X").Delete(countKey(lk, f)); err != nil {
						return err
					}
				}
			}
		}
		return t.setDeclaration(lk, &d)
	})
	if err != nil || len(todo) == 0 {
		return err
	}
	var after []byte
	for done := false; !done; {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := update(ctx, func(t *Tx) error {
			d := t.declaration(lk)
			if d == nil {
				done = true
				return nil
			}
			c := t.bucket("o").Cursor()
			start := lk
			if after != nil {
				start = append(bytes.Clone(after), 0)
			}
			n := 0
			began := time.Now()
			k, v := c.Seek(start)
			for ; k != nil && bytes.HasPrefix(k, lk) && n < indexBatch && (n%64 != 0 || time.Since(began) < indexSlice); k, v = c.Next() {
				n++
				after = bytes.Clone(k)
				if len(v) == 0 || v[0] != flagLive {
					continue
				}
				o, err := decode(v)
				if err != nil {
					return err
				}
				for _, f := range todo {
					if !slices.Contains(d.Fields, f) {
						continue
					}
					if e := indexEntry(lk, f, o); e != nil {
						if err := t.putEntry(lk, f, e); err != nil {
							return err
						}
					}
				}
			}
			if k == nil || !bytes.HasPrefix(k, lk) {
				done = true
				for _, f := range todo {
					if slices.Contains(d.Fields, f) {
						d.Built[f] = true
					}
				}
				return t.setDeclaration(lk, d)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// valueEnd is where the value key that starts at off ends in an entry
// key (where the id starts), or -1.
func valueEnd(k []byte, off int) int {
	if off >= len(k) {
		return -1
	}
	i := off + 1
	switch k[off] {
	case rankNull:
	case rankNumber:
		i += 8
	case rankBool:
		i++
	default: // escaped bytes up to the terminator NUL 0x01
		for i+1 < len(k) && !(k[i] == 0 && k[i+1] == 1) {
			if k[i] == 0 {
				i++
			}
			i++
		}
		i += 2
	}
	if i > len(k) {
		return -1
	}
	return i
}

// listByIndex answers a page sorted first by a built indexed field by
// walking the field's entries in that order: entries of equal value keys
// (and, for arrays and objects, of one type, whose keys do not order like
// their values) form a group, filtered and sorted with the scan's rules,
// until the page is full. Objects without the field (tombstones too) are
// not in the index: they sort after every value, so an ascending walk
// that ends before the page is full does not serve; they sort first
// descending, so a descending walk serves only when every live object
// has the field and tombstones are not asked for. served is false when
// the caller must scan.
func (t *Tx) listByIndex(lk []byte, q storage.Query, sorts []storage.Sort, keep func(storage.Object) bool) (out []storage.Object, served bool, err error) {
	if q.Limit <= 0 || len(q.Sort) == 0 || q.Sort[0].Field == "deleted" {
		return nil, false, nil
	}
	field, desc := q.Sort[0].Field, q.Sort[0].Desc
	d := t.declaration(lk)
	if d == nil || !d.Built[field] {
		return nil, false, nil
	}
	if desc && (q.IncludeDeleted || t.entryCount(lk, field) != t.getMeta(lk).count) {
		return nil, false, nil
	}
	prefix := fieldPrefix(lk, field)
	// from is the keyset position's group (the whole field without one).
	from := prefix
	if q.After != nil {
		v, ok := storage.Lookup(q.After, field)
		if !ok {
			return nil, false, nil // the position is among objects without the field
		}
		k, ok := valueKey(bytes.Clone(prefix), v)
		if !ok {
			return nil, false, nil
		}
		from = groupOf(k, len(prefix))
	}
	// A page that starts within a group of one value reads the rest of
	// the group in its order (indexties.go), then the groups after it.
	var skipFrom bool
	if q.After != nil && len(from) > len(prefix) && from[len(prefix)] != rankArray && from[len(prefix)] != rankObject &&
		len(sorts) > 1 && sorts[1].Field == "last_modified" && sorts[1].Desc {
		ties, exhausted, ok, err := t.tiesAfter(lk, from, q.After, q.Limit, keep)
		if err != nil {
			return nil, false, err
		}
		if ok && !exhausted {
			return ties, true, nil
		}
		out, skipFrom = ties, ok
	}
	c := t.bucket("x").Cursor()
	step := c.Next
	k, _ := c.Seek(from)
	if skipFrom {
		k, _ = c.Seek(prefixEnd(from))
	}
	if desc {
		step = c.Prev
		switch {
		case skipFrom:
			k, _ = c.Seek(from)
			if k == nil {
				k, _ = c.Last()
			} else {
				k, _ = c.Prev()
			}
		default:
			if k, _ = c.Seek(prefixEnd(from)); k == nil {
				k, _ = c.Last()
			} else {
				k, _ = c.Prev()
			}
		}
	}
	for k != nil && bytes.HasPrefix(k, prefix) {
		if valueEnd(k, len(prefix)) < 0 {
			return nil, false, nil
		}
		group := bytes.Clone(groupOf(k, len(prefix)))
		var objs []storage.Object
		for ; k != nil && bytes.HasPrefix(k, group); k, _ = step() {
			e := valueEnd(k, len(prefix))
			if e < 0 {
				return nil, false, nil
			}
			o, err := t.stored(lk, string(k[e:]))
			if err != nil {
				return nil, false, err
			}
			if o != nil && keep(o) {
				objs = append(objs, o)
			}
		}
		sort.SliceStable(objs, func(i, j int) bool { return storage.Compare(objs[i], objs[j], sorts) < 0 })
		out = append(out, objs...)
		if len(out) >= q.Limit {
			return out[:q.Limit], true, nil
		}
	}
	// A descending walk has seen every live object (the counts agree).
	return out, desc, nil
}

// groupOf is the part of an entry (or value) key that its group shares:
// the value key, or only the type for arrays and objects. off is where
// the value key starts.
func groupOf(k []byte, off int) []byte {
	if r := k[off]; r == rankArray || r == rankObject {
		return k[:off+1]
	}
	if e := valueEnd(k, off); e >= 0 {
		return k[:e]
	}
	return k
}
