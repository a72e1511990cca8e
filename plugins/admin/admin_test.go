package admin_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

type R = apitest.Req

func TestAdmin(t *testing.T) {
	s := apitest.New(t, map[string]string{"includes": "admin"})
	r := s.Do(R{Method: "GET", Path: "/v1/admin"})
	if r.Status != 307 || r.Header.Get("Location") != "/v1/admin/" {
		t.Errorf("redirect: %d %v", r.Status, r.Header)
	}
	help := s.Do(R{Method: "GET", Path: "/v1/admin/"})
	if help.Status != 200 || !strings.Contains(string(help.Raw), "admin_assets_path") || !strings.Contains(help.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Errorf("help page: %d %v", help.Status, help.Header)
	}
	caps := s.Do(R{Method: "GET", Path: "/v1/"}).Body["capabilities"].(map[string]any)
	if caps["admin"] == nil || caps["permissions_endpoint"] == nil {
		t.Errorf("capabilities: %v", caps)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("<html>kinto admin</html>"), 0o644)
	os.WriteFile(filepath.Join(dir, "app.js"), []byte("console.log(1)"), 0o644)
	os.WriteFile(filepath.Join(dir, "VERSION"), []byte("3.0.0\n"), 0o644)
	s2 := apitest.New(t, map[string]string{"includes": "admin", "admin_assets_path": dir})
	if v := s2.Do(R{Method: "GET", Path: "/v1/"}).Body["capabilities"].(map[string]any)["admin"].(map[string]any)["version"]; v != "3.0.0" {
		t.Errorf("version %v", v)
	}
	if b := s2.Do(R{Method: "GET", Path: "/v1/admin/"}); !strings.Contains(string(b.Raw), "kinto admin") {
		t.Errorf("index: %s", b.Raw)
	}
	if b := s2.Do(R{Method: "GET", Path: "/v1/admin/app.js"}); string(b.Raw) != "console.log(1)" {
		t.Errorf("asset: %s", b.Raw)
	}
	if b := s2.Do(R{Method: "GET", Path: "/v1/admin/../../etc/passwd"}); strings.Contains(string(b.Raw), "root:") {
		t.Error("path traversal")
	}
}
