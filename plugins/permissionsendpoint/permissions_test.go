package permissionsendpoint_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

type R = apitest.Req

var alice, bob = apitest.Basic("alice", "pw"), apitest.Basic("bob", "pw")

func TestPermissionsEndpoint(t *testing.T) {
	off := apitest.New(t, nil)
	off.Do(R{Method: "GET", Path: "/v1/permissions", Auth: alice}).Expect(t, 404, 111)

	s := apitest.New(t, map[string]string{"experimental_permissions_endpoint": "true"})
	if s.Do(R{Method: "GET", Path: "/v1/"}).Body["capabilities"].(map[string]any)["permissions_endpoint"] == nil {
		t.Error("capability")
	}
	bobID := s.Do(R{Method: "GET", Path: "/v1/", Auth: bob}).Body["user"].(map[string]any)["id"].(string)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/blog", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/blog/groups/eds", Auth: alice, Body: `{"data":{"members":["` + bobID + `"]}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/blog/collections/articles", Auth: alice, Body: `{"permissions":{"record:create":["/buckets/blog/groups/eds"]}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/blog/collections/articles/records/r", Auth: alice, Body: `{"permissions":{"read":["` + bobID + `"]}}`}).Expect(t, 201, 0)

	r := s.Do(R{Method: "GET", Path: "/v1/permissions", Auth: alice}).Expect(t, 200, 0)
	var lines []string
	for _, e := range r.Items() {
		lines = append(lines, fmt.Sprintf("%s %s %v", e["uri"], e["resource_name"], e["permissions"]))
	}
	want := []string{
		"/buckets/blog/groups/eds group [read write]",
		"/buckets/blog/collections/articles/records/r record [read write]",
		"/buckets/blog/collections/articles collection [read read:attributes record:create write]",
		"/buckets/blog bucket [collection:create group:create read read:attributes write]",
		"/ root [bucket:create]",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("alice:\n%s", strings.Join(lines, "\n"))
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-cache, no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	if r.Header.Get("ETag") != `"0"` {
		t.Errorf("ETag %q", r.Header.Get("ETag"))
	}
	// Bob: through his group and his own ACL entry; inherited children are not listed.
	b := s.Do(R{Method: "GET", Path: "/v1/permissions?_sort=uri", Auth: bob}).Expect(t, 200, 0)
	var got []string
	for _, e := range b.Items() {
		got = append(got, fmt.Sprintf("%s %v", e["uri"], e["permissions"]))
	}
	if strings.Join(got, "\n") != "/ [bucket:create]\n/buckets/blog/collections/articles [read:attributes record:create]\n/buckets/blog/collections/articles/records/r [read]" {
		t.Errorf("bob:\n%s", strings.Join(got, "\n"))
	}
	rec := b.Items()[2]
	if rec["bucket_id"] != "blog" || rec["collection_id"] != "articles" || rec["record_id"] != "r" || rec["id"] != "r" {
		t.Errorf("ids: %v", rec)
	}
	f := s.Do(R{Method: "GET", Path: "/v1/permissions?resource_name=bucket", Auth: alice}).Expect(t, 200, 0)
	if len(f.Items()) != 1 {
		t.Errorf("filter: %s", f.Raw)
	}
	h := s.Do(R{Method: "HEAD", Path: "/v1/permissions", Auth: alice}).Expect(t, 200, 0)
	if h.Header.Get("Total-Objects") != "5" {
		t.Errorf("HEAD: %v", h.Header)
	}
	p := s.Do(R{Method: "GET", Path: "/v1/permissions?_limit=2", Auth: alice}).Expect(t, 200, 0)
	next := p.Header.Get("Next-Page")
	p2 := s.Do(R{Method: "GET", Path: next, Auth: alice}).Expect(t, 200, 0)
	if len(p.Items()) != 2 || len(p2.Items()) != 2 || p2.Items()[0]["uri"] != "/buckets/blog/collections/articles" {
		t.Errorf("pages: %s / %s", p.Raw, p2.Raw)
	}
	s.Do(R{Method: "GET", Path: "/v1/permissions?unknown=1", Auth: alice}).Expect(t, 400, 107)
	// Filters on last_modified are checked, then ignored (PERM-12): the
	// entries have no timestamp.
	for _, q := range []string{"_since=0", "_since=5", "_before=5", "gt_last_modified=1", "last_modified=1", "min_last_modified=0"} {
		if l := s.Do(R{Method: "GET", Path: "/v1/permissions?" + q, Auth: alice}).Expect(t, 200, 0); len(l.Items()) != 5 {
			t.Errorf("%s: %s", q, l.Raw)
		}
	}
	s.Do(R{Method: "GET", Path: "/v1/permissions?_since=abc", Auth: alice}).Expect(t, 400, 107)
	// The root entry's permissions are sorted like every entry's.
	both := apitest.New(t, map[string]string{"experimental_permissions_endpoint": "true", "includes": "accounts", "multiauth.policies": "account basicauth", "account_create_principals": "system.Everyone"})
	if root := both.Do(R{Method: "GET", Path: "/v1/permissions?resource_name=root", Auth: alice}).Expect(t, 200, 0).Items(); len(root) != 1 ||
		fmt.Sprint(root[0]["permissions"]) != "[account:create bucket:create]" {
		t.Errorf("root entry: %v", root)
	}
	anon := s.Do(R{Method: "GET", Path: "/v1/permissions"}).Expect(t, 200, 0)
	if len(anon.Items()) != 0 {
		t.Errorf("anonymous: %s", anon.Raw)
	}
	s.Do(R{Method: "DELETE", Path: "/v1/buckets/blog", Auth: alice}).Expect(t, 200, 0)
	gone := s.Do(R{Method: "GET", Path: "/v1/permissions", Auth: bob}).Expect(t, 200, 0)
	if len(gone.Items()) != 1 {
		t.Errorf("deleted objects are not listed: %s", gone.Raw)
	}
}
