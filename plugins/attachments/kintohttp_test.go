package attachments_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

// TestKintoHTTPJSAttachments runs kinto-http.js's attachment calls
// (testdata/attachments.js) against Nimbus configured as kinto-http.js's
// own test/kinto.ini (files in a folder, locations under a base_url that
// Nimbus does not serve, old files kept) and as a zero-configuration
// server (files in the database, served under /attachments/). It needs
// node and kinto-http: NIMBUS_KINTO_HTTP_JS names the folder (.ci/run
// installs it; NIMBUS_REQUIRE_JS=1 forbids skipping).
func TestKintoHTTPJSAttachments(t *testing.T) {
	dir := apitest.JSClients(t)
	configs := []struct {
		name, mode string
		settings   map[string]string
	}{
		{"kinto-http.js test/kinto.ini", "kinto-ini", map[string]string{"includes": "default_bucket kinto_attachment flush",
			"multiauth.policies": "basicauth", "bucket_create_principals": "system.Authenticated",
			"attachment.base_url": "http://0.0.0.0:8888/attachments", "attachment.folder": "{bucket_id}/{collection_id}",
			"attachment.keep_old_files": "true", "attachment.base_path": t.TempDir(), "attachment.extensions": "any"}},
		{"files in the database", "served", map[string]string{"includes": "attachments", "multiauth.policies": "basicauth",
			"bucket_create_principals": "system.Authenticated"}},
	}
	for _, c := range configs {
		t.Run(c.name, func(t *testing.T) {
			s := apitest.New(t, c.settings)
			script, _ := filepath.Abs("testdata/attachments.js")
			cmd := exec.Command("node", script, s.URL+"/v1", c.mode)
			cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "OK") {
				t.Fatalf("kinto-http.js attachments failed: %v\n%s", err, out)
			}
		})
	}
}
