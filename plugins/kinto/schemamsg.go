package kinto

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v5"

	"github.com/nimbus-server/nimbus/storage"
)

// Schema failures are described as Kinto describes them: Kinto 26 reports
// the message of Python's jsonschema package ("'a' is too short", "5 is not
// of type 'string'"), which the API contract quotes (RES-17) and which
// Kinto Admin shows its users. The Go validator finds the failure; kintoFailure
// words it, from the failing value and the keyword's value in the schema.
// A keyword it has no wording for keeps the validator's own message.

// failureOf is the failure Kinto reports: the first one found, through
// "properties", "items", "allOf" and references down to the keyword that
// failed, but an "anyOf" or a "oneOf" as a whole (Python's validator reports
// those without their alternatives' failures). Python walks a schema's keys
// in the order it holds them, which for Kinto on PostgreSQL is JSONB's
// (shorter keys first): among the failures of one level the first in the
// schema's JSONB order is taken, then (one keyword failing on several
// values: "additionalProperties" with a schema, "items") in the data's.
func failureOf(ve *jsonschema.ValidationError) *jsonschema.ValidationError {
	return descend(ve, true, func(e *jsonschema.ValidationError) bool {
		k := lastSegment(e.KeywordLocation)
		return k == "anyOf" || k == "oneOf"
	})
}

// descend follows ve's causes down to a failure with none (or one stop
// accepts), taking at each level the first cause in a fixed order: the
// validator lists a level's failures in map order ("properties" among
// others), so taking the first as listed would change from one request to
// the next. schemaFirst orders by the schema's path, then the data's;
// otherwise the data's path comes first.
func descend(ve *jsonschema.ValidationError, schemaFirst bool, stop func(*jsonschema.ValidationError) bool) *jsonschema.ValidationError {
	key := func(e *jsonschema.ValidationError) (first, second []string) {
		k, i := splitPointer(e.KeywordLocation), splitPointer(e.InstanceLocation)
		if schemaFirst {
			return k, i
		}
		return i, k
	}
	for len(ve.Causes) > 0 && (stop == nil || !stop(ve)) {
		next := ve.Causes[0]
		n1, n2 := key(next)
		for _, c := range ve.Causes[1:] {
			if c1, c2 := key(c); cmp.Or(jsonbCompare(c1, n1), jsonbCompare(c2, n2)) < 0 {
				next, n1, n2 = c, c1, c2
			}
		}
		ve = next
	}
	return ve
}

// jsonbCompare compares two paths segment by segment in the order JSONB
// keeps object keys: shorter first, then byte by byte (array indexes then
// come in numeric order). It returns -1, 0 or 1.
func jsonbCompare(a, b []string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := jsonbKeyCompare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

// jsonbKeyCompare compares two object keys in JSONB's order: shorter
// first, then byte by byte.
func jsonbKeyCompare(a, b string) int {
	return cmp.Or(cmp.Compare(len(a), len(b)), strings.Compare(a, b))
}

// valueWords follow the failing value in Python's message for keywords
// whose message names only the value.
var valueWords = map[string]string{
	"minLength": " is too short", "minItems": " is too short",
	"maxLength": " is too long", "maxItems": " is too long",
	"uniqueItems":   " has non-unique elements",
	"minProperties": " does not have enough properties",
	"maxProperties": " has too many properties",
}

// boundWords join the failing value and the keyword's value in Python's
// message.
var boundWords = map[string]string{
	"minimum":          " is less than the minimum of ",
	"maximum":          " is greater than the maximum of ",
	"exclusiveMinimum": " is less than or equal to the minimum of ",
	"exclusiveMaximum": " is greater than or equal to the maximum of ",
	"multipleOf":       " is not a multiple of ",
	"pattern":          " does not match ",
	"enum":             " is not one of ",
	"not":              " should not be valid under ",
}

// kintoFailure returns the field Kinto names for a validation failure and
// its description. doc is the schema as compiled, inst the validated data.
func kintoFailure(l *jsonschema.ValidationError, doc map[string]any, inst any, body []byte) (name, desc string) {
	path := splitPointer(l.InstanceLocation)
	keyword := lastSegment(l.KeywordLocation)
	value, valueOK := resolvePointer(inst, path)
	kv, kvOK := resolvePointer(doc, splitPointer(fragmentOf(l.AbsoluteKeywordLocation)))
	if len(path) > 0 {
		name = path[len(path)-1]
	} else {
		name = keyword
	}
	desc = l.Message
	if !valueOK {
		return name, desc
	}
	// The value is written only for the descriptions that show it: a
	// missing property's names the property alone.
	v := func() string { return clip(pyReprSent(value, sentText(body, path))) }
	switch keyword {
	case "required":
		missing := missingProperty(l.Message)
		if missing == "" {
			return name, desc
		}
		return missing, pyStr(missing) + " is a required property"
	case "type":
		if !kvOK {
			return name, desc
		}
		types, ok := kv.([]any)
		if !ok {
			types = []any{kv}
		}
		reprs := make([]string, len(types))
		for i, t := range types {
			reprs[i] = pyRepr(t)
		}
		return name, v() + " is not of type " + strings.Join(reprs, ", ")
	case "anyOf", "oneOf":
		var i, j int
		if _, err := fmt.Sscanf(l.Message, "valid against schemas at indexes %d and %d", &i, &j); err == nil {
			// Python lists the schemas found valid after the first,
			// then the first.
			if branches, ok := kv.([]any); ok && kvOK && i < len(branches) && j < len(branches) {
				return name, v() + " is valid under each of " + clip(pyReprStored(branches[j])) + ", " + clip(pyReprStored(branches[i]))
			}
			return name, desc
		}
		return name, v() + " is not valid under any of the given schemas"
	}
	if suffix, ok := valueWords[keyword]; ok {
		return name, v() + suffix
	}
	if !kvOK {
		return name, desc
	}
	if phrase, ok := boundWords[keyword]; ok {
		return name, v() + phrase + clip(pyReprStored(kv))
	}
	switch keyword {
	case "const":
		return name, clip(pyReprStored(kv)) + " was expected"
	case "additionalProperties":
		return additionalFailure(name, value, doc, splitPointer(fragmentOf(l.AbsoluteKeywordLocation)), desc)
	}
	return name, desc
}

// additionalFailure words a failure of "additionalProperties": false, naming
// the properties neither "properties" nor "patternProperties" allows.
func additionalFailure(name string, value any, doc map[string]any, kwPath []string, desc string) (string, string) {
	obj, ok := value.(map[string]any)
	if !ok || len(kwPath) == 0 {
		return name, desc
	}
	parent, ok := resolvePointer(doc, kwPath[:len(kwPath)-1])
	schema, isObj := parent.(map[string]any)
	if !ok || !isObj {
		return name, desc
	}
	props, _ := schema["properties"].(map[string]any)
	patterns, _ := schema["patternProperties"].(map[string]any)
	var regexes []*regexp.Regexp
	for p := range patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return name, desc
		}
		regexes = append(regexes, re)
	}
	var extras []string
	for k := range obj {
		if k == storage.OrderKey {
			continue
		}
		if _, known := props[k]; known || slices.ContainsFunc(regexes, func(re *regexp.Regexp) bool { return re.MatchString(k) }) {
			continue
		}
		extras = append(extras, k)
	}
	if len(extras) == 0 {
		return name, desc
	}
	sort.Strings(extras)
	reprs := make([]string, len(extras))
	for i, e := range extras {
		reprs[i] = pyStr(e)
	}
	if len(patterns) > 0 {
		// Python names the regexes none of them matched.
		names := sortedKeys(patterns)
		for i, p := range names {
			names[i] = pyStr(p)
		}
		verb := "does"
		if len(extras) > 1 {
			verb = "do"
		}
		return name, strings.Join(reprs, ", ") + " " + verb + " not match any of the regexes: " + strings.Join(names, ", ")
	}
	verb := "was"
	if len(extras) > 1 {
		verb = "were"
	}
	return name, "Additional properties are not allowed (" + strings.Join(reprs, ", ") + " " + verb + " unexpected)"
}

// missingProperty reads the first property of the validator's "missing
// properties: 'a', 'b'" message.
func missingProperty(msg string) string {
	rest := strings.TrimPrefix(msg, "missing properties: ")
	if rest == msg || len(rest) < 2 {
		return ""
	}
	q := rest[0]
	end := strings.IndexByte(rest[1:], q)
	if end < 0 {
		return ""
	}
	return rest[1 : 1+end]
}

func fragmentOf(loc string) string {
	if i := strings.IndexByte(loc, '#'); i >= 0 {
		return loc[i+1:]
	}
	return ""
}

func lastSegment(loc string) string {
	seg := splitPointer(loc)
	if len(seg) == 0 {
		return ""
	}
	return seg[len(seg)-1]
}

// splitPointer splits a JSON pointer ("/a/b~1c") into its unescaped
// segments.
func splitPointer(p string) []string {
	if p == "" || p == "/" {
		return nil
	}
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, s := range parts {
		// The validator writes its locations as URI fragments: each
		// token is percent-encoded ("a b" is "a%20b").
		if u, err := url.PathUnescape(s); err == nil {
			s = u
		}
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return parts
}

func resolvePointer(v any, path []string) (any, bool) {
	for _, seg := range path {
		switch x := v.(type) {
		case map[string]any:
			next, ok := x[seg]
			if !ok {
				return nil, false
			}
			v = next
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// maxRepr bounds a value written into a failure's description: Python
// writes it whole, which would echo a megabyte string back (and into the
// logs) for one character too many.
const maxRepr = 1000

// clip shortens a written value past maxRepr bytes, on a rune boundary.
func clip(s string) string {
	if len(s) <= maxRepr {
		return s
	}
	cut := maxRepr
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// pyRepr writes a JSON value as Python's repr() writes what json.loads
// made of it: None, True, 'text', 1, 1.5, [1, 'a'], {'k': 1} (object keys
// sorted: the client's order is not kept through the validator).
func pyRepr(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case string:
		return pyStr(x)
	case json.Number:
		return pyNumber(string(x))
	case float64:
		return pyFloat(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case []any, map[string]any:
		return pyReprContainer(x, sortedKeys, pyRepr)
	}
	return "?"
}

// pyReprContainer writes a list or an object as Python's repr, object
// keys in the order keys gives, each value with item.
func pyReprContainer(v any, keys func(map[string]any) []string, item func(any) string) string {
	if list, ok := v.([]any); ok {
		parts := make([]string, len(list))
		for i, e := range list {
			parts[i] = item(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	m, _ := v.(map[string]any)
	names := keys(m)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = pyStr(k) + ": " + item(m[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// pyNumber writes a JSON number literal as Python reads it: an int when
// it has no fraction or exponent, a float otherwise.
func pyNumber(lit string) string {
	if !strings.ContainsAny(lit, ".eE") {
		if n, err := strconv.ParseInt(lit, 10, 64); err == nil {
			return strconv.FormatInt(n, 10)
		}
		return strings.TrimPrefix(lit, "+")
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return lit
	}
	return pyFloat(f)
}

// pyFloat is Python's float repr: the shortest digits that read back,
// positional from 1e-4 to 1e16, with an exponent of two digits at least
// outside.
func pyFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	exp := int(math.Floor(math.Log10(math.Abs(f))))
	if exp >= -4 && exp < 16 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'e', -1, 64)
	return s
}

// pyStr is Python's repr of a str: single quotes unless the text holds a
// single quote and no double one; backslash escapes for the quote, the
// backslash and characters that do not print.
func pyStr(s string) string {
	q := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			b.WriteString(`\x` + hex2(int(r)))
		case r < 0x80 || unicode.IsPrint(r):
			b.WriteRune(r)
		case r <= 0xff:
			b.WriteString(`\x` + hex2(int(r)))
		case r <= 0xffff:
			b.WriteString(`\u` + strconv.FormatInt(int64(r)|0x10000, 16)[1:])
		default:
			b.WriteString(`\U` + strconv.FormatInt(int64(r)|0x100000000, 16)[1:])
		}
	}
	b.WriteByte(q)
	return b.String()
}

func hex2(n int) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[n>>4&0xf], digits[n&0xf]})
}

// unusable describes why a stored schema cannot be compiled. The validator
// stops at the first reference it cannot resolve, met in map order; the
// description names the first in sorted order instead, so that every
// write gets the same answer (Kinto's words for a local one).
func unusable(doc map[string]any, err error) string {
	if ref, ok := unresolvedRef(doc, doc); ok {
		return unresolvableMessage(ref)
	}
	return "The schema cannot be used: " + firstLine(err)
}

// unresolvedRef finds, walking v's keys in sorted order, the first "$ref"
// that is not a JSON pointer into root ("#", "#/a/b") resolving there.
func unresolvedRef(root map[string]any, v any) (string, bool) {
	switch x := v.(type) {
	case map[string]any:
		if ref, ok := x["$ref"].(string); ok && refUnresolvable(root, ref) {
			return ref, true
		}
		for _, k := range sortedKeys(x) {
			if k == "enum" || k == "const" {
				continue
			}
			if ref, ok := unresolvedRef(root, x[k]); ok {
				return ref, true
			}
		}
	case []any:
		for _, e := range x {
			if ref, ok := unresolvedRef(root, e); ok {
				return ref, true
			}
		}
	}
	return "", false
}

// sortedKeys returns m's keys in byte order, without the key that
// carries the client's key order (storage.OrderKey).
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		if k != storage.OrderKey {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}
