package kinto_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

// TestPermissionMatrix checks who may do what on a record, for each kind
// of caller of PERM-01..PERM-10.
func TestPermissionMatrix(t *testing.T) {
	s := apitest.New(t, nil)
	owner := alice
	reader := apitest.Basic("reader", "x")
	member := apitest.Basic("member", "x")
	stranger := apitest.Basic("stranger", "x")
	bucketReader := apitest.Basic("bucketreader", "x")
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: owner, Body: `{"permissions":{"read":["` + userID(t, s, bucketReader) + `"]}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/groups/writers", Auth: owner, Body: `{"data":{"members":["` + userID(t, s, member) + `"]}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: owner, Body: `{"permissions":{"write":["/buckets/b/groups/writers"]}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/auth", Auth: owner, Body: `{"permissions":{"read":["system.Authenticated"]}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: recs + "/r", Auth: owner, Body: `{"data":{"v":1},"permissions":{"read":["` + userID(t, s, reader) + `"]}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/auth/records/x", Auth: owner, Body: `{}`}).Expect(t, 201, 0)

	type row struct {
		who    string
		auth   string
		method string
		path   string
		body   string
		status int
		errno  int
	}
	rec := recs + "/r"
	rows := []row{
		{"anonymous reads", "", "GET", rec, "", 401, 104},
		{"anonymous writes", "", "PATCH", rec, `{"data":{"v":2}}`, 401, 104},
		{"owner reads", owner, "GET", rec, "", 200, 0},
		{"owner writes", owner, "PATCH", rec, `{"data":{"v":2}}`, 200, 0},
		{"stranger reads", stranger, "GET", rec, "", 403, 121},
		{"stranger writes", stranger, "PUT", rec, `{}`, 403, 121},
		{"stranger reads missing record", stranger, "GET", recs + "/missing", "", 403, 121},
		{"reader reads", reader, "GET", rec, "", 200, 0},
		{"reader writes", reader, "PATCH", rec, `{"data":{"v":3}}`, 403, 121},
		{"reader deletes", reader, "DELETE", rec, "", 403, 121},
		{"reader reads missing record", reader, "GET", recs + "/missing", "", 403, 121},
		{"group member writes", member, "PATCH", rec, `{"data":{"v":4}}`, 200, 0},
		{"group member creates", member, "POST", recs, `{}`, 201, 0},
		{"group member reads missing", member, "GET", recs + "/missing", "", 404, 110},
		{"group member deletes missing", member, "DELETE", recs + "/missing", "", 404, 110},
		{"group member edits collection", member, "PATCH", "/v1/buckets/b/collections/c", `{"data":{"t":1}}`, 200, 0},
		{"group member edits bucket", member, "PATCH", "/v1/buckets/b", `{"data":{"t":1}}`, 403, 121},
		{"authenticated grant reads", stranger, "GET", "/v1/buckets/b/collections/auth/records/x", "", 200, 0},
		{"authenticated grant lists", stranger, "GET", "/v1/buckets/b/collections/auth/records", "", 200, 0},
		{"authenticated grant, anonymous", "", "GET", "/v1/buckets/b/collections/auth/records/x", "", 401, 104},
		{"authenticated grant writes", stranger, "DELETE", "/v1/buckets/b/collections/auth/records/x", "", 403, 121},
		{"bucket reader reads record", bucketReader, "GET", rec, "", 200, 0},
		{"bucket reader reads missing", bucketReader, "GET", recs + "/missing", "", 404, 110},
		{"bucket reader reads missing collection", bucketReader, "GET", "/v1/buckets/b/collections/nope", "", 404, 110},
		{"bucket reader lists records of missing collection", bucketReader, "GET", "/v1/buckets/b/collections/nope/records", "", 404, 111},
		{"bucket reader writes", bucketReader, "PUT", recs + "/new", `{}`, 403, 121},
		{"bucket reader puts a record in a missing collection", bucketReader, "PUT", "/v1/buckets/b/collections/nope/records/x", `{}`, 404, 111},
		{"bucket reader posts a record in a missing collection", bucketReader, "POST", "/v1/buckets/b/collections/nope/records", `{}`, 404, 111},
		{"bucket reader, bad body, missing collection", bucketReader, "PUT", "/v1/buckets/b/collections/nope/records/x", `{"data":1}`, 400, 107},
		{"stranger puts a record in a missing collection", stranger, "PUT", "/v1/buckets/b/collections/nope/records/x", `{}`, 403, 121},
		{"anonymous posts a record in a missing collection", "", "POST", "/v1/buckets/b/collections/nope/records", `{}`, 401, 104},
		{"bucket reader puts a group in a missing bucket", bucketReader, "PUT", "/v1/buckets/nob/groups/g", `{}`, 403, 121},
		{"bucket reader creates collection", bucketReader, "PUT", "/v1/buckets/b/collections/new", `{}`, 403, 121},
		{"stranger creates bucket", stranger, "PUT", "/v1/buckets/strangers", `{}`, 201, 0},
		{"anonymous creates bucket", "", "PUT", "/v1/buckets/anon", `{}`, 401, 104},
		{"stranger reads bucket", stranger, "GET", "/v1/buckets/b", "", 403, 121},
		{"stranger lists buckets", stranger, "GET", "/v1/buckets", "", 200, 0},
		{"anonymous lists buckets", "", "GET", "/v1/buckets", "", 401, 104},
	}
	for _, r := range rows {
		t.Run(r.who, func(t *testing.T) {
			req := R{Method: r.method, Path: r.path, Auth: r.auth}
			if r.body != "" {
				req.Body = r.body
			}
			s.Do(req).Expect(t, r.status, r.errno)
		})
	}
	// Permissions are shown to writers only.
	got := s.Do(R{Method: "GET", Path: rec, Auth: member})
	if len(got.Body["permissions"].(map[string]any)) == 0 {
		t.Error("a writer by inheritance sees the ACL")
	}
	got = s.Do(R{Method: "GET", Path: rec, Auth: reader})
	if len(got.Body["permissions"].(map[string]any)) != 0 {
		t.Error("a reader must not see the ACL")
	}
	// List visibility: the reader sees only the record shared with them.
	l := s.Do(R{Method: "GET", Path: recs, Auth: reader}).Expect(t, 200, 0)
	if fmt.Sprint(l.IDs()) != "[r]" {
		t.Errorf("reader's list: %v", l.IDs())
	}
	l = s.Do(R{Method: "GET", Path: "/v1/buckets", Auth: stranger}).Expect(t, 200, 0)
	if fmt.Sprint(l.IDs()) != "[strangers]" {
		t.Errorf("stranger's buckets: %v", l.IDs())
	}
	s.Do(R{Method: "GET", Path: recs, Auth: stranger}).Expect(t, 403, 121)
}

func TestCreatePermissionsAndReadAttributes(t *testing.T) {
	s := apitest.New(t, nil)
	bobID := userID(t, s, bob)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: alice, Body: `{"data":{"title":"B"},"permissions":{"group:create":["` + bobID + `"]}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: `{"permissions":{"record:create":["` + bobID + `"]}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/groups/other", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
	s.Do(R{Method: "GET", Path: "/v1/buckets/b", Auth: bob}).Expect(t, 200, 0)
	s.Do(R{Method: "GET", Path: "/v1/buckets/b/collections/c", Auth: bob}).Expect(t, 200, 0)
	s.Do(R{Method: "GET", Path: "/v1/buckets/b/groups/other", Auth: bob}).Expect(t, 403, 121)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/groups/mine", Auth: bob, Body: `{}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/nope", Auth: bob, Body: `{}`}).Expect(t, 403, 121)
	s.Do(R{Method: "PUT", Path: recs + "/alices", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: recs + "/bobs", Auth: bob, Body: `{}`}).Expect(t, 201, 0)
	l := s.Do(R{Method: "GET", Path: recs, Auth: bob}).Expect(t, 200, 0)
	if fmt.Sprint(l.IDs()) != "[bobs]" {
		t.Errorf("with record:create bob lists his own records only: %v", l.IDs())
	}
	g := s.Do(R{Method: "GET", Path: "/v1/buckets/b/groups", Auth: bob}).Expect(t, 200, 0)
	if fmt.Sprint(g.IDs()) != "[mine]" {
		t.Errorf("groups bob sees: %v", g.IDs())
	}
	// A caller with create but nothing readable gets an empty list.
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/d", Auth: alice, Body: `{"permissions":{"record:create":["` + bobID + `"]}}`}).Expect(t, 201, 0)
	e := s.Do(R{Method: "GET", Path: "/v1/buckets/b/collections/d/records", Auth: bob}).Expect(t, 200, 0)
	if len(e.IDs()) != 0 {
		t.Errorf("empty list: %s", e.Raw)
	}
}

func TestACLEditing(t *testing.T) {
	s := apitest.New(t, nil)
	setup(t, s)
	aliceID, bobID := userID(t, s, alice), userID(t, s, bob)
	r := s.Do(R{Method: "PUT", Path: recs + "/r", Auth: alice, Body: `{"permissions":{"read":["x","y"],"write":["z"]}}`}).Expect(t, 201, 0)
	p := r.Body["permissions"].(map[string]any)
	if fmt.Sprint(p["write"]) != "["+aliceID+" z]" && fmt.Sprint(p["write"]) != "[z "+aliceID+"]" {
		t.Errorf("creator re-added to write: %v", p)
	}
	// PUT without permissions keeps the ACL.
	r = s.Do(R{Method: "PUT", Path: recs + "/r", Auth: alice, Body: `{"data":{"a":1}}`}).Expect(t, 200, 0)
	if fmt.Sprint(r.Body["permissions"].(map[string]any)["read"]) != "[x y]" {
		t.Errorf("PUT without permissions must keep them: %s", r.Raw)
	}
	// PUT with permissions replaces the whole ACL.
	r = s.Do(R{Method: "PUT", Path: recs + "/r", Auth: alice, Body: `{"permissions":{"read":["` + bobID + `"]}}`}).Expect(t, 200, 0)
	p = r.Body["permissions"].(map[string]any)
	if fmt.Sprint(p["read"]) != "["+bobID+"]" || fmt.Sprint(p["write"]) != "["+aliceID+"]" {
		t.Errorf("PUT replaces the ACL: %v", p)
	}
	if r.Data()["a"] == nil {
		t.Error("PUT with only permissions keeps the data")
	}
	// PATCH replaces only the listed entries.
	r = s.Do(R{Method: "PATCH", Path: recs + "/r", Auth: alice, Body: `{"permissions":{"write":["w"]}}`}).Expect(t, 200, 0)
	p = r.Body["permissions"].(map[string]any)
	if fmt.Sprint(p["read"]) != "["+bobID+"]" || len(p["write"].([]any)) != 2 {
		t.Errorf("PATCH permissions: %v", p)
	}
	off := apitest.New(t, map[string]string{"explicit_permissions": "false", "bucket_write_principals": "system.Authenticated",
		"collection_write_principals": "system.Authenticated", "record_write_principals": "system.Authenticated"})
	setup(t, off)
	o := off.Do(R{Method: "PUT", Path: recs + "/r", Auth: alice, Body: `{"permissions":{"read":["x"]}}`}).Expect(t, 201, 0)
	if _, has := o.Body["permissions"].(map[string]any)["write"]; has {
		t.Errorf("explicit_permissions=false must not add the creator: %s", o.Raw)
	}
}

// TestPreconditionExistingOnlyForReaders: the 412 of If-None-Match: * shows
// the existing object only to a caller who may read it (CORE-09).
func TestPreconditionExistingOnlyForReaders(t *testing.T) {
	s := apitest.New(t, nil)
	poster := apitest.Basic("poster", "x")
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: alice}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: `{"permissions":{"record:create":["` + userID(t, s, poster) + `"]}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c/records/secret", Auth: alice, Body: `{"data":{"pin":"1234"}}`}).Expect(t, 201, 0)
	inm := map[string]string{"If-None-Match": "*"}
	r := s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c/records/secret", Auth: poster, Body: `{"data":{}}`, Headers: inm}).Expect(t, 412, 114)
	if _, has := r.Body["details"]; has || strings.Contains(string(r.Raw), "1234") {
		t.Fatalf("a record:create grantee must not see the record: %s", r.Raw)
	}
	r = s.Do(R{Method: "POST", Path: "/v1/buckets/b/collections/c/records", Auth: poster, Body: `{"data":{"id":"secret"}}`, Headers: inm})
	if strings.Contains(string(r.Raw), "1234") {
		t.Fatalf("POST with an existing id leaks the record: %d %s", r.Status, r.Raw)
	}
	r = s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c/records/secret", Auth: alice, Body: `{"data":{}}`, Headers: inm}).Expect(t, 412, 114)
	if !strings.Contains(string(r.Raw), `"existing"`) || !strings.Contains(string(r.Raw), "1234") {
		t.Fatalf("the owner sees the existing record: %s", r.Raw)
	}
}

// TestSettingsGrantsStayOnTheirResource: bucket_read_principals lets every
// signed-in user read bucket objects, and nothing below them (PERM-04).
func TestSettingsGrantsStayOnTheirResource(t *testing.T) {
	s := apitest.New(t, map[string]string{"bucket_read_principals": "system.Authenticated", "includes": "history",
		"experimental_permissions_endpoint": "true"})
	stranger := apitest.Basic("stranger", "x")
	for _, p := range []string{"/v1/buckets/b", "/v1/buckets/b/collections/c", "/v1/buckets/b/groups/g", recs + "/r"} {
		s.Do(R{Method: "PUT", Path: p, Auth: alice, Body: `{"data":{"members":[]}}`}).Expect(t, 201, 0)
	}
	s.Do(R{Method: "GET", Path: "/v1/buckets/b", Auth: stranger}).Expect(t, 200, 0)
	if ids := s.Do(R{Method: "GET", Path: "/v1/buckets", Auth: stranger}).Expect(t, 200, 0).IDs(); fmt.Sprint(ids) != "[b]" {
		t.Errorf("bucket list: %v", ids)
	}
	for _, p := range []string{"/v1/buckets/b/collections/c", "/v1/buckets/b/collections", "/v1/buckets/b/groups/g",
		"/v1/buckets/b/groups", recs, recs + "/r", "/v1/buckets/b/history", "/v1/buckets/b/collections/missing"} {
		s.Do(R{Method: "GET", Path: p, Auth: stranger}).Expect(t, 403, 121)
	}
	s.Do(R{Method: "GET", Path: "/v1/buckets/b", Auth: ""}).Expect(t, 401, 104)
	perms := s.Do(R{Method: "GET", Path: "/v1/permissions", Auth: stranger}).Expect(t, 200, 0)
	var uris []string
	for _, e := range perms.Items() {
		uris = append(uris, fmt.Sprint(e["uri"], e["permissions"]))
	}
	if fmt.Sprint(uris) != "[/buckets/b[read read:attributes] /[bucket:create]]" {
		t.Errorf("/permissions lists the bucket only: %v", uris)
	}
}
