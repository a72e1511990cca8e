package console_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/storage/memory"
)

type R = apitest.Req

// consoleSettings are the zero-configuration start's, with history for
// the timeline.
var consoleSettings = map[string]string{"includes": "default_bucket accounts changes history console counters",
	"multiauth.policies": "account", "account_create_principals": "system.Everyone", "account_write_principals": "account:admin",
	"account_read_principals": "account:admin", "bucket_create_principals": "system.Authenticated", "account_admin_reserved": "true",
	"account_bcrypt_cost": "4", "experimental_collection_schema_validation": "true"}

// TestServing: the page and its assets, with the strict policy, the
// redirect of /v1/console, fingerprinted assets cached for a year, and
// nothing served when console_enabled is off.
func TestServing(t *testing.T) {
	s := apitest.New(t, consoleSettings)
	s.Do(R{Method: "GET", Path: "/v1/console"}).Expect(t, 307, 0)
	page := s.Do(R{Method: "GET", Path: "/v1/console/", Headers: map[string]string{"Accept": "text/html"}}).Expect(t, 200, 0)
	csp := page.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe") ||
		page.Header.Get("X-Content-Type-Options") != "nosniff" || page.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("page headers %v", page.Header)
	}
	m := regexp.MustCompile(`src="(/v1/console/[0-9a-f]{12}/app\.js)"`).FindStringSubmatch(string(page.Raw))
	if m == nil || strings.Contains(string(page.Raw), "<script>") || strings.Contains(string(page.Raw), "style=") {
		t.Fatalf("page %s", page.Raw)
	}
	app := s.Do(R{Method: "GET", Path: m[1]}).Expect(t, 200, 0)
	if !strings.HasPrefix(app.Header.Get("Content-Type"), "text/javascript") || !strings.Contains(app.Header.Get("Cache-Control"), "immutable") {
		t.Fatalf("asset headers %v", app.Header)
	}
	for _, bad := range []string{strings.Replace(m[1], "app.js", "nope.js", 1), strings.Replace(m[1], "app.js", "../console.go", 1)} {
		if r := s.Do(R{Method: "GET", Path: bad}); r.Status != 404 && r.Status != 200 || strings.Contains(string(r.Raw), "package console") {
			t.Errorf("%s: %d %s", bad, r.Status, r.Raw)
		}
	}
	root := s.Do(R{Method: "GET", Path: "/v1/"}).Expect(t, 200, 0)
	if _, ok := root.Body["capabilities"].(map[string]any)["console"]; !ok {
		t.Error("no console capability")
	}
	off := map[string]string{"console_enabled": "false"}
	for k, v := range consoleSettings {
		if _, set := off[k]; !set {
			off[k] = v
		}
	}
	s2 := apitest.New(t, off)
	if r := s2.Do(R{Method: "GET", Path: "/v1/console"}); r.Status != 404 {
		t.Errorf("console_enabled=false: %d", r.Status)
	}
}

// TestBrowserFlows drives the console in headless Chromium through every
// flow of PLUG-CON (testdata/console.js): the first-run link creating the
// administrator (and refused the second time), sign-in, accounts
// (create, search, reset, delete), a bucket, a collection with a schema
// and a record through its form (with a schema error at its field), a
// conflict on a stale edit, sharing through the permissions editor, a
// change made through the API appearing in an open list, the history,
// 375 px screens, a user's password change and session revoke, and no
// page error or CSP violation anywhere. With NIMBUS_UPDATE_SCREENSHOTS
// set, the screenshots of docs/ are made again.
func TestBrowserFlows(t *testing.T) {
	apitest.NeedBrowser(t)
	s, logs := apitest.NewWithLogs(t, memory.New(), consoleSettings)
	m := regexp.MustCompile(`/v1/console/#/first-run/([A-Za-z0-9_-]+)`).FindStringSubmatch(logs)
	if m == nil {
		t.Fatalf("no first-run link in the logs:\n%s", logs)
	}
	shots := t.TempDir()
	if os.Getenv("NIMBUS_UPDATE_SCREENSHOTS") != "" {
		shots, _ = filepath.Abs("../../docs")
	}
	last, out := apitest.RunBrowser(t, "testdata/console.js", s.URL, m[1], shots)
	var report struct {
		Errors         []string           `json:"errors"`
		FirstRunAgain  string             `json:"firstRunAgain"`
		Nav            string             `json:"nav"`
		Search         string             `json:"search"`
		AliceNewPw     int                `json:"aliceNewPassword"`
		BobAfterDelete int                `json:"bobAfterDelete"`
		SchemaError    []string           `json:"schemaError"`
		Created        map[string]any     `json:"created"`
		Conflict       string             `json:"conflict"`
		AliceBefore    int                `json:"aliceBefore"`
		AliceAfter     int                `json:"aliceAfter"`
		LiveRows       int                `json:"liveRows"`
		AccountGroups  bool               `json:"accountGroups"`
		History        int                `json:"history"`
		Narrow         map[string]float64 `json:"narrow"`
		AliceFinal     int                `json:"aliceFinal"`
		RevokedSession int                `json:"revokedSession"`
		CSP            string             `json:"csp"`
	}
	if err := json.Unmarshal([]byte(last), &report); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	checks := []struct {
		what string
		ok   bool
	}{
		{"no page errors or CSP violations", len(report.Errors) == 0},
		{"the first-run link works once", strings.Contains(report.FirstRunAgain, "not valid") || strings.Contains(report.FirstRunAgain, "used")},
		{"navigation names", strings.Contains(report.Nav, "Accounts") && strings.Contains(report.Nav, "Buckets") && strings.Contains(report.Nav, "Server")},
		{"search by id", strings.Contains(report.Search, "alice") && !strings.Contains(report.Search, "bob")},
		{"reset password", report.AliceNewPw == 200},
		{"delete account", report.BobAfterDelete == 401},
		{"schema error at its field", len(report.SchemaError) > 0 && strings.Join(report.SchemaError, "") != ""},
		{"record through the form", report.Created["title"] == "Desk lamp" && report.Created["price"] == float64(25)},
		{"conflict shows both versions", strings.Contains(report.Conflict, "Desk lamp, blue") && strings.Contains(report.Conflict, "30")},
		{"sharing", report.AliceBefore == 403 && report.AliceAfter == 200},
		{"live list", report.LiveRows == 2},
		{"an account's groups", report.AccountGroups},
		{"history", report.History >= 3},
		{"password change", report.AliceFinal == 200},
		{"session revoke", report.RevokedSession == 401},
		{"strict CSP", strings.Contains(report.CSP, "default-src 'self'")},
	}
	for hash, width := range report.Narrow {
		checks = append(checks, struct {
			what string
			ok   bool
		}{"375 px without horizontal scrolling: " + hash, width <= 375})
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: report %+v", c.what, report)
		}
	}
	if t.Failed() {
		t.Logf("browser output:\n%s", out)
	}
}
