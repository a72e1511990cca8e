package openid_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	opstorage "github.com/zitadel/oidc/v3/example/server/storage"

	"github.com/nimbus-server/nimbus/config"
	"github.com/nimbus-server/nimbus/plugins"
	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/storage/memory"
)

// TestLoginRequests: /login refuses what Kinto refuses (400 errno 107)
// and otherwise sends the browser to the provider's authorization
// endpoint with the client, scope, redirect URI, a fresh state and the
// optional prompt and audience.
func TestLoginRequests(t *testing.T) {
	s, p := server(t, map[string]string{"multiauth.policy.op.userid_field": "email", "multiauth.policy.op.audience": "nimbus"})
	ok := url.Values{"callback": {"http://app.invalid/#cb/"}, "scope": {"openid email"}}
	with := func(k, v string) url.Values {
		q := url.Values{}
		for a, b := range ok {
			q[a] = b
		}
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
		return q
	}
	cases := []struct {
		name, provider string
		query          url.Values
		status, errno  int
	}{
		{"unknown provider", "nope", ok, 400, 107},
		{"no callback", "op", with("callback", ""), 400, 107},
		{"relative callback", "op", with("callback", "/relative"), 400, 107},
		{"javascript callback", "op", with("callback", "javascript:alert(1)"), 400, 107},
		{"long callback", "op", with("callback", "http://a.invalid/"+strings.Repeat("x", 2048)), 400, 107},
		{"no scope", "op", with("scope", ""), 400, 107},
		{"scope without email", "op", with("scope", "openid"), 400, 107},
		{"prompt other than none", "op", with("prompt", "login"), 400, 107},
		{"good", "op", ok, 307, 0},
		{"prompt none", "op", with("prompt", "none"), 307, 0},
	}
	states := map[string]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.Do(apitest.Req{Method: "GET", Path: "/v1/openid/" + c.provider + "/login?" + c.query.Encode()}).Expect(t, c.status, c.errno)
			if c.status != 307 {
				return
			}
			loc, err := url.Parse(r.Header.Get("Location"))
			if err != nil || !strings.HasPrefix(loc.String(), p.issuer+"/auth?") {
				t.Fatalf("Location %s", r.Header.Get("Location"))
			}
			q := loc.Query()
			if q.Get("client_id") != "nimbus" || q.Get("response_type") != "code" || q.Get("scope") != c.query.Get("scope") ||
				q.Get("redirect_uri") != s.URL+"/v1/openid/op/token" || q.Get("audience") != "nimbus" || q.Get("prompt") != c.query.Get("prompt") {
				t.Errorf("parameters %v", q)
			}
			if st := q.Get("state"); len(st) != 64 || states[st] {
				t.Errorf("state %q (length, or not fresh)", st)
			} else {
				states[st] = true
			}
		})
	}
	// The token endpoint: a state nobody was given, and a missing code.
	s.Do(apitest.Req{Method: "GET", Path: "/v1/openid/op/token?code=x&state=unknown"}).Expect(t, 400, 107)
	s.Do(apitest.Req{Method: "GET", Path: "/v1/openid/op/token?state=unknown"}).Expect(t, 400, 107)
	s.Do(apitest.Req{Method: "GET", Path: "/v1/openid/nope/token?code=x&state=y"}).Expect(t, 400, 107)
}

// TestStateIsUsedOnce: a state given by /login goes through /token once;
// a second use is refused (400 "Invalid state") before the provider is
// asked anything.
func TestStateIsUsedOnce(t *testing.T) {
	s, _ := server(t, nil)
	r := s.Do(apitest.Req{Method: "GET", Path: "/v1/openid/op/login?callback=http://app.invalid/%23x&scope=openid"}).Expect(t, 307, 0)
	loc, _ := url.Parse(r.Header.Get("Location"))
	state := loc.Query().Get("state")
	first := s.Do(apitest.Req{Method: "GET", Path: "/v1/openid/op/token?code=bad-code&state=" + state})
	if first.Status != 307 || !strings.HasPrefix(first.Header.Get("Location"), "http://app.invalid/#x") {
		// The provider's refusal of the code is forwarded to the callback.
		t.Fatalf("first use: %d %v", first.Status, first.Header)
	}
	again := s.Do(apitest.Req{Method: "GET", Path: "/v1/openid/op/token?code=bad-code&state=" + state}).Expect(t, 400, 107)
	if !strings.Contains(again.Body["message"].(string), "Invalid state") {
		t.Errorf("message %v", again.Body["message"])
	}
}

// TestProviderDown: Nimbus starts while its provider is unreachable; the
// heartbeat says so, bearer requests get a 401 at once and logins a 503;
// once the provider answers, everything works without a restart.
func TestProviderDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there yet
	s := apitest.New(t, map[string]string{"includes": "openid", "multiauth.policies": "op",
		"multiauth.policy.op.use": "openid", "multiauth.policy.op.issuer": issuer,
		"multiauth.policy.op.client_id": "nimbus", "multiauth.policy.op.client_secret": "nimbus-secret"})
	hb := s.Do(apitest.Req{Method: "GET", Path: "/v1/__heartbeat__"})
	if hb.Status != 503 || hb.Body["openid"] != false {
		t.Fatalf("heartbeat with the provider down: %d %s", hb.Status, hb.Raw)
	}
	s.Do(apitest.Req{Method: "GET", Path: "/v1/buckets", Auth: bearer("some-token")}).Expect(t, 401, 104)
	s.Do(apitest.Req{Method: "GET", Path: "/v1/openid/op/login?callback=http://app.invalid/&scope=openid"}).Expect(t, 503, 201)

	// The provider comes up on its address.
	ln, err = net.Listen("tcp", strings.TrimPrefix(issuer, "http://"))
	if err != nil {
		t.Skipf("the provider's port was taken meanwhile: %v", err)
	}
	st := opstorage.NewStorage(opstorage.NewUserStore(issuer))
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: exampleop.SetupServer(issuer, jwtStorage{st}, nil, false)}}
	srv.Start()
	defer srv.Close()
	p := &provider{issuer: issuer, storage: st, srv: srv}
	registerOnce.Lock()
	opstorage.RegisterClients(opstorage.WebClient("nimbus", "nimbus-secret", s.URL+"/v1/openid/op/token"))
	registerOnce.Unlock()
	tok := login(t, s, p, "test-user2")["access_token"].(string)
	s.Do(apitest.Req{Method: "GET", Path: "/v1/buckets", Auth: bearer(tok)}).Expect(t, 200, 0)
	if hb := s.Do(apitest.Req{Method: "GET", Path: "/v1/__heartbeat__"}); hb.Body["openid"] != true {
		t.Fatalf("heartbeat with the provider up: %s", hb.Raw)
	}
}

// TestCallbackOrigins: with callback_origins set, a login sends its token
// only to those origins or the server's own (a link naming another site
// as callback would hand it the token of whoever follows it); without
// it, any absolute URL, as in Kinto. An origin that is not one is a
// start error.
func TestCallbackOrigins(t *testing.T) {
	open, _ := server(t, nil)
	guarded, _ := server(t, map[string]string{"multiauth.policy.op.callback_origins": "https://app.example http://localhost:3000"})
	for _, c := range []struct {
		name     string
		s        *apitest.Server
		callback string
		status   int
	}{
		{"any site, without the setting", open, "http://evil.invalid/#cb", 307},
		{"a listed origin", guarded, "https://app.example/#auth/", 307},
		{"a listed origin with its port", guarded, "http://localhost:3000/admin/#auth/", 307},
		{"the same host on another port", guarded, "http://localhost:3001/#auth/", 400},
		{"the server's own origin", guarded, guarded.URL + "/v1/admin/#auth/", 307},
		{"another site", guarded, "http://evil.invalid/#cb", 400},
		{"a listed host over another scheme", guarded, "http://app.example/#auth/", 400},
		{"a listed origin with its default port", guarded, "https://APP.example:443/#auth/", 307},
		{"a listed origin's name inside another host", guarded, "https://app.example.evil.invalid/#cb", 400},
		{"a listed origin as user name", guarded, "https://app.example@evil.invalid/#cb", 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := url.Values{"callback": {c.callback}, "scope": {"openid"}}
			c.s.Do(apitest.Req{Method: "GET", Path: "/v1/openid/op/login?" + q.Encode()}).Expect(t, c.status, map[int]int{307: 0, 400: 107}[c.status])
		})
	}
	for _, bad := range []string{"app.example", "https://app.example/path", "ftp://app.example", "https://"} {
		settings := map[string]string{"includes": "openid", "multiauth.policies": "op",
			"multiauth.policy.op.use": "openid", "multiauth.policy.op.issuer": "http://127.0.0.1:1",
			"multiauth.policy.op.client_id": "nimbus", "multiauth.policy.op.callback_origins": bad}
		if _, err := plugins.NewApp(config.New(settings), memory.New(), nil, nil); err == nil || !strings.Contains(err.Error(), "callback_origins") {
			t.Errorf("callback_origins = %q: start error %v", bad, err)
		}
	}
}
