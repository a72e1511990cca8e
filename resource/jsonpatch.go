package resource

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/nimbus-server/nimbus/storage"
)

// jsonPatch applies an RFC 6902 body to {"data", "permissions"}, where
// each permission is an object of principals (principal -> principal), so
// that "/permissions/read/account:ann" adds or removes one principal.
func (a *App) jsonPatch(r *Request, res *Resource, old storage.Object, oldACL storage.ACL) (patchDoc, *Error) {
	v, err := DecodeJSON(r.body)
	if err != nil {
		return patchDoc{}, Invalid("body", "", err.Error())
	}
	ops, ok := v.([]any)
	if !ok {
		return patchDoc{}, Invalid("body", "", "JSON Patch body must be a list of operations")
	}
	perms := map[string]any{}
	for k, ps := range oldACL {
		set := map[string]any{}
		for _, p := range ps {
			set[p] = p
		}
		perms[k] = set
	}
	// The data as it is stored, last_modified included, as Kinto patches
	// it: "test" can check it, "remove" drops it (a new one is given).
	stored := copyData(old)
	if lm, ok := old["last_modified"]; ok {
		stored["last_modified"] = lm
	}
	doc := map[string]any{"data": deepCopy(map[string]any(stored)), "permissions": perms}
	// What "copy" operations may add in all: as much as a request body
	// may hold. Each doubles the object at most, so without a bound a
	// body of a few dozen of them would ask for more memory than any
	// server has (values of "add" and "replace" are in the body already).
	copies := a.opts.maxBody
	for i, raw := range ops {
		op, ok := raw.(map[string]any)
		if !ok {
			return patchDoc{}, Invalid("body", strconv.Itoa(i), "JSON Patch operations must be objects")
		}
		if e := applyOp(doc, op, i, &copies); e != nil {
			return patchDoc{}, e
		}
	}
	data, ok := doc["data"].(map[string]any)
	if !ok {
		return patchDoc{}, patchFailed("data must remain an object")
	}
	pm, ok := doc["permissions"].(map[string]any)
	if !ok {
		return patchDoc{}, patchFailed("permissions must remain an object")
	}
	acl := storage.ACL{}
	names := a.Tree.Names(res.Name)
	for _, perm := range slices.Sorted(maps.Keys(pm)) {
		v := pm[perm]
		if !slices.Contains(names, perm) {
			return patchDoc{}, patchFailed(fmt.Sprintf("%q is not a valid permission name for %s", perm, res.Name))
		}
		var list []string
		switch x := v.(type) {
		case map[string]any:
			for p := range x {
				list = append(list, p)
			}
		case []any:
			for _, it := range x {
				s, ok := it.(string)
				if !ok {
					return patchDoc{}, patchFailed(fmt.Sprintf("%v is not a principal", it))
				}
				list = append(list, s)
			}
		case nil:
		default:
			return patchDoc{}, patchFailed(fmt.Sprintf("permissions.%s must be a list of principals", perm))
		}
		sort.Strings(list)
		acl[perm] = list
	}
	return patchDoc{data: data, acl: acl}, nil
}

// jsonPatchShape checks what a JSON Patch body is before any operation
// is applied: a list of objects, each with a known op and a path (and a
// from where the op takes one) that are JSON pointers. A PATCH of a
// missing object answers these errors rather than 404, as Kinto's body
// schema does.
func jsonPatchShape(body []byte) *Error {
	v, err := DecodeJSON(body)
	if err != nil {
		return Invalid("body", "", err.Error())
	}
	ops, ok := v.([]any)
	if !ok {
		return Invalid("body", "", "JSON Patch body must be a list of operations")
	}
	for i, raw := range ops {
		op, ok := raw.(map[string]any)
		if !ok {
			return Invalid("body", strconv.Itoa(i), "JSON Patch operations must be objects")
		}
		if op["op"] == nil {
			return Invalid("body", strconv.Itoa(i)+".op", "Required")
		}
		name, _ := op["op"].(string)
		if !slices.Contains([]string{"add", "remove", "replace", "move", "copy", "test"}, name) {
			return Invalid("body", strconv.Itoa(i)+".op", ValueText(op["op"])+" is not one of test, add, remove, replace, move, copy")
		}
		keys := []string{"path"}
		if name == "move" || name == "copy" {
			keys = append(keys, "from")
		}
		for _, k := range keys {
			if op[k] == nil {
				return Invalid("body", strconv.Itoa(i)+"."+k, "Required")
			}
			if p, ok := op[k].(string); !ok || !strings.HasPrefix(p, "/") {
				return Invalid("body", strconv.Itoa(i)+"."+k, k+" must be a JSON pointer starting with /")
			}
		}
	}
	return nil
}

func patchFailed(msg string) *Error {
	return Invalid("body", "", "JSON Patch operation failed: "+msg)
}

// applyOp applies the operation op, the i-th, to doc; copies is what
// "copy" operations may still add, in bytes of JSON (about).
func applyOp(doc map[string]any, op map[string]any, i int, copies *int64) *Error {
	for k := range op {
		if k != "op" && k != "path" && k != "from" && k != "value" {
			return Invalid("body", strconv.Itoa(i)+"."+k, "Unrecognized key in JSON Patch operation")
		}
	}
	name, _ := op["op"].(string)
	path, okPath := op["path"].(string)
	if !okPath || !strings.HasPrefix(path, "/") {
		return Invalid("body", strconv.Itoa(i)+".path", "path must be a JSON pointer starting with /")
	}
	tokens, valid := pointer(path)
	if !valid {
		return Invalid("body", strconv.Itoa(i)+".path", "path is not a valid JSON pointer (~ must be followed by 0 or 1)")
	}
	if reservedToken(tokens) {
		return Invalid("body", strconv.Itoa(i)+".path", "path names a reserved key")
	}
	value, hasValue := op["value"]
	principal := len(tokens) == 3 && tokens[0] == "permissions"
	if principal {
		// A permission is a set of principals, each its own value:
		// Kinto puts the principal in place of whatever value was sent
		// (kinto-http.js sends none).
		value, hasValue = tokens[2], true
	}
	from, fromIsString := op["from"].(string)
	switch name {
	case "add", "replace", "test":
		if !hasValue {
			return Invalid("body", strconv.Itoa(i)+".value", "value is required for "+name)
		}
	case "move", "copy":
		if !fromIsString || !strings.HasPrefix(from, "/") {
			return Invalid("body", strconv.Itoa(i)+".from", "from must be a JSON pointer starting with /")
		}
		ft, valid := pointer(from)
		if !valid {
			return Invalid("body", strconv.Itoa(i)+".from", "from is not a valid JSON pointer (~ must be followed by 0 or 1)")
		}
		if reservedToken(ft) {
			return Invalid("body", strconv.Itoa(i)+".from", "from names a reserved key")
		}
	case "remove":
	default:
		return Invalid("body", strconv.Itoa(i)+".op", fmt.Sprintf("%q is not a JSON Patch operation", name))
	}
	var err error
	switch name {
	case "add":
		if principal {
			if _, isSet := getPath(doc, tokens[:2]); isSet != nil {
				if e := addPath(doc, tokens[:2], map[string]any{}); e != nil {
					return patchFailed(e.Error())
				}
			}
		}
		err = addPath(doc, tokens, deepCopy(value))
	case "remove":
		_, err = removePath(doc, tokens)
	case "replace":
		if _, err = removePath(doc, tokens); err == nil {
			err = addPath(doc, tokens, deepCopy(value))
		}
	case "test":
		var cur any
		if cur, err = getPath(doc, tokens); err == nil && !storage.Equal(cur, value) {
			err = fmt.Errorf("test failed on %s", path)
		}
	case "move", "copy":
		var v any
		ft, _ := pointer(from)
		if name == "move" && from == path {
			// A move to where it is changes nothing (RFC 6902 4.4),
			// "/data" included, which cannot be removed.
			_, err = getPath(doc, ft)
			break
		}
		if name == "move" {
			v, err = removePath(doc, ft)
		} else if v, err = getPath(doc, ft); err == nil {
			if *copies -= jsonSize(v, *copies); *copies < 0 {
				return &Error{Status: 413, Errno: ErrnoTooLarge, Message: fmt.Sprintf(
					"JSON Patch operation %d: its copies would add more to the object than a request body may hold.", i)}
			}
			v = deepCopy(v)
		}
		if err == nil {
			err = addPath(doc, tokens, v)
		}
	}
	if err != nil {
		return patchFailed(err.Error())
	}
	return nil
}

// reservedToken tells whether a pointer reaches the key an object's order
// hint is kept under: clients may neither write nor read it.
func reservedToken(tokens []string) bool {
	for _, t := range tokens {
		if t == storage.OrderKey {
			return true
		}
	}
	return false
}

// pointer splits an RFC 6901 JSON pointer into its unescaped tokens; it
// fails on a "~" that is not followed by "0" or "1".
func pointer(p string) ([]string, bool) {
	parts := strings.Split(p[1:], "/")
	for i, s := range parts {
		for j := 0; j < len(s); j++ {
			if s[j] == '~' && (j+1 == len(s) || s[j+1] != '0' && s[j+1] != '1') {
				return nil, false
			}
		}
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return parts, true
}

func getPath(doc any, tokens []string) (any, error) {
	cur := doc
	for _, t := range tokens {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[t]
			if !ok {
				return nil, fmt.Errorf("path /%s does not exist", strings.Join(tokens, "/"))
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(c) {
				return nil, fmt.Errorf("index %s out of range", t)
			}
			cur = c[i]
		default:
			return nil, fmt.Errorf("path /%s does not exist", strings.Join(tokens, "/"))
		}
	}
	return cur, nil
}

// setIn replaces the container at tokens (used when an array grows).
func setIn(doc any, tokens []string, v any) error {
	if len(tokens) == 0 {
		return fmt.Errorf("cannot replace the whole document")
	}
	parent, err := getPath(doc, tokens[:len(tokens)-1])
	if err != nil {
		return err
	}
	last := tokens[len(tokens)-1]
	switch c := parent.(type) {
	case map[string]any:
		c[last] = v
	case []any:
		i, _ := strconv.Atoi(last)
		c[i] = v
	}
	return nil
}

func addPath(doc any, tokens []string, v any) error {
	if len(tokens) == 0 || (len(tokens) == 1 && (tokens[0] == "data" || tokens[0] == "permissions")) {
		if len(tokens) == 1 {
			return setIn(doc, tokens, v)
		}
		return fmt.Errorf("cannot replace the whole document")
	}
	parent, err := getPath(doc, tokens[:len(tokens)-1])
	if err != nil {
		return err
	}
	last := tokens[len(tokens)-1]
	switch c := parent.(type) {
	case map[string]any:
		c[last] = v
		return nil
	case []any:
		i := len(c)
		if last != "-" {
			if i, err = strconv.Atoi(last); err != nil || i < 0 || i > len(c) {
				return fmt.Errorf("index %s out of range", last)
			}
		}
		grown := append(c[:i:i], append([]any{v}, c[i:]...)...)
		return setIn(doc, tokens[:len(tokens)-1], grown)
	}
	return fmt.Errorf("cannot add to a non-container at /%s", strings.Join(tokens[:len(tokens)-1], "/"))
}

func removePath(doc any, tokens []string) (any, error) {
	if len(tokens) < 2 {
		return nil, fmt.Errorf("cannot remove /%s", strings.Join(tokens, "/"))
	}
	parent, err := getPath(doc, tokens[:len(tokens)-1])
	if err != nil {
		return nil, err
	}
	last := tokens[len(tokens)-1]
	switch c := parent.(type) {
	case map[string]any:
		v, ok := c[last]
		if !ok {
			return nil, fmt.Errorf("path /%s does not exist", strings.Join(tokens, "/"))
		}
		delete(c, last)
		return v, nil
	case []any:
		i, err := strconv.Atoi(last)
		if err != nil || i < 0 || i >= len(c) {
			return nil, fmt.Errorf("index %s out of range", last)
		}
		v := c[i]
		shrunk := append(append([]any{}, c[:i]...), c[i+1:]...)
		return v, setIn(doc, tokens[:len(tokens)-1], shrunk)
	}
	return nil, fmt.Errorf("path /%s does not exist", strings.Join(tokens, "/"))
}

// jsonSize is about the length of v's JSON text, counted until it passes
// limit (then any number above it).
func jsonSize(v any, limit int64) int64 {
	var n int64
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			n += 2
			for k, e := range x {
				if n > limit {
					return
				}
				n += int64(len(k)) + 4
				walk(e)
			}
		case []any:
			n += 2
			for _, e := range x {
				if n > limit {
					return
				}
				n++
				walk(e)
			}
		case string:
			n += int64(len(x)) + 2
		case json.Number:
			n += int64(len(x))
		default:
			n += 5
		}
	}
	walk(v)
	return n
}
