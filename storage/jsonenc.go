package storage

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends the JSON encoding of a decoded JSON value (objects,
// arrays, strings, json.Number, numbers, booleans, null) to b, without
// HTML escaping. Object keys are written in the order of the object's
// order hint (see OrderKey) and then in sorted order, so the same value
// always gives the same bytes. It is several times faster than
// encoding/json for the generic values objects are made of, and falls
// back to encoding/json for any other type.
func AppendJSON(b []byte, v any) ([]byte, error) { return appendValue(b, v, nil) }

// AppendSortedJSON appends v with every object's keys in sorted order,
// whatever its order hint: a canonical form, for comparisons.
func AppendSortedJSON(b []byte, v any) ([]byte, error) { return appendValue(b, v, sortedOnly) }

// sortedOnly is a template list that turns order hints off.
var sortedOnly = [][]byte{nil}

func appendValue(b []byte, v any, tmpls [][]byte) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, x), nil
	case bool:
		if x {
			return append(b, "true"...), nil
		}
		return append(b, "false"...), nil
	case json.Number:
		if x == "" {
			return append(b, '0'), nil
		}
		return append(b, x...), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return append(b, "null"...), nil
		}
		return strconv.AppendFloat(b, x, 'g', -1, 64), nil
	case map[string]any:
		return appendObject(b, x, tmpls)
	case []any:
		var elems [][]byte
		sorted := isSortedOnly(tmpls)
		if !sorted && len(tmpls) > 0 {
			elems = arrayElems(tmpls[0])
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var sub [][]byte
			switch {
			case sorted:
				sub = sortedOnly
			case i < len(elems):
				sub = elems[i : i+1]
			}
			var err error
			if b, err = appendValue(b, e, sub); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case json.RawMessage:
		return append(b, x...), nil
	case []map[string]any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendValue(b, e, nil); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case map[string][]string:
		b = append(b, '{')
		for i, k := range sortedKeys(x) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b, _ = appendValue(b, x[k], nil)
		}
		return append(b, '}'), nil
	case map[string]string:
		b = append(b, '{')
		for i, k := range sortedKeys(x) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, x[k])
		}
		return append(b, '}'), nil
	case []string:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, e)
		}
		return append(b, ']'), nil
	case *Order:
		return append(b, "null"...), nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return append(b, bytes.TrimRight(buf.Bytes(), "\n")...), nil
}

func isSortedOnly(tmpls [][]byte) bool { return len(tmpls) == 1 && tmpls[0] == nil }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		if k != OrderKey {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// appendObject writes m with its keys in template order, then the others
// sorted. The object's own hint wins over the part of an enclosing
// template that describes it.
func appendObject(b []byte, m map[string]any, tmpls [][]byte) ([]byte, error) {
	sorted := isSortedOnly(tmpls)
	var one [1][]byte
	var cached []orderField
	var own *Order
	if sorted {
		tmpls = nil
	} else if o, ok := m[OrderKey].(*Order); ok {
		own = o
		if own.more == nil {
			one[0] = own.first
			tmpls = one[:]
			cached = own.fields()
		} else {
			tmpls = own.texts()
		}
	}
	var sub [][]byte
	if sorted {
		sub = sortedOnly
	}
	n := dataKeys(m)
	b = append(b, '{')
	written := 0
	var err error
	var done map[string]bool
	if len(tmpls) > 1 {
		done = make(map[string]bool, n)
	}
	var subBuf [1][]byte
	// emit writes the field k of the template ti, whose text is raw.
	emit := func(ti int, k string, raw []byte) error {
		v, ok := m[k]
		if !ok || k == OrderKey || done[k] {
			return nil
		}
		subBuf[0] = raw
		vsub := subBuf[:]
		if done != nil {
			done[k] = true
			vsub = [][]byte{raw}
			for _, later := range tmpls[ti+1:] {
				if r := RawField(later, k); r != nil {
					vsub = append(vsub, r)
				}
			}
		}
		if written > 0 {
			b = append(b, ',')
		}
		written++
		b = appendString(b, k)
		b = append(b, ':')
		b, err = appendValue(b, v, vsub)
		return err
	}
	for ti := 0; ti < len(tmpls) && written < n; ti++ {
		if ti == 0 && cached != nil {
			// The object's own text, read once for every encoding of it.
			for _, f := range cached {
				if written >= n {
					break
				}
				if err := emit(0, f.key, f.raw); err != nil {
					return nil, err
				}
			}
			continue
		}
		it, _ := newFieldIter(tmpls[ti])
		for written < n {
			k, raw, more := it.next()
			if !more {
				break
			}
			if err := emit(ti, k, raw); err != nil {
				return nil, err
			}
		}
	}
	if written < n {
		var keyBuf [16]string
		rest := keyBuf[:0]
		if len(tmpls) == 0 {
			for k := range m {
				if k != OrderKey {
					rest = append(rest, k)
				}
			}
		} else if done == nil && cached != nil {
			// The object's own text alone: the keys it does not hold.
			for k := range m {
				if k != OrderKey && !own.has(k) {
					rest = append(rest, k)
				}
			}
		} else {
			placed := done
			if placed == nil {
				placed = make(map[string]bool, written)
				for _, t := range tmpls {
					it, _ := newFieldIter(t)
					for {
						k, _, more := it.next()
						if !more {
							break
						}
						placed[k] = true
					}
				}
			}
			for k := range m {
				if k != OrderKey && !placed[k] {
					rest = append(rest, k)
				}
			}
		}
		slices.Sort(rest)
		for _, k := range rest {
			if written > 0 {
				b = append(b, ',')
			}
			written++
			b = appendString(b, k)
			b = append(b, ':')
			if b, err = appendValue(b, m[k], sub); err != nil {
				return nil, err
			}
		}
	}
	return append(b, '}'), nil
}

const hexDigits = "0123456789abcdef"

func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
