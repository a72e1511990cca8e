package kinto_test

import (
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

// TestSeveralFaultsSameAnswer: a body with several faults of one kind gets
// the same error on every try, naming the first fault in sorted order
// (the keys of a JSON object come to the server in no fixed order).
func TestSeveralFaultsSameAnswer(t *testing.T) {
	s := apitest.New(t, nil)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: alice, Body: "{}"}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: "{}"}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: recs + "/r", Auth: alice, Body: `{"data":{}}`}).Expect(t, 201, 0)
	const sub = `{"method":"GET","path":"/buckets/b"`
	for _, c := range []struct {
		name, method, path, ctype, body, field, desc string
	}{
		{"write body", "PUT", recs + "/r", "", `{"data":{},"zz":1,"mm":2,"aa":3}`, "aa", "Unrecognized keys: aa, mm, zz"},
		{"merge body", "PATCH", recs + "/r", "application/merge-patch+json", `{"data":{},"zz":1,"aa":2}`, "aa", "Unrecognized keys: aa, zz"},
		{"patch body", "PATCH", recs + "/r", "", `{"zz":1,"aa":2}`, "aa", "Unrecognized keys: aa, zz"},
		{"permission names", "PUT", recs + "/r", "", `{"data":{},"permissions":{"zz":["a"],"mm":["b"],"aa":["c"]}}`, "permissions.aa", ""},
		{"JSON-Patch permissions", "PATCH", recs + "/r", "application/json-patch+json", `[{"op":"add","path":"/permissions/zz","value":["a"]},{"op":"add","path":"/permissions/aa","value":["b"]}]`, "", `JSON Patch operation failed: "aa" is not a valid permission name for record`},
		{"schema", "PUT", "/v1/buckets/b/collections/s", "", `{"data":{"schema":{"properties":{"bb":{"type":1},"a":{"minimum":"x"},"c":{"pattern":"("}}}}}`, "data.schema", "The schema is not a valid JSON schema: /properties/a/minimum expected number, but got string"},
		{"batch body", "POST", "/v1/batch", "", `{"requests":[` + sub + `}],"zz":1,"aa":2}`, "aa", "Unrecognized keys: aa, zz"},
		{"batch defaults", "POST", "/v1/batch", "", `{"defaults":{"zz":1,"aa":2},"requests":[` + sub + `}]}`, "defaults.aa", "Unrecognized keys: aa, zz"},
		{"batch request", "POST", "/v1/batch", "", `{"requests":[` + sub + `,"zz":1,"aa":2}]}`, "requests.0.aa", "Unrecognized keys: aa, zz"},
		{"batch headers", "POST", "/v1/batch", "", `{"requests":[` + sub + `,"headers":{"Zz":1,"Aa":2}}]}`, "requests.0.headers.Aa", "header values must be strings"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var first string
			for try := 0; try < 8; try++ {
				req := R{Method: c.method, Path: c.path, Auth: alice, Body: c.body}
				if c.ctype != "" {
					req.Headers = map[string]string{"Content-Type": c.ctype}
				}
				got := s.Do(req).Expect(t, 400, 107)
				d := got.Body["details"].([]any)[0].(map[string]any)
				if d["name"] != c.field || (c.desc != "" && d["description"] != c.desc) {
					t.Fatalf("try %d: details %v, want %q %q", try, d, c.field, c.desc)
				}
				if try == 0 {
					first = string(got.Raw)
				} else if string(got.Raw) != first {
					t.Fatalf("try %d answered %s, the first %s", try, got.Raw, first)
				}
			}
		})
	}
}
