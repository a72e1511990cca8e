package storage

// DecodeFields decodes, from the JSON object text b, only the top-level
// fields keep wants: what a filter looks at (Lookup reads a dotted path
// from the top-level key it starts with) costs a walk over the text and
// the decoding of those values, not of the whole object. The text must be
// a well-formed object; anything else is an error.
func DecodeFields(b []byte, keep func(key string) bool) (Object, error) {
	it, ok := newFieldIter(b)
	if !ok {
		return nil, errNotObject
	}
	out := Object{}
	for {
		key, raw, more := it.next()
		if !more {
			break
		}
		if !keep(key) {
			continue
		}
		v, err := DecodeJSON(raw)
		if err != nil {
			return nil, err
		}
		out[key] = v
	}
	// The walk ends quietly on malformed text: only the closing brace
	// ends it well.
	if end := skipSpace(b, it.i); end >= len(b) || b[end] != '}' || skipSpace(b, end+1) != len(b) {
		return nil, errNotObject
	}
	return out, nil
}

// FilteredKey tells whether the top-level key key is one a filter on
// field reads (field itself, or a dotted path starting with key).
func FilteredKey(key, field string) bool {
	return len(field) >= len(key) && field[:len(key)] == key && (len(field) == len(key) || field[len(key)] == '.')
}
