package storage

import (
	"encoding/json"
	"errors"
	"sync/atomic"
	"unsafe"
)

// Key order.
//
// Decoded JSON objects are Go maps, whose iteration order is random. To
// answer an object with its keys in the order the client sent them, and
// with the same bytes on every read (RES-02, "Key order"), a decoded
// object keeps the JSON text it came from under OrderKey, as an Order:
// AppendJSON then writes the keys of that object, and of every object
// nested in it, in the order of that text (its template), and any other
// key after them in sorted order. The template is only a hint: values
// always come from the map, so a map changed after decoding is still
// written correctly, with its new keys last.
//
// Only the top-level object of a decoded document carries an Order; the
// objects nested in it take their order from the matching part of the
// template. Every other map is written with sorted keys.

// OrderKey is the map key under which an object keeps its Order. Decoding
// refuses it as a JSON key, so it never holds client data.
const OrderKey = "\x00order"

// Order is the key-order hint of an object: JSON texts whose object keys,
// in order, give the order to write the object's keys in. Later templates
// only place the keys the earlier ones lack (a merge PATCH: the stored
// object, then the patch).
type Order struct {
	first []byte
	more  [][]byte
	// parsed keeps the fields of first once an encoder has read them:
	// an object is encoded several times (stored, answered, embedded in a
	// history entry) from the same text.
	parsed atomic.Pointer[[]orderField]
	// keys holds the keys of first once an encoder needed to know which
	// keys of its object first leaves out (those go after, sorted).
	keys atomic.Pointer[map[string]struct{}]
}

// orderField is one key of a template and the text of its value.
type orderField struct {
	key string
	raw []byte
}

// fields returns the keys of the first template in order, with the text
// of their values, reading the text once.
func (o *Order) fields() []orderField {
	if p := o.parsed.Load(); p != nil {
		return *p
	}
	var out []orderField
	it, _ := newFieldIter(o.first)
	for {
		k, raw, more := it.next()
		if !more {
			break
		}
		out = append(out, orderField{key: k, raw: raw})
	}
	if out == nil {
		out = []orderField{}
	}
	o.parsed.Store(&out)
	return out
}

// smallOrder is the number of keys up to which an encoder finds a key
// among the fields of first by reading them all, without a set.
const smallOrder = 16

// has tells whether the first template holds key k.
func (o *Order) has(k string) bool {
	f := o.fields()
	if len(f) <= smallOrder {
		for _, x := range f {
			if x.key == k {
				return true
			}
		}
		return false
	}
	if p := o.keys.Load(); p != nil {
		_, ok := (*p)[k]
		return ok
	}
	set := make(map[string]struct{}, len(f))
	for _, x := range f {
		set[x.key] = struct{}{}
	}
	o.keys.Store(&set)
	_, ok := set[k]
	return ok
}

// texts returns the templates in order.
func (o *Order) texts() [][]byte {
	if o.more == nil {
		return [][]byte{o.first}
	}
	return append([][]byte{o.first}, o.more...)
}

// WithOrder sets obj's order hint to the given JSON texts and returns obj.
func WithOrder(obj map[string]any, templates ...[]byte) map[string]any {
	if obj != nil && len(templates) > 0 {
		o := &Order{first: templates[0]}
		if len(templates) > 1 {
			o.more = append([][]byte(nil), templates[1:]...)
		}
		obj[OrderKey] = o
	}
	return obj
}

// WithClientOrder sets obj's order hint to JSON text sent by a client,
// unless that text repeats a key in some object (the decoder kept the last
// value; the hint would place the key twice), and returns obj.
func WithClientOrder(obj map[string]any, raw []byte) map[string]any {
	if raw == nil || hasDuplicateKeys(raw) {
		return obj
	}
	WithOrder(obj, raw)
	if o, ok := obj[OrderKey].(*Order); ok && len(raw) >= primeOrder {
		// Read the text now, in the caller's time, rather than in the
		// first encoding's, which may run in a write transaction.
		o.has("")
	}
	return obj
}

// primeOrder is the size of a client's text from which WithClientOrder
// reads it at once.
const primeOrder = 4 << 10

// ThenClientOrder is thenOrder for JSON text sent by a client.
func ThenClientOrder(obj map[string]any, raw []byte) map[string]any {
	if raw == nil || hasDuplicateKeys(raw) {
		return obj
	}
	return thenOrder(obj, raw)
}

// hasDuplicateKeys tells whether some object of the JSON text b repeats a
// key. Objects of up to 16 keys are checked without allocating.
func hasDuplicateKeys(b []byte) bool {
	if it, ok := newFieldIter(b); ok {
		var small [16]string
		seen := small[:0]
		var big map[string]bool
		for {
			k, raw, more := it.next()
			if !more {
				return false
			}
			if big == nil && len(seen) < len(small) {
				for _, s := range seen {
					if s == k {
						return true
					}
				}
				seen = append(seen, k)
			} else {
				if big == nil {
					big = make(map[string]bool, 2*len(seen))
					for _, s := range seen {
						big[s] = true
					}
				}
				if big[k] {
					return true
				}
				big[k] = true
			}
			if len(raw) > 0 && (raw[0] == '{' || raw[0] == '[') && hasDuplicateKeys(raw) {
				return true
			}
		}
	}
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return false
	}
	for _, e := range arrayElems(b) {
		if len(e) > 0 && (e[0] == '{' || e[0] == '[') && hasDuplicateKeys(e) {
			return true
		}
	}
	return false
}

// orderOf returns the order hint templates of obj (nil when it has none).
func orderOf(obj map[string]any) [][]byte {
	if o, ok := obj[OrderKey].(*Order); ok {
		return o.texts()
	}
	return nil
}

// thenOrder appends a template to obj's order hint: keys it places come
// after those of the existing templates.
func thenOrder(obj map[string]any, template []byte) map[string]any {
	ts := orderOf(obj)
	out := make([][]byte, 0, len(ts)+1)
	return WithOrder(obj, append(append(out, ts...), template)...)
}

// dataKeys returns the number of keys of obj that hold data (OrderKey aside).
func dataKeys(obj map[string]any) int {
	if _, ok := obj[OrderKey]; ok {
		return len(obj) - 1
	}
	return len(obj)
}

// errNotObject is a text that should hold a JSON object and does not.
var errNotObject = errors.New("not a JSON object")

// DecodeOrdered decodes a JSON object and keeps a copy of its text as the
// object's order hint.
//
// The copy is decoded in place: the object's strings share its bytes,
// which costs one allocation where each string would cost one.
func DecodeOrdered(b []byte) (Object, error) {
	buf := append([]byte(nil), b...)
	d := decoder{b: buf, alias: true}
	v, err := d.document()
	if err != nil {
		return nil, err
	}
	o, ok := v.(map[string]any)
	if !ok {
		return nil, errNotObject
	}
	o[OrderKey] = &Order{first: buf}
	return o, nil
}

// RawField returns the JSON text of the value of key in the JSON object
// text b (nil when b is no object or lacks key).
func RawField(b []byte, key string) []byte {
	it, _ := newFieldIter(b)
	for {
		k, raw, more := it.next()
		if !more {
			return nil
		}
		if k == key {
			return raw
		}
	}
}

// fieldIter walks the keys of a JSON object text without allocating;
// malformed text ends the walk quietly (a template is only a hint).
type fieldIter struct {
	b    []byte
	i    int
	done bool
}

func newFieldIter(b []byte) (fieldIter, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return fieldIter{done: true}, false
	}
	return fieldIter{b: b, i: i + 1}, true
}

// next returns the next key and the text of its value; more is false at
// the end (or on malformed text).
func (it *fieldIter) next() (key string, raw []byte, more bool) {
	if it.done {
		return "", nil, false
	}
	b, i := it.b, skipSpace(it.b, it.i)
	if i < len(b) && b[i] == ',' {
		i = skipSpace(b, i+1)
	}
	it.done = true
	if i >= len(b) || b[i] != '"' {
		return "", nil, false
	}
	end := skipString(b, i)
	if end < 0 {
		return "", nil, false
	}
	key, ok := unquote(b[i:end])
	i = skipSpace(b, end)
	if !ok || i >= len(b) || b[i] != ':' {
		return "", nil, false
	}
	i = skipSpace(b, i+1)
	vend := skipValue(b, i)
	if vend < 0 {
		return "", nil, false
	}
	it.i, it.done = vend, false
	return key, b[i:vend], true
}

// ArrayElems returns the texts of the elements of the JSON array text b
// (nil when b is no array).
func ArrayElems(b []byte) [][]byte { return arrayElems(b) }

// arrayElems returns the texts of the elements of the JSON array text b.
func arrayElems(b []byte) [][]byte {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return nil
	}
	var out [][]byte
	i++
	for {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] == ']' {
			return out
		}
		end := skipValue(b, i)
		if end < 0 {
			return out
		}
		out = append(out, b[i:end])
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ',' {
			return out
		}
		i++
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at b[i]
// (a quote), or -1.
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// skipValue returns the index just past the JSON value starting at b[i],
// or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				if j = skipString(b, j); j < 0 {
					return -1
				}
				j--
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	if j == i {
		return -1
	}
	return j
}

// unquote decodes a JSON string text (with its quotes).
func unquote(q []byte) (string, bool) {
	plain := true
	for _, c := range q[1 : len(q)-1] {
		if c == '\\' {
			plain = false
			break
		}
	}
	if plain {
		// The template text is never changed once attached, so the key
		// can share its bytes.
		if len(q) == 2 {
			return "", true
		}
		return unsafe.String(&q[1], len(q)-2), true
	}
	var s string
	if err := json.Unmarshal(q, &s); err != nil {
		return "", false
	}
	return s, true
}
