package kinto_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

func userID(t *testing.T, s *apitest.Server, auth string) string {
	t.Helper()
	r := s.Do(R{Method: "GET", Path: "/v1/", Auth: auth})
	return r.Body["user"].(map[string]any)["id"].(string)
}

func num(v any) int64 {
	n, _ := v.(json.Number).Int64()
	return n
}

// setup makes bucket b with collection c as alice.
func setup(t *testing.T, s *apitest.Server) {
	t.Helper()
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: alice, Body: "{}"}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: "{}"}).Expect(t, 201, 0)
}

const recs = "/v1/buckets/b/collections/c/records"

func TestCreateReadUpdateDelete(t *testing.T) {
	s := apitest.New(t, nil)
	aliceID := userID(t, s, alice)
	b := s.Do(R{Method: "PUT", Path: "/v1/buckets/blog", Auth: alice, Body: `{"data":{"title":"Team"},"permissions":{"read":["system.Everyone"]}}`}).Expect(t, 201, 0)
	if b.Data()["id"] != "blog" || b.Data()["title"] != "Team" || b.Header.Get("ETag") != fmt.Sprintf("\"%d\"", num(b.Data()["last_modified"])) {
		t.Fatalf("bucket: %s %v", b.Raw, b.Header)
	}
	perms := b.Body["permissions"].(map[string]any)
	if fmt.Sprint(perms["write"]) != "["+aliceID+"]" || fmt.Sprint(perms["read"]) != "[system.Everyone]" {
		t.Errorf("creator must get write: %v", perms)
	}
	// POST with a generated id
	col := s.Do(R{Method: "POST", Path: "/v1/buckets/blog/collections", Auth: alice, Body: `{"data":{"x":1}}`}).Expect(t, 201, 0)
	if !regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{7}$`).MatchString(col.Data()["id"].(string)) {
		t.Errorf("generated collection id %v", col.Data()["id"])
	}
	s.Do(R{Method: "PUT", Path: "/v1/buckets/blog/collections/posts", Auth: alice, Body: "{}"}).Expect(t, 201, 0)
	rp := "/v1/buckets/blog/collections/posts/records"
	r := s.Do(R{Method: "POST", Path: rp, Auth: alice, Body: `{"data":{"title":"hello","n":1.50,"big":12345678901234567890}}`}).Expect(t, 201, 0)
	id := r.Data()["id"].(string)
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(id) {
		t.Errorf("record id %q is not a UUID4", id)
	}
	if !strings.Contains(string(r.Raw), `"big":12345678901234567890`) || !strings.Contains(string(r.Raw), `"n":1.50`) {
		t.Errorf("numbers must round-trip exactly: %s", r.Raw)
	}
	// POST again with the same id: 200 with the stored object, nothing written
	again := s.Do(R{Method: "POST", Path: rp, Auth: alice, Body: `{"data":{"id":"` + id + `","title":"changed"}}`}).Expect(t, 200, 0)
	if again.Data()["title"] != "hello" {
		t.Errorf("POST with an existing id must return the stored object: %s", again.Raw)
	}
	// GET, anonymous (bucket is public)
	g := s.Do(R{Method: "GET", Path: rp + "/" + id}).Expect(t, 200, 0)
	if len(g.Body["permissions"].(map[string]any)) != 0 {
		t.Errorf("readers must not see permissions: %s", g.Raw)
	}
	if g.Header.Get("Last-Modified") == "" || g.Header.Get("ETag") == "" {
		t.Errorf("object GET headers: %v", g.Header)
	}
	f := s.Do(R{Method: "GET", Path: rp + "/" + id + "?_fields=title", Auth: alice}).Expect(t, 200, 0)
	if len(f.Data()) != 3 || f.Data()["title"] != "hello" {
		t.Errorf("_fields: %s", f.Raw)
	}
	// PUT replaces entirely
	p := s.Do(R{Method: "PUT", Path: rp + "/" + id, Auth: alice, Body: `{"data":{"other":true}}`}).Expect(t, 200, 0)
	if _, has := p.Data()["title"]; has || p.Data()["other"] != true {
		t.Errorf("PUT must replace: %s", p.Raw)
	}
	if num(p.Data()["last_modified"]) <= num(r.Data()["last_modified"]) {
		t.Error("PUT must bump last_modified")
	}
	// PATCH merges
	pa := s.Do(R{Method: "PATCH", Path: rp + "/" + id, Auth: alice, Body: `{"data":{"title":"again","sub":{"a":1}}}`}).Expect(t, 200, 0)
	if pa.Data()["other"] != true || pa.Data()["title"] != "again" {
		t.Errorf("PATCH: %s", pa.Raw)
	}
	s.Do(R{Method: "PATCH", Path: rp + "/" + id, Auth: alice, Body: `{}`}).Expect(t, 400, 107)
	// DELETE leaves a tombstone
	d := s.Do(R{Method: "DELETE", Path: rp + "/" + id, Auth: alice}).Expect(t, 200, 0)
	if d.Data()["deleted"] != true || d.Data()["id"] != id || len(d.Data()) != 3 {
		t.Errorf("tombstone: %s", d.Raw)
	}
	if _, has := d.Body["permissions"]; has {
		t.Error("DELETE answers only data")
	}
	nf := s.Do(R{Method: "GET", Path: rp + "/" + id, Auth: alice}).Expect(t, 404, 110)
	if det := nf.Body["details"].(map[string]any); det["id"] != id || det["resource_name"] != "record" {
		t.Errorf("404 details: %v", det)
	}
	s.Do(R{Method: "DELETE", Path: rp + "/" + id, Auth: alice}).Expect(t, 404, 110)
	s.Do(R{Method: "PATCH", Path: rp + "/" + id, Auth: alice, Body: `{"data":{}}`}).Expect(t, 404, 110)
	// Recreating after delete gives a fresh 201.
	s.Do(R{Method: "PUT", Path: rp + "/" + id, Auth: alice, Body: `{"data":{}}`}).Expect(t, 201, 0)
	since := s.Do(R{Method: "GET", Path: rp + fmt.Sprintf("?_since=%d", num(r.Data()["last_modified"])), Auth: alice}).Expect(t, 200, 0)
	if len(since.IDs()) != 1 {
		t.Errorf("_since after re-creation: %s", since.Raw)
	}
}

func TestTimestampsAndReplication(t *testing.T) {
	s := apitest.New(t, nil)
	setup(t, s)
	empty := s.Do(R{Method: "GET", Path: recs, Auth: alice}).Expect(t, 200, 0)
	etag := empty.Header.Get("ETag")
	if etag == "" || s.Do(R{Method: "GET", Path: recs, Auth: alice}).Header.Get("ETag") != etag {
		t.Fatalf("an empty list's ETag must be stable: %q", etag)
	}
	var last int64
	for i := 0; i < 20; i++ {
		r := s.Do(R{Method: "POST", Path: recs, Auth: alice, Body: "{}"}).Expect(t, 201, 0)
		lm := num(r.Data()["last_modified"])
		if lm <= last {
			t.Fatalf("timestamps must strictly increase: %d after %d", lm, last)
		}
		last = lm
	}
	list := s.Do(R{Method: "GET", Path: recs, Auth: alice})
	if list.Header.Get("ETag") != fmt.Sprintf("\"%d\"", last) {
		t.Errorf("list ETag %s, want %d", list.Header.Get("ETag"), last)
	}
	col := s.Do(R{Method: "GET", Path: "/v1/buckets/b/collections/c", Auth: alice})
	if num(col.Data()["last_modified"]) >= last {
		t.Error("adding records must not bump the collection's own timestamp")
	}
	future := int64(4102444800000)
	rep := s.Do(R{Method: "PUT", Path: recs + "/rep", Auth: alice, Body: fmt.Sprintf(`{"data":{"last_modified":%d}}`, future)}).Expect(t, 201, 0)
	if num(rep.Data()["last_modified"]) != future {
		t.Errorf("replicated timestamp not kept: %s", rep.Raw)
	}
	str := s.Do(R{Method: "PUT", Path: recs + "/str", Auth: alice, Body: `{"data":{"last_modified":"abc"}}`}).Expect(t, 201, 0)
	if num(str.Data()["last_modified"]) <= future {
		t.Errorf("a non-integer last_modified is dropped: %s", str.Raw)
	}
	del := s.Do(R{Method: "DELETE", Path: recs + "/str?last_modified=" + fmt.Sprint(future+1000), Auth: alice}).Expect(t, 200, 0)
	if num(del.Data()["last_modified"]) != future+1000 {
		t.Errorf("forced tombstone timestamp: %s", del.Raw)
	}
}

// TestCascadingDeletes runs on every backend: each removes a deleted
// bucket's groups' memberships its own way.
func TestCascadingDeletes(t *testing.T) {
	t.Run("memory", func(t *testing.T) { cascadingDeletes(t, apitest.New(t, nil)) })
	onBackends(t, nil, cascadingDeletes)
}

func cascadingDeletes(t *testing.T, s *apitest.Server) {
	setup(t, s)
	s.Do(R{Method: "PUT", Path: recs + "/r1", Auth: alice, Body: `{"permissions":{"read":["` + userID(t, s, bob) + `"]}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/groups/g", Auth: alice, Body: `{"data":{"members":["` + userID(t, s, bob) + `"]}}`}).Expect(t, 201, 0)
	if !strings.Contains(string(s.Do(R{Method: "GET", Path: "/v1/", Auth: bob}).Raw), "/buckets/b/groups/g") {
		t.Fatal("bob should hold the group principal")
	}
	s.Do(R{Method: "DELETE", Path: "/v1/buckets/b/collections/c", Auth: alice}).Expect(t, 200, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: "{}"}).Expect(t, 201, 0)
	after := s.Do(R{Method: "GET", Path: recs + "?_since=0", Auth: alice}).Expect(t, 200, 0)
	if len(after.IDs()) != 0 {
		t.Errorf("records of a deleted collection must be purged, tombstones included: %s", after.Raw)
	}
	s.Do(R{Method: "GET", Path: recs + "/r1", Auth: bob}).Expect(t, 403, 121)
	// A group of every signed-in user grants bob a read in carol's bucket;
	// the grant ends with the group's bucket (Kinto 26.2 keeps it).
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/groups/all", Auth: alice, Body: `{"data":{"members":["system.Authenticated"]}}`}).Expect(t, 201, 0)
	elsewhere := "/v1/buckets/o/collections/c/records/r"
	s.Do(R{Method: "PUT", Path: "/v1/buckets/o", Auth: carol, Body: "{}"}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/o/collections/c", Auth: carol, Body: "{}"}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: elsewhere, Auth: carol, Body: `{"permissions":{"read":["/buckets/b/groups/all"]}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "GET", Path: elsewhere, Auth: bob}).Expect(t, 200, 0)
	s.Do(R{Method: "DELETE", Path: "/v1/buckets/b", Auth: alice}).Expect(t, 200, 0)
	if strings.Contains(string(s.Do(R{Method: "GET", Path: "/v1/", Auth: bob}).Raw), "/buckets/b/groups/") {
		t.Error("deleting the bucket must remove its group principals")
	}
	s.Do(R{Method: "GET", Path: elsewhere, Auth: bob}).Expect(t, 403, 121)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: carol, Body: "{}"}).Expect(t, 201, 0)
	s.Do(R{Method: "GET", Path: "/v1/buckets/b/collections/c", Auth: carol}).Expect(t, 404, 110)
	s.Do(R{Method: "GET", Path: "/v1/buckets/b/groups", Auth: carol}).Expect(t, 200, 0)
	s.Do(R{Method: "GET", Path: "/v1/buckets/b", Auth: alice}).Expect(t, 403, 121)
	bk := s.Do(R{Method: "GET", Path: "/v1/buckets?_since=0", Auth: carol}).Expect(t, 200, 0)
	if fmt.Sprint(bk.IDs()) != "[b o]" {
		t.Errorf("bucket list for carol: %s", bk.Raw)
	}
}

func TestMissingParents(t *testing.T) {
	s := apitest.New(t, map[string]string{"record_read_principals": "system.Authenticated", "collection_create_principals": "system.Authenticated"})
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: alice, Body: "{}"}).Expect(t, 201, 0)
	r := s.Do(R{Method: "GET", Path: "/v1/buckets/b/collections/nope/records", Auth: alice}).Expect(t, 404, 111)
	if d := r.Body["details"].(map[string]any); d["resource_name"] != "collection" || d["id"] != "nope" {
		t.Errorf("details %v", d)
	}
	s.Do(R{Method: "POST", Path: "/v1/buckets/b/collections/nope/records", Auth: alice, Body: "{}"}).Expect(t, 404, 111)
	m := s.Do(R{Method: "PUT", Path: "/v1/buckets/zz/collections/c", Auth: bob, Body: "{}"}).Expect(t, 404, 111)
	if d := m.Body["details"].(map[string]any); d["resource_name"] != "bucket" {
		t.Errorf("details %v", d)
	}
	s.Do(R{Method: "GET", Path: "/v1/buckets/zz/groups", Auth: bob}).Expect(t, 403, 121)
	s.Do(R{Method: "GET", Path: "/v1/buckets/zz/groups"}).Expect(t, 401, 104)
	// A record under a missing bucket names its collection, the record's
	// parent (missing too), as Kinto 26.2 answers.
	for _, req := range []R{
		{Method: "GET", Path: "/v1/buckets/zz/collections/c/records/r", Auth: alice},
		{Method: "GET", Path: "/v1/buckets/zz/collections/c/records", Auth: alice},
	} {
		r := s.Do(req).Expect(t, 404, 111)
		if d := r.Body["details"].(map[string]any); d["resource_name"] != "collection" || d["id"] != "c" {
			t.Errorf("%s %s: details %v", req.Method, req.Path, d)
		}
	}
}

func TestGroups(t *testing.T) {
	s := apitest.New(t, nil)
	setup(t, s)
	bobID := userID(t, s, bob)
	cases := []struct {
		body   string
		status int
		name   string // of the error's detail, as Kinto names it
		desc   string
	}{
		{`{"data":{"members":["account:x","/buckets/b/groups/other"]}}`, 400, "data.members.1", "Groups cannot be nested: /buckets/b/groups/other"},
		{`{"data":{"members":["system.Everyone"]}}`, 400, "data.members.0", "system.Everyone cannot be a group member"},
		{`{"data":{"members":[1]}}`, 400, "data.members.0", "1 is not a string"},
		{`{"data":{"members":["a",""]}}`, 400, "data.members.1", "Required"},
		{`{"data":{"members":[null]}}`, 400, "data.members.0", "Required"},
		{`{"data":{"members":[{"a":1}]}}`, 400, "data.members.0", `{"a":1} is not a string`},
		{`{"permissions":{"read":["a",""]}}`, 400, "permissions.read.1", "Required"},
		{`{"permissions":{"write":[null]}}`, 400, "permissions.write.0", "Required"},
		{`{"permissions":{"read":[true]}}`, 400, "permissions.read.0", "true is not a string"},
		{`{"permissions":{"read":[{}]}}`, 400, "permissions.read.0", "{} is not a string"},
		{`{"permissions":{"read":"x"}}`, 400, "permissions.read", `"x" is not iterable`},
		{`{"data":{"members":"x"}}`, 400, "data.members", `"x" is not iterable`},
		{`{"data":{"members":null}}`, 400, "data.members", "null is not iterable"},
		{`{"data":{"members":["system.Authenticated"]}}`, 201, "", ""},
	}
	for i, c := range cases {
		r := s.Do(R{Method: "PUT", Path: fmt.Sprintf("/v1/buckets/b/groups/g%d", i), Auth: alice, Body: c.body}).Expect(t, c.status, map[int]int{400: 107, 201: 0}[c.status])
		if c.status == 400 {
			if d, _ := r.Body["details"].([]any); len(d) != 1 || fmt.Sprint(d[0].(map[string]any)["name"]) != c.name || d[0].(map[string]any)["description"] != c.desc {
				t.Errorf("%s: %s", c.body, r.Raw)
			}
		}
	}
	empty := s.Do(R{Method: "PUT", Path: "/v1/buckets/b/groups/empty", Auth: alice}).Expect(t, 201, 0)
	if fmt.Sprint(empty.Data()["members"]) != "[]" {
		t.Errorf("members default to []: %s", empty.Raw)
	}
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/groups/editors", Auth: alice, Body: `{"data":{"members":["` + bobID + `"]}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PATCH", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: `{"permissions":{"write":["/buckets/b/groups/editors"]}}`}).Expect(t, 200, 0)
	s.Do(R{Method: "POST", Path: recs, Auth: bob, Body: "{}"}).Expect(t, 201, 0)
	kept := s.Do(R{Method: "PATCH", Path: "/v1/buckets/b/groups/editors", Auth: alice, Body: `{"data":{"title":"x"}}`}).Expect(t, 200, 0)
	if fmt.Sprint(kept.Data()["members"]) != "["+bobID+"]" {
		t.Errorf("PATCH without members keeps them: %s", kept.Raw)
	}
	s.Do(R{Method: "PATCH", Path: "/v1/buckets/b/groups/editors", Auth: alice, Body: `{"data":{"members":[]}}`}).Expect(t, 200, 0)
	s.Do(R{Method: "POST", Path: recs, Auth: bob, Body: "{}"}).Expect(t, 403, 121)
	s.Do(R{Method: "PATCH", Path: "/v1/buckets/b/groups/editors", Auth: alice, Body: `{"data":{"members":["` + bobID + `"]}}`}).Expect(t, 200, 0)
	s.Do(R{Method: "POST", Path: recs, Auth: bob, Body: "{}"}).Expect(t, 201, 0)
	s.Do(R{Method: "DELETE", Path: "/v1/buckets/b/groups/editors", Auth: alice}).Expect(t, 200, 0)
	s.Do(R{Method: "POST", Path: recs, Auth: bob, Body: "{}"}).Expect(t, 403, 121)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/groups/editors", Auth: alice, Body: `{"data":{"members":["` + bobID + `"]}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "POST", Path: recs, Auth: bob, Body: "{}"}).Expect(t, 201, 0)
	// Writes that leave the members out of a group's data empty them, as
	// Kinto's schema default does, and bob loses the group's grant; a PUT
	// without data and a PATCH that does not name them keep them.
	for _, c := range []struct {
		name, method, body, contentType string
		kept                            bool
	}{
		{"PUT of data without members", "PUT", `{"data":{"title":"x"}}`, "", false},
		{"merge-patch of members to null", "PATCH", `{"data":{"members":null}}`, "application/merge-patch+json", false},
		{"JSON Patch removing them", "PATCH", `[{"op":"remove","path":"/data/members"}]`, "application/json-patch+json", false},
		{"PUT without data", "PUT", `{"permissions":{"read":["system.Authenticated"]}}`, "", true},
		{"PATCH of another field", "PATCH", `{"data":{"title":"y"}}`, "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s.Do(R{Method: "PUT", Path: "/v1/buckets/b/groups/editors", Auth: alice, Body: `{"data":{"members":["` + bobID + `"]}}`}).Expect(t, 200, 0)
			req := R{Method: c.method, Path: "/v1/buckets/b/groups/editors", Auth: alice, Body: c.body}
			if c.contentType != "" {
				req.Headers = map[string]string{"Content-Type": c.contentType}
			}
			r := s.Do(req).Expect(t, 200, 0)
			want, status := "[]", 403
			if c.kept {
				want, status = "["+bobID+"]", 201
			}
			if got := fmt.Sprint(r.Data()["members"]); got != want {
				t.Errorf("members %s, want %s", got, want)
			}
			s.Do(R{Method: "POST", Path: recs, Auth: bob, Body: "{}"}).Expect(t, status, map[int]int{403: 121}[status])
		})
	}
}

func TestPluralDelete(t *testing.T) {
	s := apitest.New(t, nil)
	setup(t, s)
	bobID := userID(t, s, bob)
	s.Do(R{Method: "PATCH", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: `{"permissions":{"read":["` + bobID + `"],"record:create":["` + bobID + `"]}}`}).Expect(t, 200, 0)
	for i := 0; i < 4; i++ {
		s.Do(R{Method: "PUT", Path: fmt.Sprintf("%s/a%d", recs, i), Auth: alice, Body: fmt.Sprintf(`{"data":{"n":%d}}`, i)}).Expect(t, 201, 0)
	}
	s.Do(R{Method: "PUT", Path: recs + "/bob1", Auth: bob, Body: `{"data":{"n":9}}`}).Expect(t, 201, 0)
	d := s.Do(R{Method: "DELETE", Path: recs, Auth: bob}).Expect(t, 200, 0)
	if fmt.Sprint(d.IDs()) != "[bob1]" {
		t.Errorf("bob may delete only his record: %s", d.Raw)
	}
	d = s.Do(R{Method: "DELETE", Path: recs + "?min_n=2", Auth: alice}).Expect(t, 200, 0)
	if len(d.IDs()) != 2 {
		t.Errorf("filtered delete: %s", d.Raw)
	}
	left := s.Do(R{Method: "GET", Path: recs, Auth: alice})
	if fmt.Sprint(left.IDs()) != "[a1 a0]" {
		t.Errorf("left: %v", left.IDs())
	}
	s.Do(R{Method: "DELETE", Path: recs, Auth: carol}).Expect(t, 403, 121)
	s.Do(R{Method: "DELETE", Path: recs}).Expect(t, 401, 104)
	all := s.Do(R{Method: "DELETE", Path: "/v1/buckets", Auth: alice}).Expect(t, 200, 0)
	if fmt.Sprint(all.IDs()) != "[b]" {
		t.Errorf("DELETE /buckets: %s", all.Raw)
	}
	s.Do(R{Method: "GET", Path: recs, Auth: alice}).Expect(t, 403, 121)
}

// TestSizeLimits: ids, principals and group members have bounded lengths,
// refused with 400 before they reach storage (where they become keys).
func TestSizeLimits(t *testing.T) {
	s := apitest.New(t, nil)
	setup(t, s)
	long := strings.Repeat("a", 256)
	huge := strings.Repeat("a", 40000)
	cases := []struct {
		name, method, path, body string
		status, errno            int
	}{
		{"id of 255 bytes", "PUT", recs + "/" + long[:255], `{"data":{}}`, 201, 0},
		{"id of 256 bytes", "PUT", recs + "/" + long, `{"data":{}}`, 400, 107},
		{"id of 40,000 bytes", "PUT", recs + "/" + huge, `{"data":{}}`, 400, 107},
		{"bucket id too long", "PUT", "/v1/buckets/" + long, `{}`, 400, 107},
		{"long principal", "PUT", recs + "/p", `{"permissions":{"read":["` + huge + `"]}}`, 400, 107},
		{"long group member", "PUT", "/v1/buckets/b/groups/g", `{"data":{"members":["` + huge + `"]}}`, 400, 107},
		{"principal of 1024 bytes", "PUT", recs + "/q", `{"permissions":{"read":["` + strings.Repeat("p", 1024) + `"]}}`, 201, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s.Do(R{Method: c.method, Path: c.path, Auth: alice, Body: c.body}).Expect(t, c.status, c.errno)
		})
	}
	// The server still writes afterwards.
	s.Do(R{Method: "POST", Path: recs, Auth: alice, Body: `{"data":{"ok":true}}`}).Expect(t, 201, 0)
}

// TestInvalidIDs: an id that is not valid for its resource, in the path
// or in a POST's data.id, is 400 errno 107 worded as Kinto words it
// (location path, name null, "path: Invalid object id").
func TestInvalidIDs(t *testing.T) {
	s := apitest.New(t, nil)
	setup(t, s)
	cases := []struct{ method, path, body string }{
		{"PUT", "/v1/buckets/b%209", `{}`},
		{"GET", "/v1/buckets/b/collections/c%201", ""},
		{"DELETE", "/v1/buckets/b/groups/__g__", ""},
		{"PATCH", "/v1/buckets/b/collections/c/records/r%201", `{"data":{}}`},
		{"POST", "/v1/buckets/b/collections", `{"data":{"id":"a b"}}`},
		{"POST", "/v1/buckets/b/collections/c/records", `{"data":{"id":7}}`},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			r := s.Do(R{Method: c.method, Path: c.path, Auth: alice, Body: c.body}).Expect(t, 400, 107)
			details, _ := r.Body["details"].([]any)
			d, _ := details[0].(map[string]any)
			if r.Body["message"] != "path: Invalid object id" || len(details) != 1 || d["location"] != "path" || d["name"] != nil ||
				d["description"] != "Invalid object id" {
				t.Errorf("error %s", r.Raw)
			}
			if _, ok := d["name"]; !ok {
				t.Errorf("details without a name key (Kinto sends null): %s", r.Raw)
			}
		})
	}
}

// TestUnusedBodies: a GET, HEAD or DELETE does not use its body, but one
// declared JSON (or undeclared, for GET and HEAD) that is not valid JSON
// is refused with 400, after authorization, as Kinto refuses it: a
// malformed DELETE deletes nothing. Valid JSON, or a body of another type,
// is ignored.
func TestUnusedBodies(t *testing.T) {
	s := apitest.New(t, nil)
	setup(t, s)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c/records/r", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
	const rec = "/v1/buckets/b/collections/c/records/r"
	const recs = "/v1/buckets/b/collections/c/records"
	js := map[string]string{"Content-Type": "application/json"}
	cases := []struct {
		method, path, auth, body string
		headers                  map[string]string
		status, errno            int
	}{
		{"DELETE", rec, alice, "{", js, 400, 107},
		{"DELETE", recs, alice, "{", js, 400, 107},
		{"GET", rec, alice, "{", js, 400, 107},
		{"GET", recs, alice, "{", nil, 400, 107},
		{"HEAD", rec, alice, "{", js, 400, 0},
		{"GET", rec, "", "{", js, 401, 104},
		{"DELETE", rec, bob, "{", js, 403, 121},
		{"GET", rec, alice, "{", map[string]string{"Content-Type": "text/plain"}, 200, 0},
		{"GET", rec, alice, `[1, "x"]`, js, 200, 0},
		{"GET", "/v1/", alice, "{", js, 200, 0},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path+" "+c.body, func(t *testing.T) {
			r := s.Do(R{Method: c.method, Path: c.path, Auth: c.auth, Body: c.body, Headers: c.headers})
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Raw)
			}
			if c.errno != 0 {
				r.Expect(t, c.status, c.errno)
			}
			if c.status == 400 && c.method != "HEAD" && !strings.HasPrefix(fmt.Sprint(r.Body["message"]), "body: Invalid JSON") {
				t.Errorf("message %v", r.Body["message"])
			}
		})
	}
	s.Do(R{Method: "GET", Path: rec, Auth: alice}).Expect(t, 200, 0)
	s.Do(R{Method: "DELETE", Path: rec, Auth: alice, Body: `{"anything": 1}`, Headers: js}).Expect(t, 200, 0)
}
