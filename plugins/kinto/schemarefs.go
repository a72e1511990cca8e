package kinto

import (
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// References that cannot be resolved (a missing definition, a remote URL,
// which is never fetched) fail a write only where validation reaches
// them, as in Kinto, whose validator resolves a "$ref" when it meets it: a
// record without the property whose schema holds the reference is
// validated as usual. The validator used here resolves every reference
// when it compiles, so each subschema holding such a reference is
// replaced by one that always fails and names it; a failure there is
// answered 400 naming "schema".

// unresolvableMark starts the "$comment" of a replaced subschema.
const unresolvableMark = "nimbus: unresolvable reference "

// compiled is a schema ready to validate, with the document it was
// compiled from.
type compiled struct {
	schema *jsonschema.Schema
	// doc is the document compiled (kintoShape, then lazyRefs if any
	// reference was replaced): failures' locations point into it.
	doc map[string]any
	// lazy tells that lazyRefs replaced references in doc.
	lazy bool
}

// refUnresolvable tells whether ref is not a JSON pointer ("#", "#/a/b")
// resolving in root.
func refUnresolvable(root map[string]any, ref string) bool {
	frag, local := strings.CutPrefix(ref, "#")
	if !local {
		return true
	}
	if frag == "" {
		return false
	}
	if !strings.HasPrefix(frag, "/") {
		return true
	}
	_, found := resolvePointer(root, splitPointer(frag))
	return !found
}

// lazyRefs returns a copy of v (a part of root) where each subschema whose
// "$ref" cannot be resolved is replaced by one that always fails.
func lazyRefs(root map[string]any, v any) any {
	switch x := v.(type) {
	case map[string]any:
		if ref, ok := x["$ref"].(string); ok && refUnresolvable(root, ref) {
			return map[string]any{"$comment": unresolvableMark + ref, "not": map[string]any{}}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			if k == "enum" || k == "const" {
				out[k] = e
				continue
			}
			out[k] = lazyRefs(root, e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = lazyRefs(root, e)
		}
		return out
	}
	return v
}

// reachedUnresolvable returns the reference of the replaced subschema
// whose failure l is, if it is one. l is the failure the answer reports
// (failureOf), so that of two faults the one Kinto meets first is told.
// A reference under the "anyOf" or "oneOf" reported counts as reached:
// Kinto's validator tries their branches in turn and stops at the
// reference.
func reachedUnresolvable(c compiled, l *jsonschema.ValidationError) (string, bool) {
	if !c.lazy {
		return "", false
	}
	path := splitPointer(fragmentOf(l.AbsoluteKeywordLocation))
	if n := len(path); n > 0 && path[n-1] == "not" {
		holder, _ := resolvePointer(c.doc, path[:n-1])
		m, _ := holder.(map[string]any)
		comment, _ := m["$comment"].(string)
		if ref, marked := strings.CutPrefix(comment, unresolvableMark); marked {
			return ref, true
		}
	}
	if k := lastSegment(l.KeywordLocation); k != "anyOf" && k != "oneOf" && k != "allOf" {
		return "", false
	}
	for _, cause := range l.Causes {
		if ref, ok := reachedUnresolvable(c, cause); ok {
			return ref, true
		}
	}
	return "", false
}

// unresolvableMessage words the failure of a reference validation reached.
func unresolvableMessage(ref string) string {
	if frag, local := strings.CutPrefix(ref, "#"); local {
		return "Unresolvable JSON pointer: " + pyStr(strings.TrimPrefix(frag, "/"))
	}
	return "Remote references are never fetched: " + pyStr(ref)
}
