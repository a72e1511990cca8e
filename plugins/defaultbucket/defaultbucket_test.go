package defaultbucket_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/defaultbucket"
	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

type R = apitest.Req

var alice, bob = apitest.Basic("alice", "pw"), apitest.Basic("bob", "pw")

func TestDefaultBucket(t *testing.T) {
	s := apitest.New(t, map[string]string{"includes": "default_bucket", "default_bucket_hmac_secret": "s3"})
	root := s.Do(R{Method: "GET", Path: "/v1/", Auth: alice}).Expect(t, 200, 0)
	user := root.Body["user"].(map[string]any)
	id := user["bucket"].(string)
	if id != defaultbucket.BucketID("s3", user["id"].(string)) || len(id) != 36 || strings.Count(id, "-") != 4 {
		t.Fatalf("bucket id %q", id)
	}
	if root.Body["capabilities"].(map[string]any)["default_bucket"] == nil {
		t.Error("capability")
	}
	// Stable per user, different between users.
	if again := s.Do(R{Method: "GET", Path: "/v1/", Auth: alice}).Body["user"].(map[string]any)["bucket"]; again != id {
		t.Error("the id must be stable")
	}
	if other := s.Do(R{Method: "GET", Path: "/v1/", Auth: bob}).Body["user"].(map[string]any)["bucket"]; other == id {
		t.Error("each user has their own bucket")
	}
	r := s.Do(R{Method: "POST", Path: "/v1/buckets/default/collections/tasks/records", Auth: alice, Body: `{"data":{"title":"x"}}`}).Expect(t, 201, 0)
	rid := r.Data()["id"].(string)
	g := s.Do(R{Method: "GET", Path: "/v1/buckets/default", Auth: alice}).Expect(t, 200, 0)
	if g.Data()["id"] != id {
		t.Errorf("answers show the real id: %s", g.Raw)
	}
	s.Do(R{Method: "GET", Path: "/v1/buckets/" + id + "/collections/tasks/records/" + rid, Auth: alice}).Expect(t, 200, 0)
	l := s.Do(R{Method: "GET", Path: "/v1/buckets/default/collections/tasks/records?_limit=5", Auth: alice}).Expect(t, 200, 0)
	if fmt.Sprint(l.IDs()) != "["+rid+"]" {
		t.Errorf("list through the alias: %s", l.Raw)
	}
	s.Do(R{Method: "GET", Path: "/v1/buckets/default/collections/tasks/records", Auth: alice, Headers: map[string]string{"If-None-Match": l.Header.Get("ETag")}}).Expect(t, 304, 0)
	s.Do(R{Method: "GET", Path: "/v1/buckets/" + id, Auth: bob}).Expect(t, 403, 121)
	s.Do(R{Method: "GET", Path: "/v1/buckets/default"}).Expect(t, 401, 104)
	s.Do(R{Method: "GET", Path: "/v1/buckets/default/collections/__x__", Auth: alice}).Expect(t, 400, 107)
	red := s.Do(R{Method: "GET", Path: "/v1/buckets/default/collections/?a=1", Auth: alice})
	if red.Status != 307 || red.Header.Get("Location") != "/v1/buckets/default/collections?a=1" {
		t.Errorf("redirect: %d %v", red.Status, red.Header.Get("Location"))
	}
	put := s.Do(R{Method: "PUT", Path: "/v1/buckets/default", Auth: bob, Body: `{"data":{"id":"default","title":"mine"}}`}).Expect(t, 201, 0)
	if put.Data()["title"] != "mine" || put.Data()["id"] == "default" {
		t.Errorf("explicit PUT on the alias: %s", put.Raw)
	}
	pre := s.Do(R{Method: "OPTIONS", Path: "/v1/buckets/default/collections/x", Headers: map[string]string{"Origin": "http://a", "Access-Control-Request-Method": "GET"}})
	if pre.Status != 200 {
		t.Errorf("preflight without auth: %d", pre.Status)
	}
	batch := s.Do(R{Method: "POST", Path: "/v1/batch", Auth: alice, Body: `{"requests":[{"method":"PUT","path":"/buckets/default/collections/b1/records/r1","body":{"data":{"n":1}}},{"path":"/buckets/default/collections/b1/records/r1"}]}`}).Expect(t, 200, 0)
	if !strings.Contains(string(batch.Raw), `"status":201`) || !strings.Contains(string(batch.Raw), `"n":1`) {
		t.Errorf("default bucket inside a batch: %s", batch.Raw)
	}
	ro := apitest.New(t, map[string]string{"includes": "default_bucket", "readonly": "true"})
	ro.Do(R{Method: "GET", Path: "/v1/buckets/default", Auth: alice}).Expect(t, 405, 115)
}

// TestImplicitCreationNeedsNoCreatePermission follows Kinto: the personal
// bucket and its collections are created by the server on the caller's
// behalf, so a site that keeps bucket:create for administrators still
// gives every user a default bucket, owned by them.
func TestImplicitCreationNeedsNoCreatePermission(t *testing.T) {
	s := apitest.New(t, map[string]string{"includes": "default_bucket", "default_bucket_hmac_secret": "s3",
		"bucket_create_principals": "basicauth:admin"})
	cases := []struct {
		method, path string
		status       int
	}{
		{"PUT", "/v1/buckets/mine", 403},
		{"POST", "/v1/buckets/default/collections/tasks/records", 201},
		{"GET", "/v1/buckets/default/collections/tasks", 200},
		{"GET", "/v1/buckets/default/collections/notes/records", 200},
	}
	for _, c := range cases {
		s.Do(R{Method: c.method, Path: c.path, Auth: alice, Body: `{"data":{}}`}).Expect(t, c.status, map[int]int{403: 121}[c.status])
	}
	b := s.Do(R{Method: "GET", Path: "/v1/buckets/default", Auth: alice}).Expect(t, 200, 0)
	perms := b.Body["permissions"].(map[string]any)
	uid := s.Do(R{Method: "GET", Path: "/v1/", Auth: alice}).Body["user"].(map[string]any)["id"]
	if fmt.Sprint(perms["write"]) != fmt.Sprintf("[%s]", uid) {
		t.Errorf("the caller owns the bucket created for them: %s", b.Raw)
	}
	s.Do(R{Method: "GET", Path: "/v1/buckets/default/collections/tasks", Auth: bob}).Expect(t, 200, 0)
}
