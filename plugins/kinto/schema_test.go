package kinto_test

import (
	"strings"
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
	// Remote references are never fetched.
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/remote", Auth: alice, Body: `{"data":{"label":"x","schema":{"$ref":"http://127.0.0.1:1/x.json"}}}`}).Expect(t, 400, 107)
}

func TestSchemaWellFormedWithoutValidation(t *testing.T) {
	s := apitest.New(t, nil)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: alice, Body: "{}"}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: `{"data":{"schema":{"type":42}}}`}).Expect(t, 400, 107)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: `{"data":{"schema":` + titleSchema + `}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "POST", Path: recs, Auth: alice, Body: `{"data":{"title":42}}`}).Expect(t, 201, 0)
}
