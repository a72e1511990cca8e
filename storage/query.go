package storage

import (
	"cmp"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// Op is a filter operator (querying.md QRY-02).
type Op string

// The filter operators. Their meaning is given by Match.
const (
	OpEq          Op = "eq"
	OpNot         Op = "not"
	OpLt          Op = "lt"
	OpGt          Op = "gt"
	OpMin         Op = "min"
	OpMax         Op = "max"
	OpIn          Op = "in"
	OpExclude     Op = "exclude"
	OpLike        Op = "like"
	OpHas         Op = "has"
	OpContains    Op = "contains"
	OpContainsAny Op = "contains_any"
)

// Filter is one condition on a field. Field may be a dotted path into
// sub-objects. Value is a decoded JSON value; for OpIn and OpExclude it is a
// []any, for OpHas a bool, for OpLike a string pattern where "*" matches any
// run of characters.
type Filter struct {
	Field string
	Op    Op
	Value any
}

// Sort orders a list by one field.
type Sort struct {
	Field string
	Desc  bool
}

// Query selects, orders and pages a list.
type Query struct {
	// Filters are combined with AND.
	Filters []Filter
	// Sort is the requested order. Backends append last_modified (when
	// absent, descending) and then id as tie-breakers; see FullSort.
	Sort []Sort
	// After, when set, is the keyset position: only objects sorting
	// strictly after it are returned. It holds the sort fields' values of
	// the last object of the previous page (a field absent from After
	// stands for a missing field).
	After Object
	// Limit caps the number of objects returned; 0 means no cap.
	Limit int
	// IncludeDeleted includes tombstones.
	IncludeDeleted bool
	// IDs, when not nil, restricts the query to these ids (the objects a
	// caller may read, taken from the ACL index).
	IDs []string
	// MaxBytes, when > 0, bounds a page by its objects' stored JSON: a
	// backend that honours it adds no object to a page whose objects hold
	// MaxBytes bytes or more already, so a page of a list that has
	// objects holds at least one (PageBytes counts them). Pages read in
	// the list's timestamp order stop reading there; pages in another
	// order may be read whole and cut afterwards. A backend that ignores
	// it leaves Cut alone.
	MaxBytes int
	// Cut, when not nil, is set by a backend that honours MaxBytes: true
	// when the page ended at MaxBytes, before Limit, with more objects
	// after its last one.
	Cut *bool
}

// PageBytes counts a page's stored bytes against a query's MaxBytes, for
// backends.
type PageBytes struct {
	max, sum int
}

// PageBytes returns the counter of q's page; it never fills when
// MaxBytes is 0.
func (q Query) PageBytes() PageBytes { return PageBytes{max: q.MaxBytes} }

// Full tells whether the page holds MaxBytes already: the next object
// found is left for the next page.
func (c *PageBytes) Full() bool { return c.max > 0 && c.sum >= c.max }

// Add counts an object added to the page, of size stored bytes.
func (c *PageBytes) Add(size int) { c.sum += size }

// Report sets *q.Cut for a page of n objects counted by c; more tells
// whether an object that would have followed was found.
func (c *PageBytes) Report(q Query, n int, more bool) {
	if q.Cut != nil {
		*q.Cut = more && c.Full() && (q.Limit <= 0 || n < q.Limit)
	}
}

// BytesFit returns how many of n objects, of stored sizes size(0),
// size(1), ... in the page's order, a page of q holds: all of them up to
// the one that brings their bytes to q.MaxBytes (all n when none does).
func (q Query) BytesFit(n int, size func(i int) int) int {
	kept, _ := q.fit(n, size)
	return kept
}

// TopPage sorts items (objects with their stored sizes) with storage's
// rules and keeps what a page of q holds of them: the first q.Limit, and
// of those the first whose stored bytes reach q.MaxBytes; dropped tells
// that any was left out for the bytes. A backend that must see every
// candidate of a page sorted by a field (a top-K) trims with it.
func TopPage[T any](items []T, sorts []Sort, q Query, obj func(T) Object, size func(T) int) (_ []T, dropped bool) {
	slices.SortStableFunc(items, func(a, b T) int { return Compare(obj(a), obj(b), sorts) })
	keep := len(items)
	if q.Limit > 0 && keep > q.Limit {
		keep = q.Limit
	}
	n := q.BytesFit(keep, func(i int) int { return size(items[i]) })
	clear(items[n:])
	return items[:n], n < keep
}

// fit is BytesFit with the bytes of the objects it keeps.
func (q Query) fit(n int, size func(i int) int) (int, PageBytes) {
	c := q.PageBytes()
	for i := 0; i < n; i++ {
		if c.Full() {
			return i, c
		}
		c.Add(size(i))
	}
	return n, c
}

// CutPage ends a page read whole at q.MaxBytes: it returns how many of
// its n objects (of stored sizes size(0), size(1), ...) the page keeps,
// and reports the cut to q.Cut; more tells that objects after the n are
// known to exist.
func (q Query) CutPage(n int, size func(i int) int, more bool) int {
	kept, c := q.fit(n, size)
	c.Report(q, kept, more || kept < n)
	return kept
}

// FullSort returns s with the tie-breakers every backend applies:
// last_modified (descending unless s names it) and then id.
func FullSort(s []Sort) []Sort {
	out := make([]Sort, 0, len(s)+2)
	hasLM, hasID := false, false
	for _, x := range s {
		out = append(out, x)
		if x.Field == "last_modified" {
			hasLM = true
		}
		if x.Field == "id" {
			hasID = true
		}
	}
	if !hasLM {
		out = append(out, Sort{Field: "last_modified", Desc: true})
	}
	if !hasID {
		out = append(out, Sort{Field: "id", Desc: out[len(out)-1].Desc})
	}
	return out
}

// Lookup returns the value at a dotted path. When an object key itself
// contains dots, the longest matching key wins.
func Lookup(obj map[string]any, path string) (any, bool) {
	if v, ok := obj[path]; ok {
		return v, true
	}
	// Try the longest prefix that is a key, then walk into it.
	for i := len(path) - 1; i > 0; i-- {
		if path[i] != '.' {
			continue
		}
		v, ok := obj[path[:i]]
		if !ok {
			continue
		}
		sub, isObj := v.(map[string]any)
		if !isObj {
			return nil, false
		}
		return Lookup(sub, path[i+1:])
	}
	return nil, false
}

// Int returns v as an int64 when it is an integral JSON number.
func Int(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return i, true
		}
		f, err := n.Float64()
		if err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<63 {
			return int64(f), true
		}
	case int64:
		return n, true
	case int:
		return int64(n), true
	case float64:
		if n == math.Trunc(n) && math.Abs(n) < 1<<63 {
			return int64(n), true
		}
	}
	return 0, false
}

// LastModified returns the object's last_modified, or 0.
func LastModified(obj Object) int64 {
	i, _ := Int(obj["last_modified"])
	return i
}

// ID returns the object's id, or "".
func ID(obj Object) string {
	s, _ := obj["id"].(string)
	return s
}

// IsDeleted tells whether obj is a tombstone.
func IsDeleted(obj Object) bool {
	b, _ := obj["deleted"].(bool)
	return b
}

// typeRank orders JSON types as QRY-06 says: null < strings < numbers <
// booleans < arrays < objects < missing.
func typeRank(v any, present bool) int {
	if !present {
		return 6
	}
	switch v.(type) {
	case nil:
		return 0
	case string:
		return 1
	case json.Number, float64, int64, int:
		return 2
	case bool:
		return 3
	case []any:
		return 4
	case map[string]any:
		return 5
	}
	return 5
}

// TypeRank is the rank of a value's JSON type in the cross-type order
// (CompareValues): 0 null, 1 strings, 2 numbers, 3 booleans, 4 arrays,
// 5 objects, 6 missing. Backends that sort by a key of their own order
// types with it.
func TypeRank(v any, present bool) int { return typeRank(v, present) }

// NumberFloat is a JSON number as the float64 CompareValues compares
// (integers are compared exactly first).
func NumberFloat(v any) float64 { return toFloat(v) }

func toFloat(v any) float64 {
	switch n := v.(type) {
	case json.Number:
		f, _ := n.Float64()
		return f
	case float64:
		return n
	case int64:
		return float64(n)
	case int:
		return float64(n)
	}
	return 0
}

// CompareValues orders two JSON values (present tells whether each exists)
// with the cross-type order of QRY-06. It returns -1, 0 or 1.
func CompareValues(a any, ap bool, b any, bp bool) int {
	ra, rb := typeRank(a, ap), typeRank(b, bp)
	if ra != rb {
		if ra < rb {
			return -1
		}
		return 1
	}
	switch ra {
	case 1:
		return strings.Compare(a.(string), b.(string))
	case 2:
		if ia, ok := Int(a); ok {
			if ib, ok := Int(b); ok {
				switch {
				case ia < ib:
					return -1
				case ia > ib:
					return 1
				}
				return 0
			}
		}
		fa, fb := toFloat(a), toFloat(b)
		switch {
		case fa < fb:
			return -1
		case fa > fb:
			return 1
		}
		return 0
	case 3:
		ba, bb := a.(bool), b.(bool)
		switch {
		case ba == bb:
			return 0
		case !ba:
			return -1
		}
		return 1
	case 4:
		// As PostgreSQL's JSONB, which Kinto sorts with: the shorter
		// array first, then element by element.
		la, lb := a.([]any), b.([]any)
		if c := cmp.Compare(len(la), len(lb)); c != 0 {
			return c
		}
		for i := range la {
			if c := CompareValues(la[i], true, lb[i], true); c != 0 {
				return c
			}
		}
		return 0
	case 5:
		ma, _ := a.(map[string]any)
		mb, _ := b.(map[string]any)
		return compareObjects(ma, mb)
	}
	return 0
}

// compareObjects orders objects as PostgreSQL's JSONB does, which Kinto
// sorts with: the one with fewer keys first, then key by key and value by
// value, the keys of each taken in JSONB's order (shorter first, then
// byte by byte).
func compareObjects(a, b map[string]any) int {
	ka, kb := jsonbKeys(a), jsonbKeys(b)
	if c := cmp.Compare(len(ka), len(kb)); c != 0 {
		return c
	}
	for i := range ka {
		if c := strings.Compare(ka[i], kb[i]); c != 0 {
			return c
		}
		if c := CompareValues(a[ka[i]], true, b[kb[i]], true); c != 0 {
			return c
		}
	}
	return 0
}

// jsonbKeys are an object's keys in JSONB's storage order.
func jsonbKeys(o map[string]any) []string {
	keys := make([]string, 0, len(o))
	for k := range o {
		if k != OrderKey {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(x, y string) int { return cmp.Or(cmp.Compare(len(x), len(y)), strings.Compare(x, y)) })
	return keys
}

// Equal tells whether two JSON values are equal.
func Equal(a, b any) bool { return CompareValues(a, true, b, true) == 0 }

// Compare orders two objects by the sort fields (use FullSort first). It
// returns a negative number when a comes first.
func Compare(a, b Object, sorts []Sort) int {
	for _, s := range sorts {
		va, pa := Lookup(a, s.Field)
		vb, pb := Lookup(b, s.Field)
		c := CompareValues(va, pa, vb, pb)
		if c != 0 {
			if s.Desc {
				return -c
			}
			return c
		}
	}
	return 0
}

// Match tells whether obj satisfies every filter.
func Match(obj Object, filters []Filter) bool {
	for i := range filters {
		if !matchOne(obj, &filters[i]) {
			return false
		}
	}
	return true
}

func matchOne(obj Object, f *Filter) bool {
	v, present := Lookup(obj, f.Field)
	switch f.Op {
	case OpHas:
		want, _ := f.Value.(bool)
		return present == want
	case OpNot:
		return !present || !Equal(v, f.Value)
	case OpGt, OpMin:
		if !present {
			// A missing field sorts after every value (QRY-06), and a
			// comparison agrees with the sort, as in Kinto.
			return true
		}
	case OpExclude:
		if !present {
			return true
		}
		for _, x := range asList(f.Value) {
			if Equal(v, x) {
				return false
			}
		}
		return true
	}
	if !present {
		return false
	}
	switch f.Op {
	case OpEq:
		return Equal(v, f.Value)
	case OpLt:
		return CompareValues(v, true, f.Value, true) < 0
	case OpGt:
		return CompareValues(v, true, f.Value, true) > 0
	case OpMin:
		return CompareValues(v, true, f.Value, true) >= 0
	case OpMax:
		return CompareValues(v, true, f.Value, true) <= 0
	case OpIn:
		for _, x := range asList(f.Value) {
			if Equal(v, x) {
				return true
			}
		}
		return false
	case OpLike:
		s, ok := v.(string)
		p, _ := f.Value.(string)
		return ok && Like(s, p)
	case OpContains, OpContainsAny:
		arr, ok := v.([]any)
		if !ok {
			return false
		}
		want := asList(f.Value)
		for _, w := range want {
			found := false
			for _, x := range arr {
				if Equal(x, w) {
					found = true
					break
				}
			}
			if f.Op == OpContainsAny && found {
				return true
			}
			if f.Op == OpContains && !found {
				return false
			}
		}
		return f.Op == OpContains
	}
	return false
}

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// Like matches s against a case-insensitive pattern where "*" matches any
// run of characters; a pattern without "*" matches anywhere in s.
func Like(s, pattern string) bool {
	if !strings.Contains(pattern, "*") {
		pattern = "*" + pattern + "*"
	}
	return globMatch(foldString(s), foldString(pattern))
}

func foldString(s string) string {
	if !utf8.ValidString(s) {
		return strings.ToLower(s)
	}
	return strings.ToLower(s)
}

func globMatch(s, p string) bool {
	parts := strings.Split(p, "*")
	if len(parts) == 1 {
		return s == p
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return strings.HasSuffix(s, last)
}

// TimeBounds extracts the range of last_modified values the filters allow,
// so backends can seek their timestamp index: lo and hi are inclusive
// bounds (0 and math.MaxInt64 when open).
func TimeBounds(filters []Filter) (lo, hi int64) {
	lo, hi = 0, math.MaxInt64
	for _, f := range filters {
		if f.Field != "last_modified" {
			continue
		}
		v, ok := Int(f.Value)
		if !ok {
			continue
		}
		switch f.Op {
		case OpGt:
			if v+1 > lo {
				lo = v + 1
			}
		case OpMin:
			if v > lo {
				lo = v
			}
		case OpLt:
			if v-1 < hi {
				hi = v - 1
			}
		case OpMax:
			if v < hi {
				hi = v
			}
		case OpEq:
			if v > lo {
				lo = v
			}
			if v < hi {
				hi = v
			}
		}
	}
	return lo, hi
}
