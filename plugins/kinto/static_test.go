package kinto_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/config"
	"github.com/nimbus-server/nimbus/plugins"
	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/storage/memory"
)

// TestStaticPath: static_path serves a folder of the operator's own files
// at / beside the API, with safe headers, and nothing else: no listing,
// no dot file, nothing outside the folder, no other method; the API is
// unchanged (operator traps, row 18).
func TestStaticPath(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("<!doctype html><title>mine</title>"), 0o644)
	os.WriteFile(filepath.Join(dir, "app.js"), []byte("console.log('mine')"), 0o644)
	os.WriteFile(filepath.Join(dir, ".env"), []byte("SECRET=1"), 0o644)
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", "page.html"), []byte("<p>sub</p>"), 0o644)
	s := apitest.New(t, map[string]string{"static_path": dir})
	cases := []struct {
		method, path string
		status       int
		body, ctype  string
	}{
		{"GET", "/", 200, "<title>mine</title>", "text/html"},
		{"GET", "/index.html", 200, "<title>mine</title>", "text/html"},
		{"GET", "/app.js", 200, "console.log", "javascript"},
		{"HEAD", "/app.js", 200, "", "javascript"},
		{"GET", "/sub/page.html", 200, "<p>sub</p>", "text/html"},
		{"GET", "/sub/", 307, "", ""}, // no index: no listing, the usual redirect
		{"GET", "/.env", 307, "", ""}, // dot files are never served
		{"GET", "/..%2f..%2fetc%2fpasswd", 307, "", ""},
		{"POST", "/app.js", 307, "", ""},
		{"GET", "/v1/", 200, `"project_name"`, "application/json"},
	}
	for _, c := range cases {
		r := s.Do(R{Method: c.method, Path: c.path})
		if r.Status != c.status || !strings.Contains(string(r.Raw), c.body) || !strings.Contains(r.Header.Get("Content-Type"), c.ctype) {
			t.Errorf("%s %s: %d %q %s", c.method, c.path, r.Status, r.Header.Get("Content-Type"), r.Raw)
			continue
		}
		if strings.Contains(string(r.Raw), "SECRET") || strings.Contains(string(r.Raw), "root:") {
			t.Errorf("%s %s leaked a file: %s", c.method, c.path, r.Raw)
		}
		if c.status == 200 && c.ctype != "application/json" {
			if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
				r.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%s %s: headers %v", c.method, c.path, r.Header)
			}
		}
	}
	ranged := s.Do(R{Method: "GET", Path: "/app.js", Headers: map[string]string{"Range": "bytes=0-6"}})
	if ranged.Status != 206 || string(ranged.Raw) != "console" {
		t.Errorf("Range: %d %q", ranged.Status, ranged.Raw)
	}
	if _, err := plugins.NewApp(config.New(map[string]string{"static_path": filepath.Join(dir, "nope"), "multiauth.policies": "basicauth",
		"userid_hmac_secret": "s"}), memory.New(), nil, nil); err == nil || !strings.Contains(err.Error(), "static_path") {
		t.Errorf("a static_path that is not a folder: %v", err)
	}
}
