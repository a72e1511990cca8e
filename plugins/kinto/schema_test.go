package kinto_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

const titleSchema = `{"type":"object","properties":{"title":{"type":"string"},"n":{"type":"integer"}},"required":["title","id","last_modified"]}`

func TestSchemaValidation(t *testing.T) {
	s := apitest.New(t, map[string]string{"experimental_collection_schema_validation": "true"})
	if caps := s.Do(R{Method: "GET", Path: "/v1/"}).Body["capabilities"].(map[string]any); caps["schema"] == nil {
		t.Error("schema capability missing")
	}
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: alice, Body: "{}"}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: `{"data":{"schema":{"type":"nope"}}}`}).Expect(t, 400, 107)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: `{"data":{"schema":"x"}}`}).Expect(t, 400, 107)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: `{"data":{"cache_expires":"x"}}`}).Expect(t, 400, 107)
	col := s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: `{"data":{"schema":` + titleSchema + `}}`}).Expect(t, 201, 0)
	colTS := num(col.Data()["last_modified"])
	ok := s.Do(R{Method: "POST", Path: recs, Auth: alice, Body: `{"data":{"title":"hi","n":2}}`}).Expect(t, 201, 0)
	if num(ok.Data()["schema"]) != colTS {
		t.Errorf("record schema field: %s", ok.Raw)
	}
	bad := s.Do(R{Method: "POST", Path: recs, Auth: alice, Body: `{"data":{"title":42}}`}).Expect(t, 400, 107)
	if d := bad.Body["details"].([]any)[0].(map[string]any); d["name"] != "title" {
		t.Errorf("failing field: %s", bad.Raw)
	}
	miss := s.Do(R{Method: "POST", Path: recs, Auth: alice, Body: `{"data":{"n":1}}`}).Expect(t, 400, 107)
	if d := miss.Body["details"].([]any)[0].(map[string]any); d["name"] != "title" || !strings.Contains(miss.Body["message"].(string), "'title' is a required property") {
		t.Errorf("missing field: %s", miss.Raw)
	}
	s.Do(R{Method: "PATCH", Path: recs + "/" + ok.Data()["id"].(string), Auth: alice, Body: `{"data":{"n":"x"}}`}).Expect(t, 400, 107)
	// A schema change applies at once; {} removes validation.
	s.Do(R{Method: "PATCH", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: `{"data":{"schema":{"type":"object","required":["other"]}}}`}).Expect(t, 200, 0)
	s.Do(R{Method: "POST", Path: recs, Auth: alice, Body: `{"data":{"title":"hi"}}`}).Expect(t, 400, 107)
	s.Do(R{Method: "PATCH", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: `{"data":{"schema":{}}}`}).Expect(t, 200, 0)
	free := s.Do(R{Method: "POST", Path: recs, Auth: alice, Body: `{"data":{"anything":1}}`}).Expect(t, 201, 0)
	if _, has := free.Data()["schema"]; has {
		t.Errorf("no schema field without a schema: %s", free.Raw)
	}
	// Bucket-level schemas.
	s.Do(R{Method: "PATCH", Path: "/v1/buckets/b", Auth: alice, Body: `{"data":{"record:schema":{"type":"nope"}}}`}).Expect(t, 400, 107)
	s.Do(R{Method: "PATCH", Path: "/v1/buckets/b", Auth: alice, Body: `{"data":{"record:schema":{"type":"object","required":["kind"]},"collection:schema":{"type":"object","required":["label"]},"group:schema":{"type":"object","properties":{"members":{"maxItems":1}}}}}`}).Expect(t, 200, 0)
	s.Do(R{Method: "POST", Path: recs, Auth: alice, Body: `{"data":{"title":"x"}}`}).Expect(t, 400, 107)
	s.Do(R{Method: "POST", Path: recs, Auth: alice, Body: `{"data":{"kind":"x"}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/other", Auth: alice, Body: `{}`}).Expect(t, 400, 107)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/other", Auth: alice, Body: `{"data":{"label":"L"}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/groups/g", Auth: alice, Body: `{"data":{"members":["a","b"]}}`}).Expect(t, 400, 107)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/groups/g", Auth: alice, Body: `{"data":{"members":["a"]}}`}).Expect(t, 201, 0)
	// A reference that cannot be resolved passes the meta-schema: the
	// collection is stored, and the records it applies to get 400 naming
	// "schema" (RES-17). Remote references are never fetched.
	var fetched atomic.Int32
	remote := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"type":"object"}`)) //nolint:errcheck // test server
	}))
	defer remote.Close()
	for _, c := range []struct{ id, schema, desc string }{
		{"remote", `{"$ref":"` + remote.URL + `/x.json"}`, "Remote references are never fetched: '" + remote.URL + "/x.json'"},
		// Kinto 26.2's words.
		{"dangling", `{"properties":{"a":{"$ref":"#/definitions/nope"}}}`, "Unresolvable JSON pointer: 'definitions/nope'"},
		// Two faults: the first in sorted order is named, every time.
		{"both", `{"properties":{"b":{"$ref":"#/definitions/nope"},"a":{"$ref":"` + remote.URL + `/y.json"}}}`, "Remote references are never fetched: '" + remote.URL + "/y.json'"},
	} {
		col := "/v1/buckets/b/collections/" + c.id
		s.Do(R{Method: "PUT", Path: col, Auth: alice, Body: `{"data":{"label":"x","schema":` + c.schema + `}}`}).Expect(t, 201, 0)
		for try := 0; try < 8; try++ {
			bad := s.Do(R{Method: "POST", Path: col + "/records", Auth: alice, Body: `{"data":{"kind":"x","a":1}}`}).Expect(t, 400, 107)
			if d := bad.Body["details"].([]any)[0].(map[string]any); d["name"] != "schema" || d["description"] != c.desc {
				t.Errorf("%s: an unusable schema is described: %s", c.id, bad.Raw)
				break
			}
		}
	}
	if n := fetched.Load(); n != 0 {
		t.Errorf("the remote schema was fetched %d times", n)
	}
	// As in Kinto 26.2 on PostgreSQL, a reference fails only the records
	// validation reaches it with, and of two faults the one met first in
	// the stored schema's key order ("required" before "properties") is
	// told.
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/lazy", Auth: alice,
		Body: `{"data":{"label":"x","schema":{"properties":{"a":{"$ref":"#/definitions/nope"}},"required":["t"]}}}`}).Expect(t, 201, 0)
	for _, c := range []struct{ body, name, desc string }{
		{`{"kind":"x","t":1}`, "", ""},
		{`{"kind":"x","t":1,"a":1}`, "schema", "Unresolvable JSON pointer: 'definitions/nope'"},
		{`{"kind":"x","a":1}`, "t", "'t' is a required property"},
		{`{"kind":"x"}`, "t", "'t' is a required property"},
	} {
		r := s.Do(R{Method: "POST", Path: "/v1/buckets/b/collections/lazy/records", Auth: alice, Body: `{"data":` + c.body + `}`})
		if c.name == "" {
			r.Expect(t, 201, 0)
			continue
		}
		if d := r.Expect(t, 400, 107).Body["details"].([]any)[0].(map[string]any); d["name"] != c.name || d["description"] != c.desc {
			t.Errorf("%s: %s", c.body, r.Raw)
		}
	}
	// "format" is an annotation (Kinto checks no format); a pattern that
	// is not a regular expression fails the meta-schema.
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/formats", Auth: alice, Body: `{"data":{"label":"x","schema":{"properties":{"a":{"format":"email"}}}}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "POST", Path: "/v1/buckets/b/collections/formats/records", Auth: alice, Body: `{"data":{"kind":"x","a":"not an address"}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/regex", Auth: alice, Body: `{"data":{"label":"x","schema":{"properties":{"a":{"pattern":"("}}}}}`}).Expect(t, 400, 107)
}

func TestSchemaWellFormedWithoutValidation(t *testing.T) {
	s := apitest.New(t, nil)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: alice, Body: "{}"}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: `{"data":{"schema":{"type":42}}}`}).Expect(t, 400, 107)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: `{"data":{"schema":` + titleSchema + `}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "POST", Path: recs, Auth: alice, Body: `{"data":{"title":42}}`}).Expect(t, 201, 0)
}

// kintoWordsSchema exercises the keywords whose failures Kinto words with
// Python's jsonschema messages.
const kintoWordsSchema = `{"type":"object","required":["title"],"additionalProperties":false,"properties":{
 "title":{"type":"string","minLength":2,"maxLength":5,"pattern":"^[a-z]+$"},
 "tags":{"type":"array","items":{"type":"string"},"maxItems":2,"uniqueItems":true},
 "o":{"type":"object","properties":{"x":{"type":["integer","null"]}},"required":["x"]},
 "n":{"type":"number","minimum":0,"maximum":10.5,"multipleOf":0.5},
 "e":{"enum":["a",1,null,true]},"c":{"const":"k"},"x1":{"exclusiveMinimum":1},
 "any":{"anyOf":[{"type":"string"},{"type":"integer"}]},
 "obj":{"minProperties":1,"maxProperties":1},"nn":{"not":{"type":"string"}},"te":{"type":"string","enum":["a","b"]}}}`

// TestSchemaFailuresAsKinto checks the field and the description of a
// record's validation failure against what Kinto 26.2 answered for the same
// schema and body (run side by side); the message is the description alone
// when it names the field, "<field> in body: <description>" otherwise.
func TestSchemaFailuresAsKinto(t *testing.T) {
	s := apitest.New(t, map[string]string{"experimental_collection_schema_validation": "true"})
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: alice, Body: "{}"}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: `{"data":{"schema":` + kintoWordsSchema + `}}`}).Expect(t, 201, 0)
	for _, c := range []struct{ data, name, desc string }{
		{`{}`, "title", "'title' is a required property"},
		{`{"title":"a"}`, "title", "'a' is too short"},
		{`{"title":"abcdefg"}`, "title", "'abcdefg' is too long"},
		{`{"title":"AB"}`, "title", "'AB' does not match '^[a-z]+$'"},
		{`{"title":5}`, "title", "5 is not of type 'string'"},
		{`{"title":null}`, "title", "None is not of type 'string'"},
		{`{"title":"ab","tags":[1]}`, "0", "1 is not of type 'string'"},
		{`{"title":"ab","tags":["a","b","c"]}`, "tags", "['a', 'b', 'c'] is too long"},
		{`{"title":"ab","tags":["a","a"]}`, "tags", "['a', 'a'] has non-unique elements"},
		{`{"title":"ab","o":{"x":"s"}}`, "x", "'s' is not of type 'integer', 'null'"},
		{`{"title":"ab","o":{}}`, "x", "'x' is a required property"},
		{`{"title":"ab","n":-1}`, "n", "-1 is less than the minimum of 0"},
		{`{"title":"ab","n":11}`, "n", "11 is greater than the maximum of 10.5"},
		{`{"title":"ab","n":0.3}`, "n", "0.3 is not a multiple of 0.5"},
		{`{"title":"ab","n":1e20}`, "n", "1e+20 is greater than the maximum of 10.5"},
		{`{"title":"ab","n":"x\u00e9\n"}`, "n", `'xé\n' is not of type 'number'`},
		{`{"title":"ab","n":"it's"}`, "n", `"it's" is not of type 'number'`},
		{`{"title":"ab","e":"z"}`, "e", "'z' is not one of ['a', 1, None, True]"},
		{`{"title":"ab","c":"it's"}`, "c", "'k' was expected"},
		{`{"title":"ab","x1":1}`, "x1", "1 is less than or equal to the minimum of 1"},
		{`{"title":"ab","any":true}`, "any", "True is not valid under any of the given schemas"},
		{`{"title":"ab","obj":{}}`, "obj", "{} does not have enough properties"},
		{`{"title":"ab","obj":{"a":1,"b":[1.5,"x"]}}`, "obj", "{'a': 1, 'b': [1.5, 'x']} has too many properties"},
		{`{"title":"ab","nn":"s"}`, "nn", "'s' should not be valid under {'type': 'string'}"},
		// Kinto checks "enum" before "type" (JSONB's key order).
		{`{"title":"ab","te":5}`, "te", "5 is not one of ['a', 'b']"},
		{`{"title":"ab","te":"z"}`, "te", "'z' is not one of ['a', 'b']"},
		{`{"title":"ab","zz":1,"yy":2}`, "additionalProperties", "Additional properties are not allowed ('yy', 'zz' were unexpected)"},
	} {
		got := s.Do(R{Method: "PUT", Path: recs + "/r1", Auth: alice, Body: `{"data":` + c.data + `}`}).Expect(t, 400, 107)
		d := got.Body["details"].([]any)[0].(map[string]any)
		msg := c.name + " in body: " + c.desc
		if strings.Contains(c.desc, c.name) {
			msg = c.desc
		}
		name := d["name"]
		if c.name == "0" {
			// A list item's index is a number, as in Kinto.
			if _, isString := name.(string); isString {
				t.Errorf("%s: the index is named by a string: %s", c.data, got.Raw)
			}
			name = fmt.Sprint(name)
		}
		if name != c.name || d["description"] != c.desc || d["location"] != "body" || got.Body["message"] != msg {
			t.Errorf("%s: got name %v, description %q, message %q; want %q, %q, %q", c.data, d["name"], d["description"], got.Body["message"], c.name, c.desc, msg)
		}
	}
	// A long value is cut in the description (Python would write it whole).
	long := strings.Repeat("é", 2000)
	got := s.Do(R{Method: "PUT", Path: recs + "/r1", Auth: alice, Body: `{"data":{"title":"ab","n":"` + long + `"}}`}).Expect(t, 400, 107)
	desc := got.Body["details"].([]any)[0].(map[string]any)["description"].(string)
	if !strings.HasPrefix(desc, "'éé") || !strings.HasSuffix(desc, "é... is not of type 'number'") || len(desc) > 1100 {
		t.Errorf("long value: description of %d bytes: %.80q...", len(desc), desc)
	}
}

// TestSchemaFailureOrderAsKinto: when several parts of a schema fail, the
// one reported is the one Kinto 26.2 on PostgreSQL reports (its schemas come
// back from JSONB, shorter keys first), the same on every request, though
// the validator visits "properties" in no fixed order.
func TestSchemaFailureOrderAsKinto(t *testing.T) {
	s := apitest.New(t, map[string]string{"experimental_collection_schema_validation": "true"})
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: alice, Body: "{}"}).Expect(t, 201, 0)
	for i, c := range []struct{ schema, data, name, desc string }{
		{`{"type":"object","properties":{"bb":{"type":"string"},"a":{"type":"string"},"ccc":{"minimum":5}}}`, `{"bb":1,"a":2,"ccc":1}`, "a", "2 is not of type 'string'"},
		{`{"type":"object","properties":{"bb":{"type":"string"},"a":{"type":"string"}},"required":["zz"]}`, `{"bb":1,"a":2}`, "zz", "'zz' is a required property"},
		{`{"properties":{"t":{"maxLength":2,"pattern":"^[0-9]+$","minLength":10}}}`, `{"t":"abc"}`, "t", "'abc' does not match '^[0-9]+$'"},
		{`{"properties":{"l":{"items":{"type":"string"}}}}`, `{"l":["a","b","c","d","e","f","g","h","i","j",1,2]}`, "10", "1 is not of type 'string'"},
		{`{"allOf":[{"required":["x"]},{"required":["y"]}]}`, `{}`, "x", "'x' is a required property"},
	} {
		col := fmt.Sprintf("/v1/buckets/b/collections/c%d", i)
		s.Do(R{Method: "PUT", Path: col, Auth: alice, Body: `{"data":{"schema":` + c.schema + `}}`}).Expect(t, 201, 0)
		for try := 0; try < 8; try++ {
			got := s.Do(R{Method: "PUT", Path: col + "/records/r", Auth: alice, Body: `{"data":` + c.data + `}`}).Expect(t, 400, 107)
			if d := got.Body["details"].([]any)[0].(map[string]any); fmt.Sprint(d["name"]) != c.name || d["description"] != c.desc {
				t.Errorf("%s with %s: got %v %q, want %q %q", c.data, c.schema, d["name"], d["description"], c.name, c.desc)
				break
			}
		}
	}
}

// TestSchemaFailuresAsKintoOnPostgreSQL: more failures, each answered as
// Kinto 26.2 on PostgreSQL answered the same schema and body (run side by
// side): values of the record written in the client's key order, parts of
// the schema in JSONB's (shorter keys first); "not", "if" and "enum"
// checked before "type"; "dependencies" ignored by the default draft
// (2020-12); a property name with a space named as it is.
func TestSchemaFailuresAsKintoOnPostgreSQL(t *testing.T) {
	s := apitest.New(t, map[string]string{"experimental_collection_schema_validation": "true"})
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: alice, Body: "{}"}).Expect(t, 201, 0)
	schema := `{"type":"object","properties":{
 "obj":{"maxProperties":1,"maxItems":0},
 "nn":{"type":"object","not":{"type":"object","patternProperties":{"^a":{"type":"string"}},"additionalProperties":{"type":"integer"}}},
 "pp":{"type":"object","patternProperties":{"^a":{"type":"string"},"^c":{}},"additionalProperties":false},
 "a b":{"type":"string"},
 "one":{"oneOf":[{"type":"integer"},{"minimum":0,"type":"number"}]},
 "dep":{"type":"object","dependencies":{"a":["b"]}},
 "tn":{"type":"number","not":{}},
 "ie":{"type":"integer","if":{"minimum":5},"then":{"multipleOf":2}}}}`
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: `{"data":{"schema":` + schema + `}}`}).Expect(t, 201, 0)
	for _, c := range []struct{ data, name, desc string }{
		{`{"obj":[{"b":1,"a":2}]}`, "obj", "[{'b': 1, 'a': 2}] is too long"},
		{`{"tn":{"y":[1,{"b":2,"a":1}],"x":null}}`, "tn", "{'y': [1, {'b': 2, 'a': 1}], 'x': None} should not be valid under {}"},
		{`{"obj":{"b":{"z":1,"y":2},"a":2}}`, "obj", "{'b': {'z': 1, 'y': 2}, 'a': 2} has too many properties"},
		{`{"nn":{}}`, "nn", "{} should not be valid under {'type': 'object', 'patternProperties': {'^a': {'type': 'string'}}, 'additionalProperties': {'type': 'integer'}}"},
		{`{"pp":{"ab":"x","b":1,"d":2}}`, "pp", "'b', 'd' do not match any of the regexes: '^a', '^c'"},
		{`{"pp":{"b":1}}`, "pp", "'b' does not match any of the regexes: '^a', '^c'"},
		{`{"a b":1}`, "a b", "1 is not of type 'string'"},
		{`{"one":3}`, "one", "3 is valid under each of {'type': 'number', 'minimum': 0}, {'type': 'integer'}"},
		{`{"dep":{"a":1}}`, "", ""},
		{`{"tn":"x"}`, "tn", "'x' should not be valid under {}"},
		{`{"ie":"x"}`, "ie", "'x' is not of type 'integer'"},
		{`{"ie":7}`, "ie", "7 is not a multiple of 2"},
	} {
		r := s.Do(R{Method: "POST", Path: "/v1/buckets/b/collections/c/records", Auth: alice, Body: `{"data":` + c.data + `}`})
		if c.name == "" {
			r.Expect(t, 201, 0)
			continue
		}
		if d := r.Expect(t, 400, 107).Body["details"].([]any)[0].(map[string]any); d["name"] != c.name || d["description"] != c.desc {
			t.Errorf("%s: got %v %q, want %q %q", c.data, d["name"], d["description"], c.name, c.desc)
		}
	}
}
