package kinto_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

func TestPatchForms(t *testing.T) {
	s := apitest.New(t, nil)
	setup(t, s)
	aliceID := userID(t, s, alice)
	obj := recs + "/r"
	reset := func() {
		s.Do(R{Method: "PUT", Path: obj, Auth: alice, Body: `{"data":{"a":{"b":1},"keep":true,"list":[1,2]},"permissions":{"read":["ann","~odd/"]}}`}).Expect(t, 200, 0)
	}
	s.Do(R{Method: "PUT", Path: obj, Auth: alice, Body: `{}`}).Expect(t, 201, 0)
	type tc struct {
		name, ct, body string
		status         int
		check          func(t *testing.T, r *apitest.Response)
	}
	merge := "application/merge-patch+json"
	jp := "application/json-patch+json"
	cases := []tc{
		{"json merge replaces sub-objects", "application/json", `{"data":{"a":{"c":2},"n":null}}`, 200, func(t *testing.T, r *apitest.Response) {
			if fmt.Sprint(r.Data()["a"]) != "map[c:2]" || r.Data()["keep"] != true {
				t.Errorf("%s", r.Raw)
			}
			if v, ok := r.Data()["n"]; !ok || v != nil {
				t.Errorf("null is stored as null: %s", r.Raw)
			}
		}},
		{"merge-patch merges and removes", merge, `{"data":{"a":{"c":2},"keep":null},"permissions":{"read":null}}`, 200, func(t *testing.T, r *apitest.Response) {
			if fmt.Sprint(r.Data()["a"]) != "map[b:1 c:2]" {
				t.Errorf("recursive merge: %s", r.Raw)
			}
			if _, ok := r.Data()["keep"]; ok {
				t.Errorf("null removes: %s", r.Raw)
			}
			if _, ok := r.Body["permissions"].(map[string]any)["read"]; ok {
				t.Errorf("null removes a permission: %s", r.Raw)
			}
		}},
		{"json-patch on data and principals", jp, `[{"op":"add","path":"/data/x","value":5},{"op":"remove","path":"/data/keep"},
			{"op":"replace","path":"/data/list/0","value":9},{"op":"add","path":"/permissions/read/account:bob"},
			{"op":"remove","path":"/permissions/read/ann"},{"op":"test","path":"/permissions/read/~0odd~1"},
			{"op":"copy","from":"/data/x","path":"/data/y"},{"op":"move","from":"/permissions/read/~0odd~1","path":"/data/old"}]`, 200,
			func(t *testing.T, r *apitest.Response) {
				d := r.Data()
				if fmt.Sprintf("%v %v %v %v", d["x"], d["y"], d["list"], d["old"]) != "5 5 [9 2] ~odd/" || d["keep"] != nil {
					t.Errorf("data: %s", r.Raw)
				}
				if fmt.Sprint(r.Body["permissions"].(map[string]any)["read"]) != "[account:bob]" {
					t.Errorf("permissions: %s", r.Raw)
				}
			}},
		{"json-patch replaces a whole permission", jp, `[{"op":"add","path":"/permissions/read","value":["x","y"]}]`, 200, func(t *testing.T, r *apitest.Response) {
			if fmt.Sprint(r.Body["permissions"].(map[string]any)["read"]) != "[x y]" {
				t.Errorf("%s", r.Raw)
			}
		}},
		{"json-patch failed test", jp, `[{"op":"test","path":"/data/keep","value":false}]`, 400, nil},
		// As Kinto patches them: the stored data, last_modified included,
		// and a principal is its own value whatever the operation says.
		{"json-patch removes last_modified", jp, `[{"op":"remove","path":"/data/last_modified"},{"op":"add","path":"/data/y","value":1}]`, 200, func(t *testing.T, r *apitest.Response) {
			if r.Data()["y"] == nil || r.Data()["last_modified"] == nil {
				t.Errorf("%s", r.Raw)
			}
		}},
		{"json-patch moves data where it is", jp, `[{"op":"move","path":"/data","from":"/data"},{"op":"move","path":"/data/keep","from":"/data/keep"}]`, 200, func(t *testing.T, r *apitest.Response) {
			if r.Data()["keep"] != true {
				t.Errorf("%s", r.Raw)
			}
		}},
		{"json-patch moves a missing key where it is", jp, `[{"op":"move","path":"/data/nope","from":"/data/nope"}]`, 400, nil},
		{"json-patch tests last_modified", jp, `[{"op":"test","path":"/data/last_modified","value":1}]`, 400, nil},
		{"json-patch principal with a value", jp, `[{"op":"add","path":"/permissions/read/zed","value":true},{"op":"test","path":"/permissions/read/ann","value":1}]`, 200, func(t *testing.T, r *apitest.Response) {
			if w := fmt.Sprint(r.Body["permissions"].(map[string]any)["read"]); !strings.Contains(w, "zed") {
				t.Errorf("%s", r.Raw)
			}
		}},
		{"json-patch missing path", jp, `[{"op":"remove","path":"/data/nope"}]`, 400, nil},
		{"json-patch unknown op", jp, `[{"op":"explode","path":"/data/a"}]`, 400, nil},
		{"json-patch unknown key", jp, `[{"op":"add","path":"/data/a","value":1,"extra":1}]`, 400, nil},
		{"json-patch bad path", jp, `[{"op":"add","path":"data","value":1}]`, 400, nil},
		{"json-patch invalid escape", jp, `[{"op":"add","path":"/data/~2","value":1}]`, 400, nil},
		{"json-patch trailing tilde", jp, `[{"op":"add","path":"/data/a~","value":1}]`, 400, nil},
		{"json-patch invalid from", jp, `[{"op":"copy","from":"/data/~x","path":"/data/z"}]`, 400, nil},
		{"json-patch escaped key", jp, `[{"op":"add","path":"/data/a~1b~0c","value":1}]`, 200, func(t *testing.T, r *apitest.Response) {
			if r.Data()["a/b~c"] != json.Number("1") {
				t.Errorf("~1 and ~0 unescape: %s", r.Raw)
			}
		}},
		{"json-patch unknown permission", jp, `[{"op":"add","path":"/permissions/collection:create/x"}]`, 400, nil},
		{"json-patch not a list", jp, `{"op":"add"}`, 400, nil},
		{"json-patch changes the id", jp, `[{"op":"replace","path":"/data/id","value":"other"}]`, 400, nil},
		{"json-patch operation not an object", jp, `[1]`, 400, nil},
		{"json-patch index out of range", jp, `[{"op":"add","path":"/data/list/7","value":1}]`, 400, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reset()
			r := s.Do(R{Method: "PATCH", Path: obj, Auth: alice, Body: c.body, Headers: map[string]string{"Content-Type": c.ct}})
			if c.status == 400 {
				r.Expect(t, 400, 107)
				return
			}
			r.Expect(t, c.status, 0)
			if fmt.Sprint(r.Body["permissions"].(map[string]any)["write"]) != "["+aliceID+"]" {
				t.Errorf("the editor stays in write: %s", r.Raw)
			}
			c.check(t, r)
		})
	}
	t.Run("Response-Behavior", func(t *testing.T) {
		reset()
		for beh, want := range map[string]string{"light": "map[a:1 z:2]", "diff": "map[z:2]"} {
			reset()
			r := s.Do(R{Method: "PATCH", Path: obj, Auth: alice, Body: `{"data":{"a":1,"keep":true,"z":2}}`, Headers: map[string]string{"Response-Behavior": beh}}).Expect(t, 200, 0)
			d := r.Data()
			delete(d, "last_modified")
			if beh == "diff" {
				want = "map[]"
			}
			if fmt.Sprint(d) != want {
				t.Errorf("%s: %v, want %s", beh, d, want)
			}
		}
		s.Do(R{Method: "PATCH", Path: obj, Auth: alice, Body: `{"data":{}}`, Headers: map[string]string{"Response-Behavior": "weird"}}).Expect(t, 400, 107)
	})
	t.Run("last_modified in PATCH", func(t *testing.T) {
		reset()
		r := s.Do(R{Method: "PATCH", Path: obj, Auth: alice, Body: `{"data":{"last_modified":5}}`}).Expect(t, 200, 0)
		if num(r.Data()["last_modified"]) <= 5 {
			t.Errorf("an older last_modified is ignored: %s", r.Raw)
		}
		r2 := s.Do(R{Method: "PATCH", Path: obj, Auth: alice, Body: `{"data":{"last_modified":"x"}}`}).Expect(t, 200, 0)
		if num(r2.Data()["last_modified"]) <= num(r.Data()["last_modified"]) {
			t.Error("PATCH always bumps last_modified")
		}
	})
	if !strings.Contains(string(s.Do(R{Method: "GET", Path: obj, Auth: alice}).Raw), "last_modified") {
		t.Fatal("object unreadable after patches")
	}
}

// TestJSONPatchCopiesAreBounded: each "copy" of the whole object into
// itself doubles it, so forty of them, a body of 2 kB, asked for
// terabytes and stopped the server. What copies add in all is bounded
// by max_request_body_bytes: past it the patch answers 413 errno 113
// and the object is left as it was; copies within it still apply.
func TestJSONPatchCopiesAreBounded(t *testing.T) {
	s := apitest.New(t, map[string]string{"max_request_body_bytes": "100000"})
	setup(t, s)
	obj := recs + "/r"
	s.Do(R{Method: "PUT", Path: obj, Auth: alice, Body: `{"data":{"text":"` + strings.Repeat("x", 1000) + `"}}`}).Expect(t, 201, 0)
	doubling := func(n int) string {
		ops := make([]string, n)
		for i := range ops {
			ops[i] = fmt.Sprintf(`{"op":"copy","from":"/data","path":"/data/c%d"}`, i)
		}
		return "[" + strings.Join(ops, ",") + "]"
	}
	jp := map[string]string{"Content-Type": "application/json-patch+json"}
	cases := []struct {
		name   string
		body   string
		status int
		errno  int
	}{
		{"four doublings, 16 kB", doubling(4), 200, 0},
		{"forty doublings", doubling(40), 413, 113},
		{"one large copy after another", `[{"op":"copy","from":"/data","path":"/data/a"},{"op":"copy","from":"/data","path":"/data/b"},` +
			`{"op":"remove","path":"/data/a"},{"op":"remove","path":"/data/b"}]`, 200, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := s.Do(R{Method: "GET", Path: obj, Auth: alice}).Expect(t, 200, 0)
			r := s.Do(R{Method: "PATCH", Path: obj, Auth: alice, Headers: jp, Body: c.body}).Expect(t, c.status, c.errno)
			after := s.Do(R{Method: "GET", Path: obj, Auth: alice}).Expect(t, 200, 0)
			if c.status != 200 && string(after.Raw) != string(before.Raw) {
				t.Errorf("a refused patch changed the object (%d bytes, %d before)", len(after.Raw), len(before.Raw))
			}
			if c.status == 200 && len(r.Raw) < len(before.Raw) {
				t.Errorf("the patch answered %d bytes", len(r.Raw))
			}
		})
	}
}

// TestJSONPatchShapeErrors: a malformed operation is named and described
// the same way whether the object exists or not, before any operation is
// applied, and never with Go's formatting of a value.
func TestJSONPatchShapeErrors(t *testing.T) {
	s := apitest.New(t, nil)
	setup(t, s)
	s.Do(R{Method: "PUT", Path: recs + "/r", Auth: alice, Body: `{"data":{"x":1}}`}).Expect(t, 201, 0)
	jp := map[string]string{"Content-Type": "application/json-patch+json"}
	for _, c := range []struct{ name, body, field, desc string }{
		{"op missing", `[{"path":"/data/x"}]`, "0.op", "Required"},
		{"op null", `[{"op":null,"path":"/data/x"}]`, "0.op", "Required"},
		{"op a number", `[{"op":5,"path":"/data/x"}]`, "0.op", "5 is not one of test, add, remove, replace, move, copy"},
		{"op unknown", `[{"op":"explode","path":"/data/x"}]`, "0.op", `"explode" is not one of test, add, remove, replace, move, copy`},
		{"path missing", `[{"op":"remove"}]`, "0.path", "Required"},
		{"path relative", `[{"op":"remove","path":"data/x"}]`, "0.path", "path must be a JSON pointer starting with /"},
		{"from missing", `[{"op":"copy","path":"/data/y"}]`, "0.from", "Required"},
		{"a later bad operation before an earlier failing one", `[{"op":"remove","path":"/data/nope"},{"path":"/data/x"}]`, "1.op", "Required"},
	} {
		for _, path := range []string{recs + "/r", recs + "/missing"} {
			t.Run(c.name+" "+path[len(recs):], func(t *testing.T) {
				r := s.Do(R{Method: "PATCH", Path: path, Auth: alice, Body: c.body, Headers: jp}).Expect(t, 400, 107)
				d, _ := r.Body["details"].([]any)
				if len(d) != 1 || d[0].(map[string]any)["name"] != c.field || d[0].(map[string]any)["description"] != c.desc {
					t.Errorf("details: %s", r.Raw)
				}
			})
		}
	}
}
