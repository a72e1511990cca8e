package accounts_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/storage"
)

func login(t *testing.T, s *apitest.Server, body string) map[string]any {
	t.Helper()
	return s.Do(R{Method: "POST", Path: "/v1/account/tokens", Body: body}).Expect(t, 201, 0).Data()
}

func bearer(tok map[string]any) string { return "Bearer " + tok["token"].(string) }

func num(v any) int64 {
	n, _ := storage.Int(v)
	return n
}

func TestMeAndTokens(t *testing.T) {
	s := server(t, nil)
	signup(t, s, "rosa", "rosa-pw")
	s.Do(R{Method: "GET", Path: "/v1/account"}).Expect(t, 401, 104)
	me := s.Do(R{Method: "GET", Path: "/v1/account", Auth: basic("rosa", "rosa-pw")}).Expect(t, 200, 0).Data()
	if me["id"] != "rosa" || me["user_id"] != "account:rosa" || me["auth_method"] != "basic" || me["expires"] != nil {
		t.Errorf("me: %v", me)
	}
	s.Do(R{Method: "GET", Path: "/v1/account", Auth: basic("rosa", "wrong")}).Expect(t, 401, 104)

	tok := login(t, s, `{"data":{"username":"rosa","password":"rosa-pw","label":"cli","ttl_seconds":3600}}`)
	key := tok["key"].(string)
	if !strings.HasPrefix(key, "nbt_") || len(key) != 36 || len(tok["secret"].(string)) != 43 || tok["type"] != "Bearer" || tok["user_id"] != "account:rosa" {
		t.Fatalf("token: %v", tok)
	}
	if exp, created := num(tok["expires"]), num(tok["created"]); exp-created != 3600_000 {
		t.Errorf("ttl: %v", tok)
	}
	me = s.Do(R{Method: "GET", Path: "/v1/account", Auth: bearer(tok)}).Expect(t, 200, 0).Data()
	if me["auth_method"] != "token" || me["expires"] == nil || me["read_only"] != false {
		t.Errorf("me with a token: %v", me)
	}
	if whoami(s, bearer(tok)) != "account:rosa" {
		t.Error("token authenticates the root URL")
	}
	// Basic header instead of the body; ttl capped; bad inputs.
	capped := s.Do(R{Method: "POST", Path: "/v1/account/tokens", Auth: basic("rosa", "rosa-pw"), Body: `{"data":{"ttl_seconds":999999999}}`}).Expect(t, 201, 0).Data()
	if num(capped["expires"])-num(capped["created"]) != 2592000_000 {
		t.Errorf("ttl must be capped: %v", capped)
	}
	for _, bad := range []string{`{}`, `{"data":{"username":"rosa"}}`, `{"data":{"username":"rosa","password":"rosa-pw","ttl_seconds":0}}`,
		`{"data":{"username":"rosa","password":"rosa-pw","ttl_seconds":"60"}}`, `{"data":{"username":"rosa","password":"rosa-pw","ttl_seconds":1.5}}`,
		`{"data":{"username":"rosa","password":"rosa-pw","label":"` + strings.Repeat("x", 300) + `"}}`, `{"data":{"username":"rosa","password":"rosa-pw","read_only":"yes"}}`} {
		s.Do(R{Method: "POST", Path: "/v1/account/tokens", Body: bad}).Expect(t, 400, 107)
	}
	for _, bad := range []string{`{"data":{"username":"rosa","password":"nope"}}`, `{"data":{"username":"ghost","password":"x"}}`} {
		r := s.Do(R{Method: "POST", Path: "/v1/account/tokens", Body: bad}).Expect(t, 401, 105)
		if r.Body["message"] != "Invalid username or password." {
			t.Errorf("message %v", r.Body["message"])
		}
	}
	// listing marks the current token, never shows secrets
	l := s.Do(R{Method: "GET", Path: "/v1/account/tokens", Auth: bearer(tok)}).Expect(t, 200, 0)
	if len(l.Items()) != 2 || strings.Contains(string(l.Raw), tok["secret"].(string)) {
		t.Fatalf("list: %s", l.Raw)
	}
	for _, it := range l.Items() {
		if (it["key"] == key) != (it["current"] == true) {
			t.Errorf("current flag: %v", it)
		}
	}
	// malformed, forged and expired tokens leave the request anonymous
	for _, bad := range []string{"Bearer nbt_x.y", "Bearer " + key + "." + strings.Repeat("A", 43), "Bearer " + key} {
		if whoami(s, bad) != "" {
			t.Errorf("%q authenticated", bad)
		}
	}
	s.Backend.Update(context.Background(), func(tx storage.Tx) error {
		o, err := tx.Get(storage.Ref{Resource: "account_token"}, capped["key"].(string))
		if err != nil {
			return err
		}
		o["expires"] = time.Now().Add(-time.Minute).UnixMilli()
		delete(o, "last_modified")
		_, err = tx.Replace(storage.Ref{Resource: "account_token"}, o)
		return err
	})
	if whoami(s, bearer(capped)) != "" {
		t.Error("an expired token must not authenticate")
	}
	// revoke one (404 for unknown), logout with current (400 when not a token)
	other := login(t, s, `{"data":{"username":"rosa","password":"rosa-pw"}}`)
	s.Do(R{Method: "DELETE", Path: "/v1/account/tokens/nbt_unknown", Auth: bearer(tok)}).Expect(t, 404, 110)
	d := s.Do(R{Method: "DELETE", Path: "/v1/account/tokens/" + other["key"].(string), Auth: bearer(tok)}).Expect(t, 200, 0)
	if d.Data()["deleted"] != true || whoami(s, bearer(other)) != "" {
		t.Errorf("revoke: %s", d.Raw)
	}
	s.Do(R{Method: "DELETE", Path: "/v1/account/tokens/current", Auth: basic("rosa", "rosa-pw")}).Expect(t, 400, 107)
	cur := s.Do(R{Method: "DELETE", Path: "/v1/account/tokens/current", Auth: bearer(tok)}).Expect(t, 200, 0)
	if cur.Data()["key"] != key || whoami(s, bearer(tok)) != "" {
		t.Errorf("logout: %s", cur.Raw)
	}
	a, b := login(t, s, `{"data":{"username":"rosa","password":"rosa-pw"}}`), login(t, s, `{"data":{"username":"rosa","password":"rosa-pw"}}`)
	all := s.Do(R{Method: "DELETE", Path: "/v1/account/tokens", Auth: bearer(a)}).Expect(t, 200, 0)
	if len(all.Items()) < 2 || whoami(s, bearer(b)) != "" {
		t.Errorf("revoke all: %s", all.Raw)
	}
	// non-account users get 403 on account-only endpoints
	mixed := server(t, map[string]string{"multiauth.policies": "account basicauth"})
	mixed.Do(R{Method: "GET", Path: "/v1/account/tokens", Auth: basic("someone", "x")}).Expect(t, 403, 121)
	me = mixed.Do(R{Method: "GET", Path: "/v1/account", Auth: basic("someone", "x")}).Expect(t, 200, 0).Data()
	if me["id"] != nil || me["auth_method"] != "basicauth" {
		t.Errorf("me for basicauth: %v", me)
	}
}

func TestReadOnlyTokensAndPasswordChange(t *testing.T) {
	s := server(t, map[string]string{"bucket_create_principals": "system.Authenticated"})
	signup(t, s, "rosa", "rosa-pw")
	rosa := basic("rosa", "rosa-pw")
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: rosa, Body: `{}`}).Expect(t, 201, 0)
	ro := login(t, s, `{"data":{"username":"rosa","password":"rosa-pw","read_only":true}}`)
	s.Do(R{Method: "GET", Path: "/v1/buckets/b", Auth: bearer(ro)}).Expect(t, 200, 0)
	for _, m := range []string{"PUT", "PATCH", "DELETE", "POST"} {
		path := "/v1/buckets/b"
		if m == "POST" {
			path = "/v1/buckets"
		}
		s.Do(R{Method: m, Path: path, Auth: bearer(ro), Body: `{"data":{}}`}).Expect(t, 403, 121)
	}
	s.Do(R{Method: "PUT", Path: "/v1/account/password", Auth: bearer(ro), Body: `{"data":{"current_password":"rosa-pw","password":"x"}}`}).Expect(t, 403, 121)
	batch := s.Do(R{Method: "POST", Path: "/v1/batch", Auth: bearer(ro), Body: `{"requests":[{"path":"/buckets/b"},{"method":"PUT","path":"/buckets/b/collections/c"}]}`}).Expect(t, 200, 0)
	rs := batch.Body["responses"].([]any)
	if fmt.Sprint(rs[0].(map[string]any)["status"]) != "200" || fmt.Sprint(rs[1].(map[string]any)["status"]) != "403" {
		t.Errorf("read-only batch: %s", batch.Raw)
	}
	s.Do(R{Method: "DELETE", Path: "/v1/account/tokens/current", Auth: bearer(ro)}).Expect(t, 200, 0)

	// password change: wrong current, then success; other tokens revoked, the one in use kept
	keep := login(t, s, `{"data":{"username":"rosa","password":"rosa-pw"}}`)
	other := login(t, s, `{"data":{"username":"rosa","password":"rosa-pw"}}`)
	s.Do(R{Method: "PUT", Path: "/v1/account/password", Auth: bearer(keep), Body: `{"data":{"current_password":"nope","password":"new-pw"}}`}).Expect(t, 400, 107)
	s.Do(R{Method: "PUT", Path: "/v1/account/password", Auth: bearer(keep), Body: `{"data":{"current_password":"rosa-pw"}}`}).Expect(t, 400, 107)
	ok := s.Do(R{Method: "PUT", Path: "/v1/account/password", Auth: bearer(keep), Body: `{"data":{"current_password":"rosa-pw","password":"new-pw"}}`}).Expect(t, 200, 0)
	if ok.Data()["id"] != "rosa" || ok.Data()["last_modified"] == nil {
		t.Errorf("answer %s", ok.Raw)
	}
	if whoami(s, bearer(keep)) == "" || whoami(s, bearer(other)) != "" || whoami(s, rosa) != "" || whoami(s, basic("rosa", "new-pw")) == "" {
		t.Error("after a password change: the token in use stays, others and the old password fail")
	}
	// any password change (the Kinto way) also revokes tokens
	s.Do(R{Method: "PATCH", Path: "/v1/accounts/rosa", Auth: basic("rosa", "new-pw"), Body: `{"data":{"password":"third"}}`}).Expect(t, 200, 0)
	if whoami(s, bearer(keep)) != "" {
		t.Error("a password change through /accounts revokes tokens")
	}
	// account deletion revokes everything
	t2 := login(t, s, `{"data":{"username":"rosa","password":"third"}}`)
	s.Do(R{Method: "DELETE", Path: "/v1/account", Auth: bearer(t2)}).Expect(t, 200, 0)
	if whoami(s, bearer(t2)) != "" || whoami(s, basic("rosa", "third")) != "" {
		t.Error("deleting the account revokes its tokens")
	}
}

func TestEmbedCredentials(t *testing.T) {
	s := server(t, map[string]string{"bucket_create_principals": "system.Authenticated"})
	signup(t, s, "rosa", "rosa-pw")
	signup(t, s, "bob", "bob-pw")
	rosa := basic("rosa", "rosa-pw")
	for _, b := range []string{"blog", "other"} {
		s.Do(R{Method: "PUT", Path: "/v1/buckets/" + b, Auth: rosa, Body: `{}`}).Expect(t, 201, 0)
		s.Do(R{Method: "PUT", Path: "/v1/buckets/" + b + "/collections/c", Auth: rosa, Body: `{}`}).Expect(t, 201, 0)
		s.Do(R{Method: "PUT", Path: "/v1/buckets/" + b + "/collections/c/records/r", Auth: rosa, Body: `{"data":{"x":1}}`}).Expect(t, 201, 0)
	}
	s.Do(R{Method: "POST", Path: "/v1/account/embed-credentials", Auth: basic("bob", "bob-pw"), Body: `{"data":{"bucket":"blog"}}`}).Expect(t, 403, 121)
	s.Do(R{Method: "POST", Path: "/v1/account/embed-credentials", Auth: rosa, Body: `{"data":{}}`}).Expect(t, 400, 107)
	admin := server(t, map[string]string{"bucket_write_principals": "account:rosa"})
	signup(t, admin, "rosa", "rosa-pw")
	admin.Do(R{Method: "POST", Path: "/v1/account/embed-credentials", Auth: rosa, Body: `{"data":{"bucket":"ghost"}}`}).Expect(t, 404, 111)

	e := s.Do(R{Method: "POST", Path: "/v1/account/embed-credentials", Auth: rosa, Body: `{"data":{"bucket":"blog","label":"widget"}}`}).Expect(t, 201, 0).Data()
	if !strings.HasPrefix(e["key"].(string), "nbe_") || e["bucket"] != "blog" || e["expires"] != nil {
		t.Fatalf("embed: %v", e)
	}
	emb := bearer(e)
	root := s.Do(R{Method: "GET", Path: "/v1/", Auth: emb}).Expect(t, 200, 0)
	if sc := root.Body["user"].(map[string]any)["scope"].(map[string]any); sc["bucket"] != "blog" || sc["type"] != "embed" {
		t.Errorf("scope in root: %v", sc)
	}
	s.Do(R{Method: "GET", Path: "/v1/buckets/blog/collections/c/records/r", Auth: emb}).Expect(t, 200, 0)
	s.Do(R{Method: "GET", Path: "/v1/buckets/blog/collections/c/records", Auth: emb}).Expect(t, 200, 0)
	s.Do(R{Method: "GET", Path: "/v1/buckets/other/collections/c/records/r", Auth: emb}).Expect(t, 403, 121)
	s.Do(R{Method: "GET", Path: "/v1/buckets", Auth: emb}).Expect(t, 403, 121)
	s.Do(R{Method: "GET", Path: "/v1/accounts/rosa", Auth: emb}).Expect(t, 403, 121)
	s.Do(R{Method: "GET", Path: "/v1/account/tokens", Auth: emb}).Expect(t, 403, 121)
	if me := s.Do(R{Method: "GET", Path: "/v1/account", Auth: emb}).Expect(t, 200, 0).Data(); me["auth_method"] != "embed" || me["read_only"] != true || me["scope"] == nil {
		t.Errorf("me with embed: %v", me)
	}
	s.Do(R{Method: "PATCH", Path: "/v1/buckets/blog/collections/c/records/r", Auth: emb, Body: `{"data":{"x":2}}`}).Expect(t, 403, 121)
	batch := s.Do(R{Method: "POST", Path: "/v1/batch", Auth: emb, Body: `{"requests":[
		{"path":"/buckets/blog/collections/c/records/r"},{"path":"/buckets/other/collections/c/records/r"},
		{"method":"DELETE","path":"/buckets/blog/collections/c/records/r"}]}`}).Expect(t, 200, 0)
	var got []string
	for _, x := range batch.Body["responses"].([]any) {
		got = append(got, fmt.Sprint(x.(map[string]any)["status"]))
	}
	if strings.Join(got, " ") != "200 403 403" {
		t.Errorf("embed batch: %v", got)
	}
	// The same scope when the credential is a sub-request's own (checked
	// before the batch's transaction), in a batch sent anonymously.
	own := s.Do(R{Method: "POST", Path: "/v1/batch", Body: `{"defaults":{"headers":{"Authorization":"` + emb + `"}},"requests":[
		{"path":"/buckets/blog/collections/c/records/r"},{"path":"/buckets/other/collections/c/records/r"},
		{"method":"DELETE","path":"/buckets/blog/collections/c/records/r"}]}`}).Expect(t, 200, 0)
	got = nil
	for _, x := range own.Body["responses"].([]any) {
		got = append(got, fmt.Sprint(x.(map[string]any)["status"]))
	}
	if strings.Join(got, " ") != "200 403 403" {
		t.Errorf("embed credential of the sub-requests: %v", got)
	}
	// listing and filters, one, revoke (404 for others)
	l := s.Do(R{Method: "GET", Path: "/v1/account/embed-credentials?bucket=blog", Auth: rosa}).Expect(t, 200, 0)
	if len(l.Items()) != 1 || strings.Contains(string(l.Raw), e["secret"].(string)) {
		t.Errorf("list: %s", l.Raw)
	}
	s.Do(R{Method: "GET", Path: "/v1/account/embed-credentials/" + e["key"].(string), Auth: rosa}).Expect(t, 200, 0)
	s.Do(R{Method: "GET", Path: "/v1/account/embed-credentials/" + e["key"].(string), Auth: basic("bob", "bob-pw")}).Expect(t, 404, 110)
	s.Do(R{Method: "DELETE", Path: "/v1/account/embed-credentials/" + e["key"].(string), Auth: basic("bob", "bob-pw")}).Expect(t, 404, 110)
	// a password change does not revoke them; the bucket's deletion does
	s.Do(R{Method: "PUT", Path: "/v1/account/password", Auth: rosa, Body: `{"data":{"current_password":"rosa-pw","password":"new-pw"}}`}).Expect(t, 200, 0)
	if whoami(s, emb) == "" {
		t.Error("embed credentials survive a password change")
	}
	s.Do(R{Method: "DELETE", Path: "/v1/buckets/blog", Auth: basic("rosa", "new-pw")}).Expect(t, 200, 0)
	if whoami(s, emb) != "" {
		t.Error("embed credentials die with their bucket")
	}
}

func sessionCookie(r *apitest.Response) (string, string) {
	var sid, csrf string
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		switch c.Name {
		case "nimbus_session":
			sid = c.Value
		case "nimbus_csrf":
			csrf = c.Value
		}
	}
	return sid, csrf
}

func TestSessions(t *testing.T) {
	s := server(t, map[string]string{"bucket_create_principals": "system.Authenticated", "cors_origins": "https://app.example"})
	signup(t, s, "rosa", "rosa-pw")
	s.Do(R{Method: "POST", Path: "/v1/account/session", Body: `{"data":{"username":"rosa","password":"bad"}}`}).Expect(t, 401, 105)
	in := s.Do(R{Method: "POST", Path: "/v1/account/session", Body: `{"data":{"username":"rosa","password":"rosa-pw"}}`}).Expect(t, 201, 0)
	sid, csrf := sessionCookie(in)
	if sid == "" || csrf == "" || in.Data()["csrf_token"] != csrf || in.Data()["user_id"] != "account:rosa" {
		t.Fatalf("login: %v %s", in.Header, in.Raw)
	}
	set := strings.Join(in.Header.Values("Set-Cookie"), "\n")
	if !strings.Contains(set, "HttpOnly") || !strings.Contains(set, "SameSite=Lax") || !strings.Contains(set, "Path=/v1") || strings.Contains(set, "Secure") {
		t.Errorf("cookie attributes: %s", set)
	}
	ck := map[string]string{"Cookie": "nimbus_session=" + sid}
	with := func(extra map[string]string) map[string]string {
		h := map[string]string{"Cookie": "nimbus_session=" + sid}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	chk := s.Do(R{Method: "GET", Path: "/v1/account/session", Headers: ck}).Expect(t, 200, 0)
	if chk.Data()["id"] != "rosa" || chk.Data()["csrf_token"] != nil {
		t.Errorf("check: %s", chk.Raw)
	}
	s.Do(R{Method: "GET", Path: "/v1/account/session"}).Expect(t, 401, 104)
	if me := s.Do(R{Method: "GET", Path: "/v1/account", Headers: ck}).Data(); me["auth_method"] != "session" {
		t.Errorf("me: %v", me)
	}
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Body: `{}`, Headers: ck}).Expect(t, 403, 121)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Body: `{}`, Headers: with(map[string]string{"X-CSRF-Token": "wrong"})}).Expect(t, 403, 121)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Body: `{}`, Headers: with(map[string]string{"X-CSRF-Token": csrf, "Origin": "https://evil.example"})}).Expect(t, 403, 121)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Body: `{}`, Headers: with(map[string]string{"X-CSRF-Token": csrf, "Origin": "https://app.example"})}).Expect(t, 201, 0)
	ok := s.Do(R{Method: "PUT", Path: "/v1/buckets/c", Body: `{}`, Headers: with(map[string]string{"X-CSRF-Token": csrf})}).Expect(t, 201, 0)
	if fmt.Sprint(ok.Body["permissions"].(map[string]any)["write"]) != "[account:rosa]" {
		t.Errorf("session writes as the account: %s", ok.Raw)
	}
	listed := s.Do(R{Method: "GET", Path: "/v1/", Headers: map[string]string{"Origin": "https://app.example"}})
	if listed.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Error("credentials allowed for listed origins")
	}
	// An Authorization header ignores the cookie (no CSRF needed, other user).
	signup(t, s, "bob", "bob-pw")
	s.Do(R{Method: "PUT", Path: "/v1/buckets/d", Body: `{}`, Auth: basic("bob", "bob-pw"), Headers: ck}).Expect(t, 201, 0)
	// logout, twice
	out := s.Do(R{Method: "DELETE", Path: "/v1/account/session", Headers: ck}).Expect(t, 200, 0)
	if out.Data()["deleted"] != true || !strings.Contains(strings.Join(out.Header.Values("Set-Cookie"), " "), "Max-Age=0") {
		t.Errorf("logout: %v %s", out.Header, out.Raw)
	}
	s.Do(R{Method: "DELETE", Path: "/v1/account/session", Headers: ck}).Expect(t, 200, 0)
	s.Do(R{Method: "GET", Path: "/v1/account/session", Headers: ck}).Expect(t, 401, 104)
	secure := server(t, map[string]string{"account_session_cookie_samesite": "None"})
	signup(t, secure, "rosa", "rosa-pw")
	sc := secure.Do(R{Method: "POST", Path: "/v1/account/session", Body: `{"data":{"username":"rosa","password":"rosa-pw"}}`}).Expect(t, 201, 0)
	if !strings.Contains(strings.Join(sc.Header.Values("Set-Cookie"), " "), "Secure") {
		t.Error("SameSite=None forces Secure")
	}
}

func TestTerms(t *testing.T) {
	off := server(t, nil)
	signup(t, off, "rosa", "rosa-pw")
	off.Do(R{Method: "GET", Path: "/v1/account/terms", Auth: basic("rosa", "rosa-pw")}).Expect(t, 404, 111)
	s := server(t, map[string]string{"account_terms_version": "2025-03", "account_terms_url": "https://x/terms",
		"account_terms_enforced": "true", "bucket_create_principals": "system.Authenticated"})
	signup(t, s, "rosa", "rosa-pw")
	rosa := basic("rosa", "rosa-pw")
	caps := s.Do(R{Method: "GET", Path: "/v1/"}).Body["capabilities"].(map[string]any)["accounts"].(map[string]any)
	if caps["terms"] == nil || caps["tokens"] != true || caps["sessions"] != true || caps["embed_credentials"] != true {
		t.Errorf("capability: %v", caps)
	}
	st := s.Do(R{Method: "GET", Path: "/v1/account/terms", Auth: rosa}).Expect(t, 200, 0).Data()
	if st["valid"] != false || st["accepted_version"] != nil || st["version"] != "2025-03" {
		t.Errorf("status: %v", st)
	}
	r := s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: rosa, Body: `{}`}).Expect(t, 403, 121)
	if d := r.Body["details"].(map[string]any); d["reason"] != "terms-not-accepted" {
		t.Errorf("details: %v", d)
	}
	s.Do(R{Method: "GET", Path: "/v1/", Auth: rosa}).Expect(t, 200, 0)
	s.Do(R{Method: "GET", Path: "/v1/account", Auth: rosa}).Expect(t, 200, 0)
	s.Do(R{Method: "GET", Path: "/v1/accounts/rosa", Auth: rosa}).Expect(t, 200, 0)
	s.Do(R{Method: "PUT", Path: "/v1/account/terms", Auth: rosa, Body: `{"data":{"version":"old"}}`}).Expect(t, 400, 107)
	acc := s.Do(R{Method: "PUT", Path: "/v1/account/terms", Auth: rosa}).Expect(t, 200, 0).Data()
	if acc["valid"] != true || acc["accepted_version"] != "2025-03" || acc["accepted_at"] == nil {
		t.Errorf("accepted: %v", acc)
	}
	s.Do(R{Method: "PUT", Path: "/v1/account/terms", Auth: rosa}).Expect(t, 200, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: rosa, Body: `{}`}).Expect(t, 201, 0)
	notEnforced := server(t, map[string]string{"account_terms_version": "v1", "bucket_create_principals": "system.Authenticated"})
	signup(t, notEnforced, "rosa", "rosa-pw")
	notEnforced.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: rosa, Body: `{}`}).Expect(t, 201, 0)
}

func TestThrottling(t *testing.T) {
	s := server(t, map[string]string{"account_login_max_failures": "3", "account_login_failure_window_seconds": "1"})
	signup(t, s, "rosa", "rosa-pw")
	for i := 0; i < 3; i++ {
		s.Do(R{Method: "POST", Path: "/v1/account/tokens", Body: `{"data":{"username":"rosa","password":"bad"}}`}).Expect(t, 401, 105)
	}
	r := s.Do(R{Method: "POST", Path: "/v1/account/tokens", Body: `{"data":{"username":"rosa","password":"rosa-pw"}}`}).Expect(t, 429, 117)
	if r.Header.Get("Retry-After") == "" {
		t.Error("Retry-After")
	}
	s.Do(R{Method: "GET", Path: "/v1/", Auth: basic("rosa", "rosa-pw")}).Expect(t, 429, 117)
	s.Do(R{Method: "POST", Path: "/v1/account/session", Body: `{"data":{"username":"rosa","password":"rosa-pw"}}`}).Expect(t, 429, 117)
	time.Sleep(1100 * time.Millisecond)
	login(t, s, `{"data":{"username":"rosa","password":"rosa-pw"}}`)
	// Basic failures count too, and a success resets the counter.
	for i := 0; i < 2; i++ {
		s.Do(R{Method: "GET", Path: "/v1/account", Auth: basic("rosa", "bad")}).Expect(t, 401, 104)
	}
	s.Do(R{Method: "GET", Path: "/v1/account", Auth: basic("rosa", "rosa-pw")}).Expect(t, 200, 0)
	for i := 0; i < 2; i++ {
		s.Do(R{Method: "GET", Path: "/v1/account", Auth: basic("rosa", "bad")}).Expect(t, 401, 104)
	}
	s.Do(R{Method: "GET", Path: "/v1/account", Auth: basic("rosa", "rosa-pw")}).Expect(t, 200, 0)
	off := server(t, map[string]string{"account_login_max_failures": "0"})
	signup(t, off, "rosa", "rosa-pw")
	for i := 0; i < 12; i++ {
		off.Do(R{Method: "POST", Path: "/v1/account/tokens", Body: `{"data":{"username":"rosa","password":"bad"}}`}).Expect(t, 401, 105)
	}
}

// TestScopedCredentialsAndTheDefaultBucket checks that the default
// bucket's implicit creations are writes made on the caller's behalf: a
// read-only token or an embed credential may read through the alias once
// the objects exist, never create them.
func TestScopedCredentialsAndTheDefaultBucket(t *testing.T) {
	s := server(t, map[string]string{"includes": "accounts default_bucket", "bucket_create_principals": "system.Authenticated"})
	signup(t, s, "rosa", "rosa-pw")
	ro := bearer(login(t, s, `{"data":{"username":"rosa","password":"rosa-pw","read_only":true}}`))
	full := bearer(login(t, s, `{"data":{"username":"rosa","password":"rosa-pw"}}`))
	records := "/v1/buckets/default/collections/notes/records"
	steps := []struct {
		name, method, path, auth string
		status, errno            int
	}{
		{"read-only token cannot create the bucket implicitly", "GET", records, ro, 403, 121},
		{"still nothing there for the owner's full token", "GET", "/v1/buckets", full, 200, 0},
		{"a full token creates bucket and collection", "GET", records, full, 200, 0},
		{"then the read-only token reads through the alias", "GET", records, ro, 200, 0},
		{"but cannot write through it", "POST", records, ro, 403, 121},
		{"nor create another collection implicitly", "GET", "/v1/buckets/default/collections/other/records", ro, 403, 121},
	}
	for _, st := range steps {
		res := s.Do(R{Method: st.method, Path: st.path, Auth: st.auth, Body: `{"data":{}}`}).Expect(t, st.status, st.errno)
		if st.name == "still nothing there for the owner's full token" {
			if n := len(res.Body["data"].([]any)); n != 0 {
				t.Fatalf("%s: %d buckets exist after a refused implicit creation", st.name, n)
			}
		}
	}
}
