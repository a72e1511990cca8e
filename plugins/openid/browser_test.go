package openid_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

// appPage is a single-page app doing what Kinto Admin does for an OpenID
// login: a button sends the browser to Nimbus's login endpoint with a
// callback ending in "#auth/op/tokens/"; back there, the page decodes the
// provider's token answer (URL-decoded, then base64, then JSON) and
// reads the root URL with the access token.
const appPage = `<!doctype html><meta charset="utf-8"><title>app</title>
<button id="signin">Sign in with op</button>
<script>
const nimbus = NIMBUS;
const marker = "#auth/op/tokens/";
window.result = null;
document.getElementById("signin").onclick = () => {
  const callback = location.origin + location.pathname + marker;
  location.href = nimbus + "/v1/openid/op/login?callback=" + encodeURIComponent(callback) + "&scope=" + encodeURIComponent("openid email profile");
};
(async () => {
  if (!location.hash.startsWith(marker)) return;
  const tokens = JSON.parse(atob(decodeURIComponent(location.hash.slice(marker.length))));
  const r = await fetch(nimbus + "/v1/", {headers: {Authorization: "Bearer " + tokens.access_token}});
  const body = await r.json();
  window.result = {status: r.status, user: body.user, tokenType: tokens.token_type};
  document.title = "done";
})().catch((e) => { window.result = {error: String(e)}; document.title = "done"; });
</script>`

// TestBrowserLogin: headless Chromium signs in through Nimbus's OpenID
// endpoints and the real provider's login form, as Kinto Admin's OpenID
// login does, and the app then reads Nimbus as that user. It needs
// /usr/bin/chromium and playwright-core (NIMBUS_BROWSER_JS; .ci/run
// installs both; NIMBUS_REQUIRE_BROWSER=1 forbids skipping).
func TestBrowserLogin(t *testing.T) {
	apitest.NeedBrowser(t)
	s, _ := server(t, nil)
	page := strings.Replace(appPage, "NIMBUS", `"`+s.URL+`"`, 1)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(page))
	}))
	defer app.Close()
	last, out := apitest.RunBrowser(t, "testdata/login.js", app.URL+"/admin/")
	var report struct {
		ProviderPage string `json:"providerPage"`
		Result       struct {
			Status int            `json:"status"`
			User   map[string]any `json:"user"`
			Error  string         `json:"error"`
		} `json:"result"`
	}
	if err := json.Unmarshal([]byte(last), &report); err != nil {
		t.Fatalf("report %s: %v", out, err)
	}
	if report.ProviderPage != "/login/username" || report.Result.Status != 200 || report.Result.User["id"] != "op:id2" {
		t.Fatalf("report %+v", report)
	}
	if profile, _ := report.Result.User["profile"].(map[string]any); profile["email"] != "test-user2@zitadel.ch" {
		t.Fatalf("profile %v", report.Result.User)
	}
}
