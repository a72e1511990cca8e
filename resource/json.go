package resource

import (
	"fmt"
	"unicode/utf8"

	"github.com/nimbus-server/nimbus/storage"
)

// MaxJSONDepth is the deepest nesting of objects and arrays a request body
// may have (Nimbus, CORE-12).
const MaxJSONDepth = 64

// checkDepth scans JSON text and fails when nesting exceeds MaxJSONDepth.
// It runs before decoding so that hostile bodies cost no recursion.
func checkDepth(b []byte) error {
	depth := 0
	inString, escaped := false, false
	for _, c := range b {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > MaxJSONDepth {
				return fmt.Errorf("JSON nested too deeply")
			}
		case '}', ']':
			depth--
		}
	}
	return nil
}

// DecodeJSON parses a request body into a generic value. Numbers are kept
// as json.Number; what clients cannot read back is refused
// (storage.DecodeClientJSON). The error message is meant for clients.
func DecodeJSON(b []byte) (any, error) {
	if err := checkDepth(b); err != nil {
		return nil, err
	}
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("Invalid JSON: body is not valid UTF-8")
	}
	v, err := storage.DecodeClientJSON(b)
	if err != nil {
		return nil, fmt.Errorf("Invalid JSON: %v", err)
	}
	return v, nil
}

// EncodeJSON serialises v without HTML escaping, as Kinto does.
func EncodeJSON(v any) ([]byte, error) {
	return storage.AppendJSON(make([]byte, 0, 512), v)
}

// ValueText is v as compact JSON for an error message: null, true or
// {"a":1}, never Go's <nil> or map[a:1]. Long values are cut at 80 bytes.
func ValueText(v any) string {
	b, err := EncodeJSON(v)
	if err != nil {
		return "an unreadable value"
	}
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}

// deepCopy copies a decoded JSON value.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}
