package kinto_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

var (
	alice = apitest.Basic("alice", "secret")
	bob   = apitest.Basic("bob", "secret")
	carol = apitest.Basic("carol", "secret")
)

type R = apitest.Req

func TestRootURL(t *testing.T) {
	s := apitest.New(t, nil)
	anon := s.Do(R{Method: "GET", Path: "/v1/"}).Expect(t, 200, 0)
	for _, k := range []string{"project_name", "project_version", "http_api_version", "project_docs", "url", "settings", "capabilities"} {
		if _, ok := anon.Body[k]; !ok {
			t.Errorf("root lacks %s", k)
		}
	}
	if anon.Body["http_api_version"] != "1.23" || anon.Body["url"] != s.URL+"/v1/" {
		t.Errorf("root: %s", anon.Raw)
	}
	if _, ok := anon.Body["user"]; ok {
		t.Error("anonymous root must not show user")
	}
	if anon.Header.Get("Cache-Control") != "" {
		t.Error("root must not be cacheable outside read-only mode")
	}
	authed := s.Do(R{Method: "GET", Path: "/v1/", Auth: alice}).Expect(t, 200, 0)
	user := authed.Body["user"].(map[string]any)
	id := user["id"].(string)
	if !strings.HasPrefix(id, "basicauth:") || len(id) != len("basicauth:")+64 {
		t.Errorf("user id %q", id)
	}
	ps := user["principals"].([]any)
	if ps[0] != id || len(ps) != 3 {
		t.Errorf("principals %v", ps)
	}
	for _, bad := range []string{"Basic !!!", "Basic " + "Og==", "Bearer xyz", "Basic"} {
		r := s.Do(R{Method: "GET", Path: "/v1/", Auth: bad}).Expect(t, 200, 0)
		if _, ok := r.Body["user"]; ok {
			t.Errorf("credentials %q should leave the request anonymous", bad)
		}
	}
	if caps := anon.Body["capabilities"].(map[string]any); caps["basicauth"] == nil {
		t.Error("basicauth capability missing")
	}
}

func TestUtilityEndpoints(t *testing.T) {
	s := apitest.New(t, nil)
	hb := s.Do(R{Method: "GET", Path: "/v1/__heartbeat__"}).Expect(t, 200, 0)
	if hb.Body["storage"] != true || hb.Body["permission"] != true {
		t.Errorf("heartbeat %s", hb.Raw)
	}
	lb := s.Do(R{Method: "GET", Path: "/v1/__lbheartbeat__"}).Expect(t, 200, 0)
	if string(lb.Raw) != "{}" {
		t.Errorf("lbheartbeat %s", lb.Raw)
	}
	v := s.Do(R{Method: "GET", Path: "/v1/__version__"}).Expect(t, 200, 0)
	if v.Body["name"] != "nimbus" || v.Body["version"] == nil {
		t.Errorf("version %s", v.Raw)
	}
	s.Backend.Close()
	down := s.Do(R{Method: "GET", Path: "/v1/__heartbeat__"})
	if down.Status != 503 || down.Body["storage"] != false {
		t.Errorf("heartbeat with a closed backend: %d %s", down.Status, down.Raw)
	}
	r := s.Do(R{Method: "GET", Path: "/v1/buckets", Auth: alice}).Expect(t, 503, 201)
	if r.Header.Get("Retry-After") != "3" {
		t.Errorf("503 without Retry-After")
	}
	if r.Errno() != 201 {
		t.Errorf("errno %d", r.Errno())
	}
}

func TestRedirects(t *testing.T) {
	s := apitest.New(t, nil)
	cases := []struct {
		method, path string
		status       int
		location     string
		errno        int
	}{
		{"GET", "/", 307, "/v1/", 0},
		{"GET", "/buckets?_limit=2", 307, "/v1/buckets?_limit=2", 0},
		{"GET", "/__heartbeat__", 307, "/v1/__heartbeat__", 0},
		{"GET", "/v2/buckets", 404, "", 116},
		{"GET", "/v0/", 404, "", 116},
		{"GET", "/v1/buckets/", 307, "/v1/buckets", 0},
		{"GET", "/v1/buckets/b/collections/?x=1", 307, "/v1/buckets/b/collections?x=1", 0},
		{"GET", "/v1", 307, "/v1/", 0},
		{"GET", "/v1/nothing/here", 404, "", 111},
	}
	for _, c := range cases {
		r := s.Do(R{Method: c.method, Path: c.path})
		if r.Status != c.status || r.Header.Get("Location") != c.location {
			t.Errorf("%s %s: %d %q, want %d %q", c.method, c.path, r.Status, r.Header.Get("Location"), c.status, c.location)
		}
		if c.errno != 0 {
			r.Expect(t, c.status, c.errno)
		}
	}
	r := s.Do(R{Method: "GET", Path: "/v1/buckets/"})
	if r.Header.Get("Cache-Control") != "max-age=3600" {
		t.Errorf("trailing slash redirect cache: %q", r.Header.Get("Cache-Control"))
	}
	off := apitest.New(t, map[string]string{"version_prefix_redirect_enabled": "false", "trailing_slash_redirect_enabled": "false"})
	off.Do(R{Method: "GET", Path: "/buckets"}).Expect(t, 404, 116)
	off.Do(R{Method: "GET", Path: "/v1/buckets/"}).Expect(t, 404, 111)
	ttl := apitest.New(t, map[string]string{"version_prefix_redirect_ttl_seconds": "60"})
	if cc := ttl.Do(R{Method: "GET", Path: "/"}).Header.Get("Cache-Control"); cc != "max-age=60" {
		t.Errorf("version redirect ttl: %q", cc)
	}
}

func TestCORS(t *testing.T) {
	s := apitest.New(t, nil)
	r := s.Do(R{Method: "GET", Path: "/v1/", Headers: map[string]string{"Origin": "https://app.example"}})
	if r.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("allow-origin %q", r.Header.Get("Access-Control-Allow-Origin"))
	}
	for _, h := range []string{"Backoff", "Retry-After", "Alert", "Content-Length", "Content-Type"} {
		if !strings.Contains(r.Header.Get("Access-Control-Expose-Headers"), h) {
			t.Errorf("expose headers lack %s: %q", h, r.Header.Get("Access-Control-Expose-Headers"))
		}
	}
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: alice, Body: "{}"}).Expect(t, 201, 0)
	list := s.Do(R{Method: "GET", Path: "/v1/buckets", Auth: alice, Headers: map[string]string{"Origin": "https://app.example"}})
	for _, h := range []string{"Next-Page", "ETag", "Last-Modified"} {
		if !strings.Contains(list.Header.Get("Access-Control-Expose-Headers"), h) {
			t.Errorf("plural expose headers lack %s", h)
		}
	}
	pre := s.Do(R{Method: "OPTIONS", Path: "/v1/buckets/b", Headers: map[string]string{"Origin": "https://app.example",
		"Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "Authorization, If-Match"}})
	pre.Expect(t, 200, 0)
	if !strings.Contains(pre.Header.Get("Access-Control-Allow-Methods"), "PUT") ||
		!strings.Contains(pre.Header.Get("Access-Control-Allow-Headers"), "If-Match") ||
		pre.Header.Get("Access-Control-Max-Age") != "3600" {
		t.Errorf("preflight headers %v", pre.Header)
	}
	s.Do(R{Method: "OPTIONS", Path: "/v1/buckets/b"}).Expect(t, 400, 107)
	listed := apitest.New(t, map[string]string{"cors_origins": "https://*.example.org https://exact.test"})
	for origin, want := range map[string]string{"https://a.example.org": "https://a.example.org", "https://exact.test": "https://exact.test", "https://evil.test": ""} {
		got := listed.Do(R{Method: "GET", Path: "/v1/", Headers: map[string]string{"Origin": origin}}).Header.Get("Access-Control-Allow-Origin")
		if got != want {
			t.Errorf("origin %s: allow-origin %q, want %q", origin, got, want)
		}
	}
	// Errors carry CORS headers too.
	e := s.Do(R{Method: "GET", Path: "/v1/buckets/zz", Headers: map[string]string{"Origin": "https://x"}})
	if e.Header.Get("Access-Control-Allow-Origin") == "" {
		t.Error("error responses must carry CORS headers")
	}
}

func TestHeadersAndModes(t *testing.T) {
	s := apitest.New(t, map[string]string{"backoff": "30", "eos": "2999-01-01", "eos_message": "bye", "eos_url": "http://x"})
	r := s.Do(R{Method: "GET", Path: "/v1/"})
	if r.Header.Get("Backoff") != "30" || !strings.Contains(r.Header.Get("Alert"), "soft-eol") {
		t.Errorf("backoff/alert headers: %v", r.Header)
	}
	if r.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(r.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("security headers: %v", r.Header)
	}
	if r.Body["eos"] != "2999-01-01" {
		t.Errorf("root eos: %v", r.Body["eos"])
	}
	gone := apitest.New(t, map[string]string{"eos": "2000-01-01"})
	g := gone.Do(R{Method: "GET", Path: "/v1/buckets"}).Expect(t, 410, 202)
	if !strings.Contains(g.Header.Get("Alert"), "hard-eol") {
		t.Errorf("hard eol alert: %q", g.Header.Get("Alert"))
	}
	if g.Body["message"] != "The service you are trying to connect no longer exists at this location." {
		t.Errorf("hard eol message (no eos_message set): %v", g.Body["message"])
	}
	ro := apitest.New(t, map[string]string{"readonly": "true"})
	ro.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: alice, Body: "{}"}).Expect(t, 405, 115)
	root := ro.Do(R{Method: "GET", Path: "/v1/"})
	if root.Header.Get("Cache-Control") != "max-age=86400" || root.Body["settings"].(map[string]any)["readonly"] != true {
		t.Errorf("readonly root: %v %s", root.Header, root.Raw)
	}
}

func TestBadInput(t *testing.T) {
	s := apitest.New(t, map[string]string{"max_request_body_bytes": "2000"})
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: alice, Body: "{}"}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: "{}"}).Expect(t, 201, 0)
	rec := "/v1/buckets/b/collections/c/records"
	deep := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	cases := []struct {
		name    string
		req     R
		status  int
		errno   int
		message string
	}{
		{"invalid JSON", R{Method: "POST", Path: rec, Auth: alice, Body: "{nope"}, 400, 107, "Invalid JSON"},
		{"body is a list", R{Method: "POST", Path: rec, Auth: alice, Body: "[1]"}, 400, 107, ""},
		{"data is a string", R{Method: "POST", Path: rec, Auth: alice, Body: `{"data":"x"}`}, 400, 107, ""},
		{"permissions is a list", R{Method: "POST", Path: rec, Auth: alice, Body: `{"permissions":[]}`}, 400, 107, ""},
		{"permission not a list", R{Method: "POST", Path: rec, Auth: alice, Body: `{"permissions":{"read":"x"}}`}, 400, 107, "not iterable"},
		{"principal not a string", R{Method: "POST", Path: rec, Auth: alice, Body: `{"permissions":{"read":[1]}}`}, 400, 107, ""},
		{"unknown permission", R{Method: "POST", Path: rec, Auth: alice, Body: `{"permissions":{"record:create":["x"]}}`}, 400, 107, ""},
		{"unknown body key", R{Method: "POST", Path: rec, Auth: alice, Body: `{"data":{},"foo":1}`}, 400, 107, "Unrecognized keys"},
		{"nested too deeply", R{Method: "POST", Path: rec, Auth: alice, Body: `{"data":{"x":` + deep + `}}`}, 400, 107, "nested too deeply"},
		{"invalid id in path", R{Method: "PUT", Path: "/v1/buckets/__beers__", Auth: alice, Body: "{}"}, 400, 107, ""},
		{"unicode id", R{Method: "PUT", Path: "/v1/buckets/b/collections/c/records/%C3%A9t%C3%A9", Auth: alice, Body: "{}"}, 400, 107, ""},
		{"invalid data.id", R{Method: "POST", Path: rec, Auth: alice, Body: `{"data":{"id":"a b"}}`}, 400, 107, ""},
		{"numeric data.id", R{Method: "POST", Path: rec, Auth: alice, Body: `{"data":{"id":12}}`}, 400, 107, ""},
		// Kinto's words, name and message: the message is the
		// description alone since it names the field.
		{"id mismatch", R{Method: "PUT", Path: rec + "/x", Auth: alice, Body: `{"data":{"id":"y"}}`}, 400, 107, "^Object id does not match existing object$"},
		{"oversized body", R{Method: "POST", Path: rec, Auth: alice, Body: `{"data":{"x":"` + strings.Repeat("a", 3000) + `"}}`}, 413, 113, ""},
		{"unsupported content type", R{Method: "POST", Path: rec, Auth: alice, Body: "{}", Headers: map[string]string{"Content-Type": "text/plain"}}, 415, 107, ""},
		{"accept excludes json", R{Method: "GET", Path: rec, Auth: alice, Headers: map[string]string{"Accept": "text/html"}}, 406, 107, ""},
		{"unknown method", R{Method: "TRACE", Path: rec, Auth: alice}, 405, 115, ""},
		{"method of the other endpoint", R{Method: "PUT", Path: rec, Auth: alice, Body: "{}"}, 405, 115, ""},
		{"bad If-Match", R{Method: "GET", Path: rec, Auth: alice, Headers: map[string]string{"If-Match": "abc"}}, 400, 107, "integer between double quotes"},
		{"negative If-Match", R{Method: "GET", Path: rec, Auth: alice, Headers: map[string]string{"If-Match": `"-1"`}}, 400, 107, "integer between double quotes"},
		{"signed If-None-Match", R{Method: "GET", Path: rec, Auth: alice, Headers: map[string]string{"If-None-Match": `"+5"`}}, 400, 107, "integer between double quotes"},
		{"empty quoted If-Match", R{Method: "GET", Path: rec, Auth: alice, Headers: map[string]string{"If-Match": `""`}}, 400, 107, "integer between double quotes"},
		{"If-Match beyond int64 matches nothing", R{Method: "GET", Path: rec, Auth: alice, Headers: map[string]string{"If-Match": `"99999999999999999999"`}}, 412, 114, ""},
		{"forbidden before validation", R{Method: "POST", Path: rec, Auth: bob, Body: "{nope"}, 403, 121, ""},
		{"anonymous before validation", R{Method: "POST", Path: rec, Body: "{nope"}, 401, 104, ""},
		{"invalid utf-8 path", R{Method: "GET", Path: "/v1/buckets/%ff", Auth: alice}, 400, 107, ""},
		{"NUL in filter", R{Method: "GET", Path: rec + "?a=%00", Auth: alice}, 400, 107, "0x00"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.Do(c.req).Expect(t, c.status, c.errno)
			if exact, ok := strings.CutPrefix(c.message, "^"); ok {
				exact = strings.TrimSuffix(exact, "$")
				if r.Body["message"] != exact || fmt.Sprint(r.Body["details"]) != fmt.Sprintf("[map[description:%s location:body name:id]]", exact) {
					t.Errorf("message %q, details %v", r.Body["message"], r.Body["details"])
				}
			} else if c.message != "" && !strings.Contains(r.Body["message"].(string), c.message) {
				t.Errorf("message %q lacks %q", r.Body["message"], c.message)
			}
			if c.status == 405 && r.Header.Get("Allow") == "" {
				t.Error("405 without Allow header")
			}
		})
	}
	list := s.Do(R{Method: "GET", Path: rec, Auth: alice}).Expect(t, 200, 0)
	if len(list.IDs()) != 0 {
		t.Fatalf("bad requests wrote records: %v", list.IDs())
	}
	s.Do(R{Method: "PUT", Path: rec + "/p", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
	if r := s.Do(R{Method: "PATCH", Path: rec + "/p", Auth: alice, Body: `{"data":{"id":"q"}}`}).Expect(t, 400, 107); r.Body["message"] != "Object id does not match existing object" {
		t.Errorf("PATCH of another id: %s", r.Raw)
	}
	s.Do(R{Method: "DELETE", Path: rec + "/p", Auth: alice}).Expect(t, 200, 0)
	empty := s.Do(R{Method: "POST", Path: rec, Auth: alice, Headers: map[string]string{"Content-Type": ""}}).Expect(t, 201, 0)
	if empty.Data()["id"] == nil {
		t.Error("an empty POST creates an empty record")
	}
}
