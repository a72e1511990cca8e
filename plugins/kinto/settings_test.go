package kinto_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

func TestClientCacheHeaders(t *testing.T) {
	s := apitest.New(t, map[string]string{"record_cache_expires_seconds": "60", "bucket_cache_expires_seconds": "0"})
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: alice, Body: `{"permissions":{"read":["system.Everyone"]}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: `{"data":{"cache_expires":120}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/d", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: recs + "/r", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
	cases := []struct {
		path, auth, cc string
		expires        bool
	}{
		{recs + "/r", "", "max-age=120", true},
		{recs, "", "max-age=120", true},
		{"/v1/buckets/b/collections/d/records", "", "max-age=60", true},
		{"/v1/buckets/b", "", "max-age=0, must-revalidate, no-cache, no-store", true},
		{"/v1/buckets/b/collections/c", "", "no-cache, no-store", false},
		{"/v1/buckets/b/groups", "", "no-cache, no-store", false},
		{recs + "/r", alice, "no-cache, no-store", false},
	}
	for _, c := range cases {
		r := s.Do(R{Method: "GET", Path: c.path, Auth: c.auth}).Expect(t, 200, 0)
		if r.Header.Get("Cache-Control") != c.cc || (r.Header.Get("Expires") != "") != c.expires {
			t.Errorf("%s (auth %v): Cache-Control %q Expires %q", c.path, c.auth != "", r.Header.Get("Cache-Control"), r.Header.Get("Expires"))
		}
	}
	per := apitest.New(t, map[string]string{"b.c.record_cache_expires_seconds": "30", "record_cache_expires_seconds": "10"})
	per.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: alice, Body: `{"permissions":{"read":["system.Everyone"]}}`})
	per.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: `{}`})
	if cc := per.Do(R{Method: "GET", Path: recs}).Header.Get("Cache-Control"); cc != "max-age=30" {
		t.Errorf("per-collection setting: %q", cc)
	}
}

func TestDisabledEndpoints(t *testing.T) {
	s := apitest.New(t, map[string]string{"object_record_delete_enabled": "false", "plural_bucket_delete_enabled": "false"})
	setup(t, s)
	s.Do(R{Method: "PUT", Path: recs + "/r", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
	r := s.Do(R{Method: "DELETE", Path: recs + "/r", Auth: alice}).Expect(t, 405, 115)
	if !strings.Contains(r.Header.Get("Allow"), "GET") || strings.Contains(r.Header.Get("Allow"), "DELETE") {
		t.Errorf("Allow: %q", r.Header.Get("Allow"))
	}
	s.Do(R{Method: "DELETE", Path: "/v1/buckets", Auth: alice}).Expect(t, 405, 115)
	s.Do(R{Method: "DELETE", Path: recs, Auth: alice}).Expect(t, 200, 0)
}

func TestVersionFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "version.json")
	os.WriteFile(file, []byte(`{"name":"nimbus","version":"9.9.9","commit":"abc","source":"x"}`), 0o644)
	s := apitest.New(t, map[string]string{"version_json_path": file, "project_version": "1.2.3"})
	v := s.Do(R{Method: "GET", Path: "/v1/__version__"}).Expect(t, 200, 0)
	if v.Body["version"] != "9.9.9" || v.Body["commit"] != "abc" {
		t.Errorf("version file: %s", v.Raw)
	}
	if pv := s.Do(R{Method: "GET", Path: "/v1/"}).Body["project_version"]; pv != "1.2.3" {
		t.Errorf("project_version %v", pv)
	}
	missing := apitest.New(t, map[string]string{"version_json_path": filepath.Join(dir, "nope.json")})
	missing.Do(R{Method: "GET", Path: "/v1/__version__"}).Expect(t, 200, 0)
}
