package kinto_test

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

// TestJSONPatchFuzz sends random JSON-Patch documents (ops whose members
// have every JSON type, missing and extra members, deep, huge and
// reserved pointers) to a record, a collection and an account. No answer
// may be a 5xx, and a 4xx must leave the object as it was (issue 27;
// security review row 18: the reserved order key is refused in pointers).
func TestJSONPatchFuzz(t *testing.T) {
	s := apitest.New(t, map[string]string{"includes": "accounts", "multiauth.policies": "account basicauth",
		"account_create_principals": "system.Everyone", "account_write_principals": "account:admin",
		"bucket_create_principals": "system.Authenticated", "account_bcrypt_cost": "4"})
	s.Do(R{Method: "PUT", Path: "/v1/accounts/rosa", Body: `{"data":{"password":"rosa-pw-123","meta":{"a":[1,2]}}}`}).Expect(t, 201, 0)
	rosa := apitest.Basic("rosa", "rosa-pw-123")
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: rosa, Body: `{}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: rosa, Body: `{"data":{"k":{"x":1}}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c/records/r", Auth: rosa,
		Body: `{"data":{"a":{"b":[1,{"c":"d"}]},"s":"text","n":null}}`}).Expect(t, 201, 0)
	targets := []string{"/v1/buckets/b/collections/c/records/r", "/v1/buckets/b/collections/c", "/v1/accounts/rosa"}
	rng := rand.New(rand.NewSource(27))
	values := func() any {
		switch rng.Intn(8) {
		case 0:
			return nil
		case 1:
			return rng.Intn(2) == 0
		case 2:
			return rng.Float64() * 1e6
		case 3:
			return "/data/" + []string{"a", "s", "n", "x", "a/b/0", "a/b/-", "\u0000order", "a~1b"}[rng.Intn(8)]
		case 4:
			return []any{1, "x", nil}
		case 5:
			return map[string]any{"k": []any{map[string]any{}}}
		case 6:
			return strings.Repeat("/a", rng.Intn(3000))
		default:
			return -rng.Intn(5)
		}
	}
	pointers := []string{"/data/a", "/data/a/b/0", "/data/a/b/-", "/data/a/b/99", "/data/s", "/data/new", "/data",
		"/permissions/read/alice", "/permissions/write", "/data/\u0000order", "/data/a/\u0000order", "/data/~2", "/data/~",
		"", "data", "/", "/permissions", "/id", "/data/last_modified", "/data/password"}
	member := func() any {
		if rng.Intn(3) == 0 {
			return values()
		}
		return pointers[rng.Intn(len(pointers))]
	}
	ops := []any{"add", "remove", "replace", "move", "copy", "test", "frob", 5, nil, []any{"add"}}
	const cases = 3000
	for i := 0; i < cases; i++ {
		var doc []any
		for n := rng.Intn(4); n >= 0; n-- {
			op := map[string]any{}
			if rng.Intn(10) > 0 {
				op["op"] = ops[rng.Intn(len(ops))]
			}
			for _, k := range []string{"path", "from", "value"} {
				if rng.Intn(3) > 0 {
					op[k] = member()
				}
			}
			if rng.Intn(12) == 0 {
				op["extra"] = values()
			}
			if rng.Intn(15) == 0 {
				doc = append(doc, values())
				continue
			}
			doc = append(doc, op)
		}
		body, _ := json.Marshal(doc)
		target := targets[i%len(targets)]
		before := s.Do(R{Method: "GET", Path: target, Auth: rosa}).Expect(t, 200, 0)
		r := s.Do(R{Method: "PATCH", Path: target, Auth: rosa, Body: body,
			Headers: map[string]string{"Content-Type": "application/json-patch+json"}})
		if r.Status >= 500 {
			t.Fatalf("case %d: %s %s -> %d %s", i, target, body, r.Status, r.Raw)
		}
		if r.Status >= 400 {
			if r.Errno() == 0 || r.Body["message"] == nil {
				t.Fatalf("case %d: %d without a Kinto error body: %s", i, r.Status, r.Raw)
			}
			after := s.Do(R{Method: "GET", Path: target, Auth: rosa}).Expect(t, 200, 0)
			if string(after.Raw) != string(before.Raw) {
				t.Fatalf("case %d: %s answered %d but changed the object:\n%s\n%s", i, body, r.Status, before.Raw, after.Raw)
			}
			continue
		}
		if strings.Contains(string(r.Raw), `"\u0000order":`) {
			t.Fatalf("case %d: the reserved key shows in %s", i, r.Raw)
		}
	}
	// The cases the reviews named, one by one.
	for _, c := range []struct{ body, member string }{
		{`[{"op":"move","from":5,"path":"/data/x"}]`, "from"},
		{`[{"op":"copy","from":null,"path":"/data/x"}]`, "from"},
		{`[{"op":"move","path":"/data/x"}]`, "from"},
		{`[{"op":"add","path":{"a":1},"value":1}]`, "path"},
		{`[{"op":7,"path":"/data/x","value":1}]`, "op"},
		{`[{"op":"add","path":"/data/x"}]`, "value"},
		{`[{"op":"add","path":"/data/\u0000order","value":"x"}]`, "path"},
		{`[{"op":"copy","from":"/data/\u0000order","path":"/data/x"}]`, "from"},
	} {
		r := s.Do(R{Method: "PATCH", Path: targets[0], Auth: rosa, Body: c.body,
			Headers: map[string]string{"Content-Type": "application/json-patch+json"}}).Expect(t, 400, 107)
		if name := fmt.Sprint(r.Body["details"]); !strings.Contains(name, c.member) {
			t.Errorf("%s: the error does not name %s: %s", c.body, c.member, r.Raw)
		}
	}
}
