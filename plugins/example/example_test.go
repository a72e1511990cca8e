package example_test

import (
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

type R = apitest.Req

func TestExamplePlugin(t *testing.T) {
	alice, bob := apitest.Basic("alice", "pw"), apitest.Basic("bob", "pw")
	s := apitest.New(t, map[string]string{"includes": "example", "example.greeting": "hi"})
	bobID := s.Do(R{Method: "GET", Path: "/v1/", Auth: bob}).Body["user"].(map[string]any)["id"].(string)
	caps := s.Do(R{Method: "GET", Path: "/v1/"}).Body["capabilities"].(map[string]any)
	if c, ok := caps["example"].(map[string]any); !ok || c["greeting"] != "hi" {
		t.Fatalf("capability with the setting: %v", caps)
	}
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: alice, Body: `{"permissions":{"bookmark:create":["` + bobID + `"]}}`}).Expect(t, 201, 0)
	// schema
	s.Do(R{Method: "POST", Path: "/v1/buckets/b/bookmarks", Auth: alice, Body: `{"data":{"url":"nope"}}`}).Expect(t, 400, 107)
	s.Do(R{Method: "POST", Path: "/v1/buckets/b/bookmarks", Auth: alice, Body: `{"data":{"url":"https://x.test","tags":[1]}}`}).Expect(t, 400, 107)
	mine := s.Do(R{Method: "POST", Path: "/v1/buckets/b/bookmarks", Auth: alice, Body: `{"data":{"url":"https://go.dev/doc"}}`}).Expect(t, 201, 0)
	if mine.Data()["host"] != "go.dev" {
		t.Errorf("derived field: %s", mine.Raw)
	}
	// permissions and inheritance: bob may create (bookmark:create), sees his own only.
	bobs := s.Do(R{Method: "POST", Path: "/v1/buckets/b/bookmarks", Auth: bob, Body: `{"data":{"url":"https://kinto.test"}}`}).Expect(t, 201, 0)
	l := s.Do(R{Method: "GET", Path: "/v1/buckets/b/bookmarks", Auth: bob}).Expect(t, 200, 0)
	if len(l.IDs()) != 1 || l.IDs()[0] != bobs.Data()["id"] {
		t.Errorf("bob lists %v", l.IDs())
	}
	s.Do(R{Method: "GET", Path: "/v1/buckets/b/bookmarks/" + mine.Data()["id"].(string), Auth: bob}).Expect(t, 403, 121)
	all := s.Do(R{Method: "GET", Path: "/v1/buckets/b/bookmarks?host=go.dev", Auth: alice}).Expect(t, 200, 0)
	if len(all.IDs()) != 1 {
		t.Errorf("the bucket writer filters all bookmarks: %v", all.IDs())
	}
	s.Do(R{Method: "DELETE", Path: "/v1/buckets/b/bookmarks/" + bobs.Data()["id"].(string), Auth: bob}).Expect(t, 200, 0)
	// the route and the listener
	s.Do(R{Method: "GET", Path: "/v1/example/stats"}).Expect(t, 401, 104)
	st := s.Do(R{Method: "GET", Path: "/v1/example/stats", Auth: alice}).Expect(t, 200, 0)
	if st.Body["created"].(interface{ String() string }).String() != "2" || st.Body["deleted"].(interface{ String() string }).String() != "1" {
		t.Errorf("stats: %s", st.Raw)
	}
	// bookmarks go with their bucket
	s.Do(R{Method: "DELETE", Path: "/v1/buckets/b", Auth: alice}).Expect(t, 200, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
	if e := s.Do(R{Method: "GET", Path: "/v1/buckets/b/bookmarks", Auth: alice}); len(e.IDs()) != 0 {
		t.Errorf("cascade: %s", e.Raw)
	}
	if api := s.Do(R{Method: "GET", Path: "/v1/__api__"}); api.Body["paths"].(map[string]any)["/buckets/{bucket_id}/bookmarks"] == nil {
		t.Error("the plugin's resource is in the OpenAPI document")
	}
}
