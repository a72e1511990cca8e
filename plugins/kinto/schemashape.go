package kinto

import "strings"

// Kinto's validator (Python's jsonschema) checks a subschema's keywords
// in the order its stored schema holds them, which for a schema read back
// from PostgreSQL's JSONB is shorter keys first, and reports the first
// failure. The validator used here checks "type" first and stops there
// when it fails. kintoShape rewrites a schema, without changing what it
// accepts, so that every failure is found and failureOf can pick the one
// Kinto reports: "type" moves into "allOf" when "not", "if", "enum" or
// "$ref", which come before "type" in that order, sit beside it. It also
// drops "dependencies" from schemas of drafts 2019-09 and 2020-12, where
// it is not a keyword and Kinto's validator ignores it (this one would
// apply it): it is kept aside under another name, which unshape reads
// back for the messages that show the schema.

// Keys whose value is a map of names to subschemas, a subschema, or a list
// of subschemas.
var (
	subschemaMaps  = map[string]bool{"properties": true, "patternProperties": true, "$defs": true, "definitions": true, "dependentSchemas": true}
	subschemaOne   = map[string]bool{"not": true, "if": true, "then": true, "else": true, "items": true, "additionalItems": true, "additionalProperties": true, "contains": true, "propertyNames": true, "unevaluatedItems": true, "unevaluatedProperties": true}
	subschemaLists = map[string]bool{"allOf": true, "anyOf": true, "oneOf": true, "prefixItems": true, "items": true}
)

// modernDraft tells whether doc is read as draft 2019-09 or 2020-12 (the
// default when "$schema" names none, RES-17).
func modernDraft(doc map[string]any) bool {
	s, ok := doc["$schema"].(string)
	return !ok || strings.Contains(s, "2019-09") || strings.Contains(s, "2020-12")
}

// kintoShape returns a copy of the schema v, shaped as said above;
// modern tells whether v is read as draft 2019-09 or later.
func kintoShape(v any, modern bool) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := make(map[string]any, len(m))
	for k, e := range m {
		switch {
		case k == "dependencies" && modern:
			// Kept aside under a name no draft reads, for messages
			// that show the schema (unshape).
			k = droppedDependencies
		case subschemaMaps[k] || k == "dependencies":
			// A dependency's list of names is left as it is.
			if named, ok := e.(map[string]any); ok {
				shaped := make(map[string]any, len(named))
				for name, sub := range named {
					shaped[name] = kintoShape(sub, modern)
				}
				e = shaped
			}
		case subschemaLists[k]:
			if list, ok := e.([]any); ok {
				shaped := make([]any, len(list))
				for i, sub := range list {
					shaped[i] = kintoShape(sub, modern)
				}
				e = shaped
			} else if subschemaOne[k] {
				e = kintoShape(e, modern)
			}
		case subschemaOne[k]:
			e = kintoShape(e, modern)
		}
		out[k] = e
	}
	t, typed := out["type"]
	if !typed {
		return out
	}
	_, hasRef := out["$ref"]
	if out["not"] == nil && out["if"] == nil && out["enum"] == nil && !(hasRef && modern) {
		return out
	}
	delete(out, "type")
	all, _ := out["allOf"].([]any)
	out["allOf"] = append(append(make([]any, 0, len(all)+1), all...), map[string]any{"type": t, "$comment": movedType})
	return out
}

// Marks of kintoShape's changes, which unshape undoes for messages.
const (
	movedType           = "nimbus: type moved after the keywords Kinto checks first"
	droppedDependencies = "nimbus-dependencies-not-a-keyword"
)
