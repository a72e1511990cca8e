package kinto

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// Kinto's messages write values as Python's repr() writes dicts, whose
// keys keep the order they were read in: a value of the record in the
// order the client sent it (the request's JSON), a part of the schema in
// JSONB's order (shorter keys first, then bytes), since Kinto reads
// schemas back from PostgreSQL.

// pyReprSent writes a value of the validated data, objects in the key
// order of sent, the client's JSON text of it, when the request sent the
// value as it is validated (not when a PATCH merged it with the stored
// object); in sorted order otherwise.
func pyReprSent(v any, sent []byte) string {
	if sent == nil {
		return pyRepr(v)
	}
	if d, err := resource.DecodeJSON(sent); err != nil || storage.CompareValues(d, true, v, true) != 0 {
		return pyRepr(v)
	}
	dec := json.NewDecoder(bytes.NewReader(sent))
	dec.UseNumber()
	var out strings.Builder
	if err := reprTokens(dec, &out); err != nil {
		return pyRepr(v)
	}
	return out.String()
}

// sentText returns the JSON text, in the request body, of the value at
// path of its data, if it is there.
func sentText(body []byte, path []string) []byte {
	raw := storage.RawField(body, "data")
	for _, seg := range path {
		if len(raw) == 0 {
			return nil
		}
		if raw[0] == '[' {
			elems := storage.ArrayElems(raw)
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(elems) {
				return nil
			}
			raw = elems[i]
			continue
		}
		raw = storage.RawField(raw, seg)
	}
	return raw
}

// reprTokens writes the next JSON value of dec as Python's repr.
func reprTokens(dec *json.Decoder, out *strings.Builder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		closing, sep := "]", ", "
		if t == '{' {
			closing = "}"
			out.WriteByte('{')
		} else {
			out.WriteByte('[')
		}
		for first := true; dec.More(); first = false {
			if !first {
				out.WriteString(sep)
			}
			if t == '{' {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				key, _ := k.(string)
				out.WriteString(pyStr(key) + ": ")
			}
			if err := reprTokens(dec, out); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil && err != io.EOF {
			return err
		}
		out.WriteString(closing)
	default:
		out.WriteString(pyRepr(t))
	}
	return nil
}

// pyReprStored writes a part of a schema as Kinto reads it from JSONB,
// as the client wrote it before kintoShape.
func pyReprStored(v any) string {
	switch x := unshape(v).(type) {
	case []any, map[string]any:
		return pyReprContainer(x, jsonbKeys, pyReprStored)
	default:
		return pyRepr(x)
	}
}

// jsonbKeys returns m's keys in JSONB's order (jsonbKeyCompare).
func jsonbKeys(m map[string]any) []string {
	keys := sortedKeys(m)
	slices.SortFunc(keys, jsonbKeyCompare)
	return keys
}

// unshape undoes kintoShape on one level of a subschema.
func unshape(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	all, _ := m["allOf"].([]any)
	deps, renamed := m[droppedDependencies]
	if len(all) == 0 && !renamed {
		return v
	}
	var last map[string]any
	if len(all) > 0 {
		last, _ = all[len(all)-1].(map[string]any)
	}
	moved := last != nil && last["$comment"] == movedType
	if !moved && !renamed {
		return v
	}
	out := make(map[string]any, len(m))
	for k, e := range m {
		if k != storage.OrderKey {
			out[k] = e
		}
	}
	if renamed {
		delete(out, droppedDependencies)
		out["dependencies"] = deps
	}
	if moved {
		out["type"] = last["type"]
		if rest := all[:len(all)-1]; len(rest) > 0 {
			out["allOf"] = rest
		} else {
			delete(out, "allOf")
		}
	}
	return out
}
