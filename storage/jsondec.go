package storage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// DecodeJSON parses one JSON value into generic Go values: objects become
// map[string]any, arrays []any, numbers json.Number (exact, as written),
// strings, booleans and nil. It accepts and rejects exactly what
// encoding/json does (invalid UTF-8 in strings is replaced by U+FFFD, a
// repeated key keeps its last value), several times faster, since every
// stored object is decoded on every read.
func DecodeJSON(b []byte) (any, error) {
	d := decoder{b: b}
	return d.document()
}

// DecodeClientJSON is DecodeJSON for what a client sends: it also refuses
// a number beyond float64's range (1e400: a JavaScript client would read
// Infinity, and PostgreSQL's JSON numbers would keep it) and a \u escape
// of a lone UTF-16 surrogate (which encoding/json turns into U+FFFD, a
// silent change, and PostgreSQL refuses), as Kinto's parser refuses both.
func DecodeClientJSON(b []byte) (any, error) {
	d := decoder{b: b, strict: true}
	return d.document()
}

// document decodes the whole text as one value.
func (d *decoder) document() (any, error) {
	d.space()
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.space()
	if d.i != len(d.b) {
		return nil, d.errorf("invalid character %q after top-level value", d.b[d.i])
	}
	return v, nil
}

type decoder struct {
	b []byte
	i int
	// alias lets strings and numbers share the bytes of b, which must
	// then never change (DecodeOrdered decodes its own copy).
	alias bool
	// strict refuses numbers out of float64's range and lone surrogate
	// escapes (DecodeClientJSON).
	strict bool
}

// text returns b as a string, sharing its bytes when the decoder may.
func (d *decoder) text(b []byte) string {
	if d.alias && len(b) > 0 {
		return unsafe.String(&b[0], len(b))
	}
	return string(b)
}

const maxDecodeDepth = 10000

var errEOF = errors.New("unexpected end of JSON input")

func (d *decoder) errorf(format string, args ...any) error {
	return fmt.Errorf("invalid JSON at offset %d: %s", d.i, fmt.Sprintf(format, args...))
}

func (d *decoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) value(depth int) (any, error) {
	if d.i >= len(d.b) {
		return nil, errEOF
	}
	if depth > maxDecodeDepth {
		return nil, d.errorf("nested too deeply")
	}
	switch c := d.b[d.i]; {
	case c == '{':
		return d.object(depth)
	case c == '[':
		return d.array(depth)
	case c == '"':
		return d.str()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	default:
		return nil, d.errorf("invalid character %q looking for beginning of value", c)
	}
}

func (d *decoder) literal(word string) error {
	if len(d.b)-d.i < len(word) {
		return errEOF
	}
	if string(d.b[d.i:d.i+len(word)]) != word {
		return d.errorf("invalid literal")
	}
	d.i += len(word)
	return nil
}

func (d *decoder) object(depth int) (any, error) {
	d.i++
	m := make(map[string]any, 8)
	d.space()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return m, nil
	}
	for {
		d.space()
		if d.i >= len(d.b) {
			return nil, errEOF
		}
		if d.b[d.i] != '"' {
			return nil, d.errorf("invalid character %q looking for beginning of object key string", d.b[d.i])
		}
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		if k == OrderKey {
			return nil, d.errorf("the object key %q is reserved", k)
		}
		d.space()
		if d.i >= len(d.b) {
			return nil, errEOF
		}
		if d.b[d.i] != ':' {
			return nil, d.errorf("invalid character %q after object key", d.b[d.i])
		}
		d.i++
		d.space()
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		m[k] = v
		d.space()
		if d.i >= len(d.b) {
			return nil, errEOF
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case '}':
			d.i++
			return m, nil
		default:
			return nil, d.errorf("invalid character %q after object key:value pair", d.b[d.i])
		}
	}
}

func (d *decoder) array(depth int) (any, error) {
	d.i++
	a := []any{}
	d.space()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return a, nil
	}
	for {
		d.space()
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		d.space()
		if d.i >= len(d.b) {
			return nil, errEOF
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case ']':
			d.i++
			return a, nil
		default:
			return nil, d.errorf("invalid character %q after array element", d.b[d.i])
		}
	}
}

func (d *decoder) number() (any, error) {
	start := d.i
	if d.b[d.i] == '-' {
		d.i++
	}
	if d.i >= len(d.b) {
		return nil, errEOF
	}
	switch c := d.b[d.i]; {
	case c == '0':
		d.i++
	case c >= '1' && c <= '9':
		for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
			d.i++
		}
	default:
		return nil, d.errorf("invalid character %q in numeric literal", c)
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if d.i >= len(d.b) {
			return nil, errEOF
		}
		if d.b[d.i] < '0' || d.b[d.i] > '9' {
			return nil, d.errorf("invalid character %q after decimal point in numeric literal", d.b[d.i])
		}
		for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
			d.i++
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if d.i >= len(d.b) {
			return nil, errEOF
		}
		if d.b[d.i] < '0' || d.b[d.i] > '9' {
			return nil, d.errorf("invalid character %q in exponent of numeric literal", d.b[d.i])
		}
		for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
			d.i++
		}
	}
	if d.strict && (d.i-start > 300 || bytes.IndexAny(d.b[start:d.i], "eE") >= 0) {
		// Only an exponent or some 300 digits can pass a double's range;
		// ParseFloat keeps nothing of the bytes it reads.
		if f, err := strconv.ParseFloat(unsafe.String(&d.b[start], d.i-start), 64); err != nil && math.IsInf(f, 0) {
			at := d.i
			d.i = start
			err := d.errorf("number too big to be stored in double")
			d.i = at
			return nil, err
		}
	}
	return json.Number(d.text(d.b[start:d.i])), nil
}

func (d *decoder) str() (string, error) {
	d.i++ // opening quote
	start := d.i
	// Fast path: no escapes, ASCII or valid UTF-8.
	for d.i < len(d.b) {
		c := d.b[d.i]
		if c == '"' {
			s := d.b[start:d.i]
			d.i++
			if utf8.Valid(s) {
				return d.text(s), nil
			}
			return string([]rune(string(s))), nil // invalid bytes become U+FFFD
		}
		if c == '\\' || c < 0x20 {
			break
		}
		d.i++
	}
	buf := append(make([]byte, 0, d.i-start+16), d.b[start:d.i]...)
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			if utf8.Valid(buf) {
				return string(buf), nil
			}
			return string([]rune(string(buf))), nil
		case c < 0x20:
			return "", d.errorf("invalid character %q in string literal", c)
		case c != '\\':
			buf = append(buf, c)
			d.i++
			continue
		}
		d.i++
		if d.i >= len(d.b) {
			return "", errEOF
		}
		e := d.b[d.i]
		d.i++
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, err := d.hex4()
			if err != nil {
				return "", err
			}
			if utf16.IsSurrogate(r) {
				at := d.i - 6
				r2 := utf8.RuneError
				if d.i+1 < len(d.b) && d.b[d.i] == '\\' && d.b[d.i+1] == 'u' {
					save := d.i
					d.i += 2
					lo, err := d.hex4()
					if err != nil {
						return "", err
					}
					if dec := utf16.DecodeRune(r, lo); dec != utf8.RuneError {
						r2 = dec
					} else {
						d.i = save
					}
				}
				if r2 == utf8.RuneError && d.strict {
					d.i = at
					return "", d.errorf("lone UTF-16 surrogate in string escape")
				}
				r = r2
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", d.errorf("invalid character %q in string escape code", e)
		}
	}
	return "", errEOF
}

func (d *decoder) hex4() (rune, error) {
	if len(d.b)-d.i < 4 {
		return 0, errEOF
	}
	n, err := strconv.ParseUint(string(d.b[d.i:d.i+4]), 16, 32)
	if err != nil {
		return 0, d.errorf("invalid character in \\u hexadecimal character escape")
	}
	d.i += 4
	return rune(n), nil
}
