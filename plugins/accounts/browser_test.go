package accounts_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

const appPage = `<!doctype html><meta charset="utf-8"><title>app</title><script>
const rec = "/v1/buckets/b/collections/c/records";
// Bodies are always read, so that connections go back to the pool.
async function status(url, opts) { const r = await fetch(url, opts); await r.text(); return r.status; }
let csrf = "";
async function login() {
  const r = await fetch("/v1/account/session", {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({data: {username: "rosa", password: "rosa-pw"}})});
  const body = await r.json();
  csrf = body.data ? body.data.csrf_token : "";
  return r.status;
}
async function count() {
  const r = await fetch(rec);
  if (r.status !== 200) { await r.text(); return -r.status; }
  return (await r.json()).data.length;
}
window.login = login;
window.count = count;
// A change stream with the session cookie: catch-up, ready, then a live
// write of the page's own.
window.followFlow = () => new Promise(async (resolve) => {
  const got = []; // the session of the last login() is still open
  const es = new EventSource(rec + "?_since=0");
  const done = (why) => { es.close(); resolve({got, why}); };
  for (const k of ["create", "update", "delete"]) {
    es.addEventListener(k, (e) => {
      got.push(k + ":" + JSON.parse(e.data).data.id);
      if (got.includes("create:live")) done("ok");
    });
  }
  es.addEventListener("ready", async () => {
    got.push("ready");
    await status(rec + "/live", {method: "PUT", headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify({data: {}})});
  });
  setTimeout(() => done("timeout"), 15000);
});
window.runFlow = async () => {
  const out = {};
  out.login = await login();
  out.cookieVisibleToJS = document.cookie.includes("nimbus_session");
  out.csrfToken = csrf.length === 43;
  out.read = await status(rec + "/r");
  out.writeWithoutCSRF = await status(rec, {method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"});
  out.write = await status(rec, {method: "POST", headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
    body: JSON.stringify({data: {from: "browser"}})});
  out.check = await status("/v1/account/session");
  out.logout = await status("/v1/account/session", {method: "DELETE"});
  out.afterLogout = await status("/v1/account/session");
  return out;
};
</script>`

const evilPage = `<!doctype html><meta charset="utf-8"><title>evil</title><script>
window.attack = async (target) => {
  const out = {};
  const url = target + "/v1/buckets/b/collections/c/records";
  try {
    const r = await fetch(url, {method: "POST", credentials: "include", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({data: {from: "evil"}})});
    await r.text();
    out.json = r.status;
  } catch (e) { out.json = "blocked"; }
  try {
    await fetch(url, {method: "POST", mode: "no-cors", credentials: "include", headers: {"Content-Type": "text/plain"},
      body: JSON.stringify({data: {from: "evil"}})});
    out.simple = "sent";
  } catch (e) { out.simple = "blocked"; }
  try {
    await fetch(url, {method: "POST", mode: "no-cors", credentials: "include", body: JSON.stringify({data: {from: "evil"}})});
    out.bare = "sent";
  } catch (e) { out.bare = "blocked"; }
  return out;
};
</script>`

// needBrowser and runBrowser are apitest's.
var (
	needBrowser = apitest.NeedBrowser
	runBrowser  = apitest.RunBrowser
)

// TestBrowserSessions runs a cookie-session flow and a cross-origin attack
// in headless Chromium. It needs /usr/bin/chromium and playwright-core:
// NIMBUS_BROWSER_JS names a folder whose node_modules holds it (.ci/run
// installs both). CI sets NIMBUS_REQUIRE_BROWSER=1.
func TestBrowserSessions(t *testing.T) {
	needBrowser(t)
	s := server(t, map[string]string{"bucket_create_principals": "system.Authenticated", "includes": "accounts changes"})
	signup(t, s, "rosa", "rosa-pw")
	rosa := basic("rosa", "rosa-pw")
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: rosa, Body: `{}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: rosa, Body: `{}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c/records/r", Auth: rosa, Body: `{}`}).Expect(t, 201, 0)
	page := func(html string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write([]byte(html))
		})
	}
	mux := http.NewServeMux()
	mux.Handle("/page.html", page(appPage))
	mux.Handle("/", s.App)
	app := httptest.NewServer(mux)
	defer app.Close()
	evil := httptest.NewServer(page(evilPage))
	defer evil.Close()
	// the evil page is served from "localhost" so that it is another origin
	evilURL := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)
	last, out := runBrowser(t, "testdata/browser.js", app.URL, evilURL)
	var rep struct {
		App     map[string]any `json:"app"`
		Relogin float64        `json:"relogin"`
		Evil    map[string]any `json:"evil"`
		After   float64        `json:"after"`
		Follow  struct {
			Got []string `json:"got"`
			Why string   `json:"why"`
		} `json:"follow"`
	}
	if err := json.Unmarshal([]byte(last), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	want := map[string]any{"login": 201.0, "cookieVisibleToJS": false, "csrfToken": true, "read": 200.0, "writeWithoutCSRF": 403.0,
		"write": 201.0, "check": 200.0, "logout": 200.0, "afterLogout": 401.0}
	for k, v := range want {
		if rep.App[k] != v {
			t.Errorf("app flow %s = %v, want %v (report %v)", k, rep.App[k], v, rep.App)
		}
	}
	if rep.Relogin != 201 {
		t.Errorf("relogin %v", rep.Relogin)
	}
	if rep.Evil["json"] == 201.0 || rep.Evil["json"] == 200.0 {
		t.Errorf("a foreign origin wrote with the cookie: %v", rep.Evil)
	}
	if f := rep.Follow; f.Why != "ok" || len(f.Got) != 4 || f.Got[0] != "create:r" || f.Got[2] != "ready" || f.Got[3] != "create:live" {
		t.Errorf("EventSource with the session cookie: %+v", f)
	}
	if rep.After != 2 {
		t.Errorf("records after the attack: %v (want the seed and the browser's own write); evil %v", rep.After, rep.Evil)
	}
}
