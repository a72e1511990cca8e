package openid_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

// TestUserinfoAnswers: a token is checked by the userinfo endpoint's
// answer as Kinto reads it: any content type holding a JSON object, a
// user id field that is a string or a number (a provider whose id is
// numeric), anything else refused (401), the provider's failure too.
func TestUserinfoAnswers(t *testing.T) {
	var issuer string
	answers := map[string]struct {
		status int
		ctype  string
		body   string
	}{
		"text":     {200, "application/json", `{"sub": "alice", "email": "a@example.com"}`},
		"number":   {200, "application/json", `{"sub": 12345}`},
		"big":      {200, "application/json", `{"sub": 9007199254740993}`},
		"float":    {200, "application/json", `{"sub": 2.50}`},
		"tiny":     {200, "application/json", `{"sub": 1e-7}`},
		"as-html":  {200, "text/html", `{"sub": "carol"}`},
		"empty":    {200, "application/json", `{"sub": ""}`},
		"no-sub":   {200, "application/json", `{"email": "x@example.com"}`},
		"bool":     {200, "application/json", `{"sub": true}`},
		"list":     {200, "application/json", `[{"sub": "x"}]`},
		"not-json": {200, "text/html", `<html>`},
		"refused":  {401, "application/json", `{"error": "invalid_token"}`},
		"failing":  {500, "text/plain", `oops`},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			json.NewEncoder(w).Encode(map[string]string{"issuer": issuer, "authorization_endpoint": issuer + "/authorize",
				"token_endpoint": issuer + "/token", "userinfo_endpoint": issuer + "/userinfo", "jwks_uri": issuer + "/jwks"})
		case "/userinfo":
			a, ok := answers[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
			if !ok {
				a.status = 401
			}
			w.Header().Set("Content-Type", a.ctype)
			w.WriteHeader(a.status)
			w.Write([]byte(a.body))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	issuer = srv.URL
	s := apitest.New(t, map[string]string{"includes": "openid", "multiauth.policies": "op",
		"multiauth.policy.op.use": "kinto.plugins.openid.OpenIDConnectPolicy", "multiauth.policy.op.issuer": issuer,
		"multiauth.policy.op.client_id": "nimbus"})
	cases := []struct{ token, user string }{
		{"text", "op:alice"},
		{"number", "op:12345"},
		{"big", "op:9007199254740993"},
		{"float", "op:2.5"},
		{"tiny", "op:1e-07"},
		{"as-html", "op:carol"},
		{"empty", ""}, {"no-sub", ""}, {"bool", ""}, {"list", ""}, {"not-json", ""}, {"refused", ""}, {"failing", ""},
	}
	for _, c := range cases {
		t.Run(c.token, func(t *testing.T) {
			if c.user == "" {
				s.Do(apitest.Req{Method: "GET", Path: "/v1/buckets", Auth: "Bearer " + c.token}).Expect(t, 401, 104)
				return
			}
			r := s.Do(apitest.Req{Method: "GET", Path: "/v1/", Auth: "Bearer " + c.token}).Expect(t, 200, 0)
			user, _ := r.Body["user"].(map[string]any)
			if user == nil || user["id"] != c.user {
				t.Errorf("user %v, want %s", r.Body["user"], c.user)
			}
		})
	}
}
