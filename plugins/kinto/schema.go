package kinto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v5"

	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// refuseRemote keeps schemas from making the server fetch URLs.
func refuseRemote(url string) (io.ReadCloser, error) {
	return nil, fmt.Errorf("remote references are not allowed (%s)", url)
}

func compile(doc any, draft *jsonschema.Draft) (*jsonschema.Schema, error) {
	b, err := resource.EncodeJSON(doc)
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.Draft = draft
	c.LoadURL = refuseRemote
	// "format" is an annotation, as in JSON Schema 2020-12 and in Kinto
	// (whose validator has no format checker): data Kinto accepted must
	// not be refused here. The validator asserts the formats it knows
	// unless each is replaced by one that accepts everything.
	c.Formats = make(map[string]func(any) bool, len(jsonschema.Formats))
	for name := range jsonschema.Formats {
		c.Formats[name] = acceptAny
	}
	if err := c.AddResource("nimbus://schema.json", bytes.NewReader(b)); err != nil {
		return nil, err
	}
	return c.Compile("nimbus://schema.json")
}

func acceptAny(any) bool { return true }

// checkSchema rejects a value that is not a well-formed JSON Schema, with
// 400 naming the field. Well-formed is what RES-17 and Kinto's check ask:
// the document passes the draft 7 meta-schema. Its references are not
// resolved here: one that cannot be (a missing definition, a remote URL,
// which is never fetched) fails the writes the schema applies to, with 400
// naming "schema", as in Kinto.
func (c *schemaCache) checkSchema(field string, v any) error {
	if _, ok := v.(map[string]any); !ok {
		return resource.Invalid("body", "data."+field, "The schema must be a JSON object")
	}
	meta, err := c.metaSchema()
	if err != nil {
		return err
	}
	b, err := resource.EncodeJSON(v)
	if err != nil {
		return resource.Invalid("body", "data."+field, "The schema is not a valid JSON schema: "+err.Error())
	}
	// The validator reads plain decoded JSON (no key-order hint).
	var inst any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err = dec.Decode(&inst); err == nil {
		err = meta.Validate(inst)
	}
	if err != nil {
		return resource.Invalid("body", "data."+field, "The schema is not a valid JSON schema: "+firstLine(err))
	}
	return nil
}

// metaSchema compiles the draft 7 meta-schema (built into the validator,
// never fetched) once.
func (c *schemaCache) metaSchema() (*jsonschema.Schema, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.meta == nil {
		comp := jsonschema.NewCompiler()
		comp.Draft = jsonschema.Draft7
		comp.LoadURL = refuseRemote
		m, err := comp.Compile("http://json-schema.org/draft-07/schema#")
		if err != nil {
			return nil, fmt.Errorf("kinto: the draft 7 meta-schema does not compile: %w", err)
		}
		c.meta = m
	}
	return c.meta, nil
}

func firstLine(err error) string {
	var ve *jsonschema.ValidationError
	if errors.As(err, &ve) {
		l := leaf(ve)
		return strings.TrimSpace(l.InstanceLocation + " " + l.Message)
	}
	return strings.SplitN(err.Error(), "\n", 2)[0]
}

// leaf is the deepest failure under ve (a schema's fault against the
// meta-schema), the failing part of the document first in JSONB's key
// order, the same on every request.
func leaf(ve *jsonschema.ValidationError) *jsonschema.ValidationError {
	return descend(ve, false, nil)
}

// schemaCache keeps compiled schemas by the URI and timestamp of the
// object holding them, so a change of the schema is picked up at once.
type schemaCache struct {
	enabled bool
	mu      sync.Mutex
	byKey   map[string]compiled
	// meta is the draft 7 meta-schema, compiled on first use.
	meta *jsonschema.Schema
}

func newSchemaCache() *schemaCache { return &schemaCache{byKey: map[string]compiled{}} }

var ignoredFields = []string{"last_modified", "schema", "id"}

// prepare drops from "required" the fields validation ignores (id is kept
// when the schema's properties mention it).
func prepare(doc map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range doc {
		out[k] = v
	}
	props, _ := doc["properties"].(map[string]any)
	if req, ok := doc["required"].([]any); ok {
		var keep []any
		for _, r := range req {
			s, _ := r.(string)
			if s == "id" && props != nil && props["id"] != nil {
				keep = append(keep, r)
				continue
			}
			if containsStr(ignoredFields, s) {
				continue
			}
			keep = append(keep, r)
		}
		if keep == nil {
			delete(out, "required")
		} else {
			out["required"] = keep
		}
	}
	return out
}

func (c *schemaCache) get(key string, doc map[string]any) (compiled, error) {
	c.mu.Lock()
	s, ok := c.byKey[key]
	c.mu.Unlock()
	if ok {
		return s, nil
	}
	prepared := prepare(doc)
	s.doc, _ = kintoShape(prepared, modernDraft(prepared)).(map[string]any)
	var err error
	s.schema, err = compile(s.doc, jsonschema.Draft2020)
	if err != nil {
		if _, unresolved := unresolvedRef(s.doc, s.doc); !unresolved {
			return compiled{}, err
		}
		// Failing only where validation reaches them (schemarefs.go).
		s.doc, _ = lazyRefs(s.doc, s.doc).(map[string]any)
		s.lazy = true
		if s.schema, err = compile(s.doc, jsonschema.Draft2020); err != nil {
			return compiled{}, err
		}
	}
	c.mu.Lock()
	if len(c.byKey) > 10000 {
		c.byKey = map[string]compiled{}
	}
	c.byKey[key] = s
	c.mu.Unlock()
	return s, nil
}

// validate checks data against the schema held in holder[field].
func (c *schemaCache) validate(holderURI string, holder storage.Object, field string, data storage.Object, req *resource.Request) error {
	doc, ok := holder[field].(map[string]any)
	if !ok || len(doc) == 0 {
		return nil
	}
	key := fmt.Sprintf("%s#%s@%d", holderURI, field, storage.LastModified(holder))
	s, err := c.get(key, doc)
	if err != nil {
		return resource.Invalid("body", "schema", unusable(prepare(doc), err))
	}
	inst := map[string]any{}
	props, _ := doc["properties"].(map[string]any)
	for k, v := range data {
		if k == storage.OrderKey || k == "last_modified" || k == "schema" || (k == "id" && (props == nil || props["id"] == nil)) {
			continue
		}
		inst[k] = v
	}
	err = s.schema.Validate(inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return resource.Invalid("body", "schema", firstLine(err))
	}
	failure := failureOf(ve)
	if ref, reached := reachedUnresolvable(s, failure); reached {
		return resource.Invalid("body", "schema", unresolvableMessage(ref))
	}
	var body []byte
	if req != nil {
		body = req.Body()
	}
	name, msg := kintoFailure(failure, s.doc, inst, body)
	if name == "" {
		name = "data"
	}
	// The message is built as for every invalid parameter (Kinto's own
	// rule): the description alone when it names the field, as a missing
	// property's does, "title in body: ..." otherwise.
	e := resource.Invalid("body", name, msg)
	// An item of a list is named by its index, a number in Kinto's
	// answer (Python's path holds ints for list items).
	if path := splitPointer(failure.InstanceLocation); len(path) > 0 && path[len(path)-1] == name {
		if parent, ok := resolvePointer(inst, path[:len(path)-1]); ok {
			if _, isList := parent.([]any); isList {
				if i, err := strconv.Atoi(name); err == nil {
					e.Details.([]map[string]any)[0]["name"] = i
				}
			}
		}
	}
	return e
}

func bucketOf(w *resource.Write) (storage.Object, string, error) {
	bid := strings.Split(strings.TrimPrefix(w.ParentURI, "/buckets/"), "/")[0]
	b, err := w.Tx.Get(storage.Ref{Resource: "bucket"}, bid)
	return b, "/buckets/" + bid, err
}

func (c *schemaCache) validateCollection(w *resource.Write) error {
	if v, ok := w.Data["schema"]; ok {
		if err := c.checkSchema("schema", v); err != nil {
			return err
		}
	}
	if v, ok := w.Data["indexes"]; ok {
		if err := checkIndexes(v); err != nil {
			return err
		}
	}
	if v, ok := w.Data["cache_expires"]; ok {
		if _, isInt := storage.Int(v); !isInt {
			return resource.Invalid("body", "data.cache_expires", resource.ValueText(v)+" is not an integer")
		}
	}
	if !c.enabled {
		return nil
	}
	b, uri, err := bucketOf(w)
	if err != nil {
		return err
	}
	return c.validate(uri, b, "collection:schema", w.Data, w.Request)
}

func (c *schemaCache) validateRecord(w *resource.Write) error {
	delete(w.Data, "schema")
	if !c.enabled {
		return nil
	}
	parts := strings.Split(w.ParentURI, "/")
	if len(parts) < 5 {
		return nil
	}
	col, err := w.Tx.Get(storage.Ref{Resource: "collection", Parent: "/buckets/" + parts[2]}, parts[4])
	if err != nil {
		return err
	}
	if doc, ok := col["schema"].(map[string]any); ok && len(doc) > 0 {
		if err := c.validate(w.ParentURI, col, "schema", w.Data, w.Request); err != nil {
			return err
		}
		w.Data["schema"] = storage.LastModified(col)
	}
	b, uri, err := bucketOf(w)
	if err != nil {
		return err
	}
	return c.validate(uri, b, "record:schema", w.Data, w.Request)
}
