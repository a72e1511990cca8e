package accounts_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestBodiesNeedAContentType: an unsafe request with a body and no
// Content-Type is refused with 415 before anything runs (security
// review, row 6), on every kind of endpoint; an empty body still needs
// none, and batch sub-requests need none either.
func TestBodiesNeedAContentType(t *testing.T) {
	s := server(t, map[string]string{"includes": "accounts default_bucket", "bucket_create_principals": "system.Authenticated",
		"multiauth.policies": "account basicauth"})
	signup(t, s, "carol", "carol-pw")
	carol := basic("carol", "carol-pw")
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: carol, Body: `{}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: carol, Body: `{}`}).Expect(t, 201, 0)
	noType := map[string]string{"Content-Type": ""}
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/v1/batch", `{"requests":[{"method":"PUT","path":"/buckets/b/collections/c/records/x","body":{"data":{}}}]}`},
		{"POST", "/v1/buckets/b/collections/c/records", `{"data":{"x":1}}`},
		{"PUT", "/v1/buckets/b/collections/c/records/y", `{"data":{"x":1}}`},
		{"PATCH", "/v1/buckets/b", `{"data":{"x":1}}`},
		{"POST", "/v1/account/session", `{"data":{"username":"carol","password":"carol-pw"}}`},
		{"POST", "/v1/account/tokens", `{"data":{}}`},
		{"PUT", "/v1/accounts/newcomer", `{"data":{"password":"newcomer-pw"}}`},
		{"POST", "/v1/buckets/default/collections/d/records", `{"data":{}}`},
		{"DELETE", "/v1/buckets/b/collections/c/records", `{"data":{}}`},
	} {
		r := s.Do(R{Method: c.method, Path: c.path, Auth: carol, Body: c.body, Headers: noType}).Expect(t, 415, 107)
		if r.Body["details"] == nil || !strings.Contains(string(r.Raw), "Content-Type") {
			t.Errorf("%s %s: %s", c.method, c.path, r.Raw)
		}
	}
	for _, path := range []string{"/v1/buckets/b/collections/c/records", "/v1/buckets/default/collections/d/records"} {
		if ids := s.Do(R{Method: "GET", Path: path, Auth: carol}).Expect(t, 200, 0).IDs(); len(ids) != 0 {
			t.Errorf("%s: a refused request wrote %v", path, ids)
		}
	}
	if who := whoami(s, basic("newcomer", "newcomer-pw")); who == "account:newcomer" {
		t.Error("a refused sign-up created the account")
	}
	// An empty body needs no type; a declared one is accepted.
	s.Do(R{Method: "POST", Path: "/v1/buckets/b/collections/c/records", Auth: carol, Headers: noType}).Expect(t, 201, 0)
	s.Do(R{Method: "POST", Path: "/v1/batch", Auth: carol,
		Body: `{"requests":[{"method":"PUT","path":"/buckets/b/collections/c/records/z","body":{"data":{}}}]}`}).Expect(t, 200, 0)
	s.Do(R{Method: "GET", Path: "/v1/buckets/b/collections/c/records/z", Auth: carol}).Expect(t, 200, 0)
}

// TestSessionLoginChecksOrigin: a login from a page of another origin
// does not start a session (login CSRF, security review row 6).
func TestSessionLoginChecksOrigin(t *testing.T) {
	s := server(t, map[string]string{"cors_origins": "https://app.example"})
	signup(t, s, "mallory", "mallory-pw")
	body := `{"data":{"username":"mallory","password":"mallory-pw"}}`
	for _, c := range []struct {
		origin string
		status int
	}{{"http://127.0.0.1:1", 403}, {"https://evil.example", 403}, {"https://app.example", 201}, {s.URL, 201}, {"", 201}} {
		r := s.Do(R{Method: "POST", Path: "/v1/account/session", Body: body, Headers: map[string]string{"Origin": c.origin}})
		if r.Status != c.status {
			t.Errorf("login from %q: %d, want %d (%s)", c.origin, r.Status, c.status, r.Raw)
		}
		if c.status == 403 && len(r.Header.Values("Set-Cookie")) > 0 {
			t.Errorf("login from %q set cookies", c.origin)
		}
	}
}

// TestBrowserCachedBasicCSRF reproduces the attack as it was found: the
// browser holds Basic credentials for Nimbus's origin, and a same-site
// page sends a batch, a record and a session login with bodies that
// carry no Content-Type (fetch "no-cors" with a Blob). Nothing may be
// written and no session may start. Needs Chromium as TestBrowserSessions.
func TestBrowserCachedBasicCSRF(t *testing.T) {
	needBrowser(t)
	s := server(t, map[string]string{"bucket_create_principals": "system.Authenticated"})
	signup(t, s, "carol", "carol-pw")
	signup(t, s, "mallory", "mallory-pw")
	carol := basic("carol", "carol-pw")
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: carol, Body: `{}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: carol, Body: `{}`}).Expect(t, 201, 0)
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!doctype html><meta charset="utf-8"><title>same site</title>`))
	}))
	defer evil.Close()
	last, out := runBrowser(t, "testdata/basic-csrf.js", s.URL, evil.URL, "carol", "carol-pw")
	var rep struct {
		Visit   float64           `json:"visit"`
		Attack  map[string]string `json:"attack"`
		Cookies []string          `json:"cookies"`
	}
	if err := json.Unmarshal([]byte(last), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	if rep.Visit != 200 || rep.Attack["login"] != "sent" {
		t.Fatalf("the browser did not hold the credentials or did not send the attack: %+v\n%s", rep, out)
	}
	if ids := s.Do(R{Method: "GET", Path: "/v1/buckets/b/collections/c/records", Auth: carol}).Expect(t, 200, 0).IDs(); len(ids) != 0 {
		t.Errorf("the same-site page wrote as carol: %v", ids)
	}
	for _, c := range rep.Cookies {
		if c == "nimbus_session" {
			t.Errorf("the same-site page signed the browser in: cookies %v", rep.Cookies)
		}
	}
}

// TestSessionImpliedWritesNeedCSRF: a GET through the default bucket with
// only a session cookie (another site's link: SameSite=Lax sends the
// cookie) creates nothing; with the CSRF token it creates the personal
// bucket and collection (security review, row 16).
func TestSessionImpliedWritesNeedCSRF(t *testing.T) {
	s := server(t, map[string]string{"includes": "accounts default_bucket", "bucket_create_principals": "system.Authenticated"})
	signup(t, s, "rosa", "rosa-pw")
	in := s.Do(R{Method: "POST", Path: "/v1/account/session", Body: `{"data":{"username":"rosa","password":"rosa-pw"}}`}).Expect(t, 201, 0)
	sid, csrf := sessionCookie(in)
	cookie := "nimbus_session=" + sid
	path := "/v1/buckets/default/collections/notes/records"
	s.Do(R{Method: "GET", Path: path, Headers: map[string]string{"Cookie": cookie}}).Expect(t, 403, 121)
	s.Do(R{Method: "GET", Path: path, Headers: map[string]string{"Cookie": cookie, "X-CSRF-Token": "wrong"}}).Expect(t, 403, 121)
	rosa := basic("rosa", "rosa-pw")
	if ids := s.Do(R{Method: "GET", Path: "/v1/buckets", Auth: rosa}).Expect(t, 200, 0).IDs(); len(ids) != 0 {
		t.Fatalf("a GET with only the cookie created %v", ids)
	}
	s.Do(R{Method: "GET", Path: path, Headers: map[string]string{"Cookie": cookie, "X-CSRF-Token": csrf}}).Expect(t, 200, 0)
	// Once they exist, reading through the alias needs no token.
	s.Do(R{Method: "GET", Path: path, Headers: map[string]string{"Cookie": cookie}}).Expect(t, 200, 0)
	// Basic credentials are not a cookie: no token needed.
	s.Do(R{Method: "GET", Path: "/v1/buckets/default/collections/other/records", Auth: rosa}).Expect(t, 200, 0)
}
