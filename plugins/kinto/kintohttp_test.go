package kinto_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

// TestKintoHTTPJS runs the real kinto-http.js client through its usual
// flow (testdata/js/flow.js). It needs node and the kinto-http package:
// NIMBUS_KINTO_HTTP_JS names a folder whose node_modules holds it (.ci/run
// installs it there). CI sets NIMBUS_REQUIRE_JS=1 so that it cannot be
// skipped silently.
func TestKintoHTTPJS(t *testing.T) {
	dir := apitest.JSClients(t)
	for _, cfg := range jsConfigs {
		t.Run(cfg.name, func(t *testing.T) {
			settings := map[string]string{"account_create_principals": "system.Everyone", "account_bcrypt_cost": "4"}
			for k, v := range cfg.settings {
				settings[k] = v
			}
			onBackends(t, settings, func(t *testing.T, s *apitest.Server) {
				script, _ := filepath.Abs("testdata/js/flow.js")
				args := []string{script, s.URL + "/v1"}
				if cfg.fallback {
					args = append(args, "fallback")
				}
				cmd := exec.Command("node", args...)
				cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
				out, err := cmd.CombinedOutput()
				if err != nil || !strings.Contains(string(out), "OK") {
					t.Fatalf("kinto-http.js flow failed: %v\n%s", err, out)
				}
			})
		})
	}
}

// jsConfigs are the configurations the JavaScript clients run under:
// accounts alone, and Kinto's own client-suite set-up.
var jsConfigs = []struct {
	name     string
	settings map[string]string
	fallback bool
}{
	{"account", map[string]string{"includes": "default_bucket accounts history", "multiauth.policies": "account"}, false},
	{"account basicauth", map[string]string{"includes": "default_bucket history accounts flush",
		"multiauth.policies": "account basicauth", "bucket_read_principals": "system.Authenticated"}, true},
}
