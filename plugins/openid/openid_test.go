package openid_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	opstorage "github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

// jwtStorage is zitadel's example provider storage whose clients get JWT
// access tokens (the audience check needs one).
type jwtStorage struct{ *opstorage.Storage }

type jwtClient struct{ op.Client }

func (jwtClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }

func (s jwtStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return jwtClient{c}, nil
}

// provider is a real OpenID Connect provider (zitadel/oidc's op package
// with its example storage and login page) on a loopback port.
type provider struct {
	issuer  string
	storage *opstorage.Storage
	srv     *httptest.Server
}

// registerOnce guards the example storage's client table (a package
// variable of zitadel's example).
var registerOnce sync.Mutex

func startProvider(t *testing.T) *provider {
	t.Helper()
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	st := opstorage.NewStorage(opstorage.NewUserStore(srv.URL))
	h = exampleop.SetupServer(srv.URL, jwtStorage{st}, nil, false)
	return &provider{issuer: srv.URL, storage: st, srv: srv}
}

// server starts a provider, then Nimbus with one OpenID policy ("op") on
// it, then registers Nimbus at the provider with its token URL as
// redirect URI.
func server(t *testing.T, extra map[string]string) (*apitest.Server, *provider) {
	t.Helper()
	p := startProvider(t)
	settings := map[string]string{"includes": "openid", "multiauth.policies": "op basicauth",
		"multiauth.policy.op.use": "kinto.plugins.openid.OpenIDConnectPolicy", "multiauth.policy.op.issuer": p.issuer,
		"multiauth.policy.op.client_id": "nimbus", "multiauth.policy.op.client_secret": "nimbus-secret"}
	for k, v := range extra {
		settings[k] = v
	}
	s := apitest.New(t, settings)
	registerOnce.Lock()
	opstorage.RegisterClients(opstorage.WebClient("nimbus", "nimbus-secret", s.URL+"/v1/openid/op/token"))
	registerOnce.Unlock()
	return s, p
}

// TestMain quiets the example provider's request log.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(m.Run())
}

// login drives the authorization code flow as Kinto Admin does: /login
// on Nimbus, the provider's login form, the provider's redirect to
// Nimbus's /token, Nimbus's redirect to the callback with the base64
// token answer. It returns the decoded answer.
func login(t *testing.T, s *apitest.Server, p *provider, user string) map[string]any {
	t.Helper()
	const callback = "http://app.invalid/#auth/op/tokens/"
	jar, _ := cookiejar.New(nil)
	var final *url.URL
	client := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Host == "app.invalid" {
			final = req.URL
			return http.ErrUseLastResponse
		}
		return nil
	}}
	start := s.URL + "/v1/openid/op/login?" + url.Values{"callback": {callback}, "scope": {"openid email profile"}}.Encode()
	res, err := client.Get(start)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	// The provider's login page: its form posts the user and the request id.
	id := res.Request.URL.Query().Get("authRequestID")
	if id == "" {
		t.Fatalf("no provider login page reached: %s (%d)", res.Request.URL, res.StatusCode)
	}
	res, err = client.PostForm(p.issuer+"/login/username", url.Values{"username": {user}, "password": {"verysecure"}, "id": {id}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if final == nil {
		t.Fatalf("the flow did not reach the callback: %s %d", res.Request.URL, res.StatusCode)
	}
	full := final.String()
	if !strings.HasPrefix(full, callback) {
		t.Fatalf("callback %s", full)
	}
	encoded, err := url.PathUnescape(strings.TrimPrefix(full, callback))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		t.Fatalf("callback payload %q: %v", encoded, err)
	}
	var tokens map[string]any
	if err := json.Unmarshal(raw, &tokens); err != nil || tokens["access_token"] == nil {
		t.Fatalf("token answer %s", raw)
	}
	return tokens
}

func bearer(tok string) string { return "Bearer " + tok }

// TestAuthorizationCodeFlow: the login dance through Nimbus gives an
// access token the provider's userinfo accepts; Nimbus names the user
// <policy>:<sub>, shows the profile, and the token works as any
// credential (a bucket created, its ACL naming the user). The state is
// used once.
func TestAuthorizationCodeFlow(t *testing.T) {
	s, p := server(t, nil)
	root := s.Do(apitest.Req{Method: "GET", Path: "/v1/"}).Expect(t, 200, 0)
	caps := root.Body["capabilities"].(map[string]any)["openid"].(map[string]any)
	prov := caps["providers"].([]any)[0].(map[string]any)
	if prov["name"] != "op" || prov["issuer"] != p.issuer || prov["auth_path"] != "/openid/op/login" ||
		prov["client_id"] != "nimbus" || !strings.HasPrefix(prov["userinfo_endpoint"].(string), p.issuer) {
		t.Fatalf("capability %v", caps)
	}
	tokens := login(t, s, p, "test-user2")
	tok := tokens["access_token"].(string)
	me := s.Do(apitest.Req{Method: "GET", Path: "/v1/", Auth: bearer(tok)}).Expect(t, 200, 0)
	user := me.Body["user"].(map[string]any)
	if user["id"] != "op:id2" {
		t.Fatalf("user %v", user)
	}
	if profile := user["profile"].(map[string]any); profile["email"] != "test-user2@zitadel.ch" {
		t.Fatalf("profile %v", profile)
	}
	b := s.Do(apitest.Req{Method: "PUT", Path: "/v1/buckets/oidc", Auth: bearer(tok), Body: `{}`}).Expect(t, 201, 0)
	if w := b.Body["permissions"].(map[string]any)["write"].([]any); len(w) != 1 || w[0] != "op:id2" {
		t.Fatalf("bucket writers %v", w)
	}
	// Cached: the provider down, the token still works (sliding TTL).
	p.srv.Close()
	s.Do(apitest.Req{Method: "GET", Path: "/v1/buckets/oidc", Auth: bearer(tok)}).Expect(t, 200, 0)
	// Other users' profiles are empty.
	other := s.Do(apitest.Req{Method: "GET", Path: "/v1/", Auth: apitest.Basic("u", "p")}).Expect(t, 200, 0)
	if pr, _ := other.Body["user"].(map[string]any)["profile"].(map[string]any); len(pr) != 0 {
		t.Fatalf("a Basic user's profile: %v", pr)
	}
}

// TestRefusedTokens: what the provider refuses is a 401 with the
// policy's challenge; nothing that is not this policy's reaches the
// provider.
func TestRefusedTokens(t *testing.T) {
	s, p := server(t, nil)
	tokens := login(t, s, p, "test-user2")
	tok := tokens["access_token"].(string)
	// Revoked at the provider before Nimbus saw it.
	form := url.Values{"token": {tok}, "client_id": {"nimbus"}, "client_secret": {"nimbus-secret"}}
	req, _ := http.NewRequest("POST", p.issuer+"/revoke", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("nimbus", "nimbus-secret")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Fatalf("revocation: %v %v", err, res)
	}
	cases := []struct {
		name, auth string
	}{
		{"revoked", bearer(tok)},
		{"garbage", bearer("not-a-token")},
		{"scheme in another case", "bEaReR not-a-token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.Do(apitest.Req{Method: "GET", Path: "/v1/buckets", Auth: c.auth}).Expect(t, 401, 104)
			// One challenge per policy ("op basicauth"), as Kinto sends them.
			if got := r.Header.Values("WWW-Authenticate"); !slices.Equal(got, []string{`Bearer realm="Realm"`, `Basic realm="Realm"`}) {
				t.Errorf("challenges %q", got)
			}
		})
	}
	// A Nimbus token is never this policy's: anonymous here, not refused.
	r := s.Do(apitest.Req{Method: "GET", Path: "/v1/", Auth: bearer("nbt_something")}).Expect(t, 200, 0)
	if r.Body["user"] != nil {
		t.Errorf("a Nimbus token authenticated through OpenID: %v", r.Body["user"])
	}
}

// TestAudience: with an audience set, the token must be a JWT signed by
// the provider, for that audience and unexpired; the provider's own JWT
// access tokens pass, others never reach userinfo.
func TestAudience(t *testing.T) {
	for _, c := range []struct {
		audience string
		status   int
	}{{"nimbus", 200}, {"someone-else", 401}} {
		t.Run(c.audience, func(t *testing.T) {
			s, p := server(t, map[string]string{"multiauth.policy.op.audience": c.audience})
			tok := login(t, s, p, "test-user2")["access_token"].(string)
			r := s.Do(apitest.Req{Method: "GET", Path: "/v1/buckets", Auth: bearer(tok)})
			if r.Status != c.status {
				t.Fatalf("audience %s: %d %s", c.audience, r.Status, r.Raw)
			}
			if c.status != 200 {
				return
			}
			// An expired token signed with the provider's own key.
			key, err := p.storage.SigningKey(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			signer, err := jose.NewSigner(jose.SigningKey{Algorithm: key.SignatureAlgorithm(), Key: jose.JSONWebKey{Key: key.Key(), KeyID: key.ID()}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			past := time.Now().Add(-time.Hour)
			expired, err := jwt.Signed(signer).Claims(jwt.Claims{Issuer: p.issuer, Subject: "id2", Audience: jwt.Audience{"nimbus"},
				Expiry: jwt.NewNumericDate(past), IssuedAt: jwt.NewNumericDate(past.Add(-time.Hour))}).Serialize()
			if err != nil {
				t.Fatal(err)
			}
			s.Do(apitest.Req{Method: "GET", Path: "/v1/buckets", Auth: bearer(expired)}).Expect(t, 401, 104)
		})
	}
}
