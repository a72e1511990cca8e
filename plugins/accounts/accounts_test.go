package accounts_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/config"
	"github.com/nimbus-server/nimbus/plugins"
	"github.com/nimbus-server/nimbus/plugins/accounts"
	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/memory"
)

type R = apitest.Req

var base = map[string]string{
	"includes":                  "accounts",
	"multiauth.policies":        "account",
	"account_create_principals": "system.Everyone",
	"account_write_principals":  "account:admin",
	"account_read_principals":   "account:viewer",
	"account_bcrypt_cost":       "4",
}

func server(t testing.TB, extra map[string]string) *apitest.Server {
	settings := map[string]string{}
	for k, v := range base {
		settings[k] = v
	}
	for k, v := range extra {
		settings[k] = v
	}
	return apitest.New(t, settings)
}

func basic(u, p string) string { return apitest.Basic(u, p) }

func signup(t *testing.T, s *apitest.Server, id, pw string) {
	t.Helper()
	s.Do(R{Method: "PUT", Path: "/v1/accounts/" + id, Body: `{"data":{"password":"` + pw + `"}}`}).Expect(t, 201, 0)
}

func whoami(s *apitest.Server, auth string) string {
	r := s.Do(R{Method: "GET", Path: "/v1/", Auth: auth})
	if u, ok := r.Body["user"].(map[string]any); ok {
		return u["id"].(string)
	}
	return ""
}

func TestSignUpAndAuthenticate(t *testing.T) {
	s := server(t, nil)
	r := s.Do(R{Method: "POST", Path: "/v1/accounts", Body: `{"data":{"id":"rosa","password":"houns-low-7","display_name":"Rosa"}}`}).Expect(t, 201, 0)
	if !strings.HasPrefix(r.Data()["password"].(string), "$2b$") || r.Data()["display_name"] != "Rosa" {
		t.Errorf("created account: %s", r.Raw)
	}
	if fmt.Sprint(r.Body["permissions"]) != "map[write:[account:rosa]]" {
		t.Errorf("an account owns itself: %s", r.Raw)
	}
	signup(t, s, "bob@example.org", "bobs-pass")
	if got := whoami(s, basic("rosa", "houns-low-7")); got != "account:rosa" {
		t.Fatalf("user id %q", got)
	}
	root := s.Do(R{Method: "GET", Path: "/v1/", Auth: basic("rosa", "houns-low-7")})
	if ps := fmt.Sprint(root.Body["user"].(map[string]any)["principals"]); ps != "[account:rosa system.Authenticated system.Everyone]" {
		t.Errorf("principals %s", ps)
	}
	caps := root.Body["capabilities"].(map[string]any)["accounts"].(map[string]any)
	if caps["validation_enabled"] != false {
		t.Errorf("capability %v", caps)
	}
	for _, bad := range []string{basic("rosa", "wrong"), basic("Rosa", "houns-low-7"), basic("nobody", "x"), basic("rosa", "")} {
		if got := whoami(s, bad); got != "" {
			t.Errorf("bad credentials authenticated as %q", got)
		}
	}
	// Existing ids
	s.Do(R{Method: "PUT", Path: "/v1/accounts/rosa", Body: `{"data":{"password":"x"}}`}).Expect(t, 401, 104)
	s.Do(R{Method: "POST", Path: "/v1/accounts", Body: `{"data":{"id":"rosa","password":"x"}}`}).Expect(t, 401, 104)
	own := s.Do(R{Method: "POST", Path: "/v1/accounts", Auth: basic("rosa", "houns-low-7"), Body: `{"data":{"id":"rosa","password":"other"}}`}).Expect(t, 200, 0)
	if own.Data()["display_name"] != "Rosa" {
		t.Errorf("POST never changes an existing account: %s", own.Raw)
	}
	if whoami(s, basic("rosa", "houns-low-7")) == "" {
		t.Error("POST must not change the password")
	}
}

func TestBadSignUps(t *testing.T) {
	s := server(t, nil)
	signup(t, s, "rosa", "pw")
	cases := []struct {
		name, method, path, body string
		// desc, when set, is the description Kinto 26.2 gives (details[0]).
		desc string
	}{
		{"POST without id", "POST", "/v1/accounts", `{"data":{"password":"x"}}`, ""},
		{"PUT without password", "PUT", "/v1/accounts/ann", `{"data":{}}`, "Required"},
		{"empty password", "PUT", "/v1/accounts/ann", `{"data":{"password":""}}`, "Required"},
		{"null password", "PUT", "/v1/accounts/ann", `{"data":{"password":null}}`, "Required"},
		{"password not a string", "PUT", "/v1/accounts/ann", `{"data":{"password":42}}`, "42 is not a string"},
		{"password over 72 bytes for bcrypt", "PUT", "/v1/accounts/ann", `{"data":{"password":"` + strings.Repeat("x", 73) + `"}}`, ""},
		{"password over 1024 bytes", "PUT", "/v1/accounts/ann", `{"data":{"password":"` + strings.Repeat("x", 1025) + `"}}`, ""},
		{"invalid id", "PUT", "/v1/accounts/-ann", `{"data":{"password":"x"}}`, ""},
		{"overlong id", "PUT", "/v1/accounts/" + strings.Repeat("a", 300), `{"data":{"password":"x"}}`, ""},
		{"id mismatch", "PUT", "/v1/accounts/ann", `{"data":{"id":"bob","password":"x"}}`, ""},
		{"email-context not an object", "PUT", "/v1/accounts/ann", `{"data":{"password":"x","email-context":1}}`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := s.Do(R{Method: c.method, Path: c.path, Body: c.body}).Expect(t, 400, 107)
			if c.desc != "" {
				if d := got.Body["details"].([]any)[0].(map[string]any); d["description"] != c.desc || d["name"] != "data.password" {
					t.Errorf("details %v, want %q on data.password", d, c.desc)
				}
			}
		})
	}
	l := s.Do(R{Method: "GET", Path: "/v1/accounts", Auth: basic("admin", "x")})
	if whoami(s, basic("admin", "x")) != "" || l.Status != 401 {
		t.Fatal("no admin account exists")
	}
	accountIDs(t, s, "rosa")
}

// accountIDs checks which accounts exist, through storage.
func accountIDs(t *testing.T, s *apitest.Server, want ...string) {
	t.Helper()
	s.Backend.View(context.Background(), func(tx storage.Tx) error {
		objs, _ := tx.List(accounts.AccountRef, storage.Query{Sort: []storage.Sort{{Field: "id"}}})
		var ids []string
		for _, o := range objs {
			ids = append(ids, storage.ID(o))
		}
		if fmt.Sprint(ids) != fmt.Sprint(want) {
			t.Errorf("accounts %v, want %v", ids, want)
		}
		return nil
	})
}

// accessCase is one request of an access table and what it must get; a
// batch of one sub-request must get status for that sub-request.
type accessCase struct {
	name         string
	auth         string
	method, path string
	body         string
	status       int
	errno        int
}

func runAccess(t *testing.T, s *apitest.Server, cases []accessCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := R{Method: c.method, Path: c.path, Auth: c.auth}
			if c.body != "" {
				req.Body = c.body
			}
			s.Do(req).Expect(t, c.status, c.errno)
			if c.method == "PATCH" || c.method == "DELETE" {
				// The same write in a batch gets the same answer.
				sub := map[string]any{"method": c.method, "path": strings.TrimPrefix(c.path, "/v1")}
				if c.body != "" {
					sub["body"] = json.RawMessage(c.body)
				}
				b := s.Do(R{Method: "POST", Path: "/v1/batch", Auth: c.auth, Body: map[string]any{"requests": []any{sub}}})
				if b.Status != 200 {
					t.Fatalf("batch: %d %s", b.Status, b.Raw)
				}
				if got := fmt.Sprint(b.Body["responses"].([]any)[0].(map[string]any)["status"]); got != fmt.Sprint(c.status) {
					t.Errorf("in a batch: status %s, want %d as alone", got, c.status)
				}
			}
		})
	}
}

func TestOwnershipAndAdmins(t *testing.T) {
	s := server(t, nil)
	for _, id := range []string{"rosa", "bob", "admin", "viewer"} {
		signup(t, s, id, id+"-pw")
	}
	rosa, bob, admin, viewer := basic("rosa", "rosa-pw"), basic("bob", "bob-pw"), basic("admin", "admin-pw"), basic("viewer", "viewer-pw")
	cases := []accessCase{
		{"anonymous lists", "", "GET", "/v1/accounts", "", 401, 104},
		{"anonymous reads", "", "GET", "/v1/accounts/rosa", "", 401, 104},
		// CORE-21: an existing account is authorized before the body is
		// validated, as Kinto does.
		{"anonymous posts an existing id without password", "", "POST", "/v1/accounts", `{"data":{"id":"bob"}}`, 401, 104},
		{"anonymous posts an existing id with a bad password", "", "POST", "/v1/accounts", `{"data":{"id":"bob","password":5}}`, 401, 104},
		{"owner posts their id without password", rosa, "POST", "/v1/accounts", `{"data":{"id":"rosa"}}`, 400, 107},
		{"user reads self", rosa, "GET", "/v1/accounts/rosa", "", 200, 0},
		{"user reads other", rosa, "GET", "/v1/accounts/bob", "", 403, 121},
		{"user reads missing", rosa, "GET", "/v1/accounts/ghost", "", 403, 121},
		{"user patches other", rosa, "PATCH", "/v1/accounts/bob", `{"data":{"password":"x"}}`, 403, 121},
		{"user patches missing", rosa, "PATCH", "/v1/accounts/ghost", `{"data":{"password":"x"}}`, 403, 121},
		{"user deletes other", rosa, "DELETE", "/v1/accounts/bob", "", 403, 121},
		{"user PUTs other", rosa, "PUT", "/v1/accounts/bob", `{"data":{"password":"x"}}`, 400, 107},
		{"user creates another", rosa, "POST", "/v1/accounts", `{"data":{"id":"new","password":"x"}}`, 400, 107},
		{"user changes validated", rosa, "PATCH", "/v1/accounts/rosa", `{"data":{"validated":true}}`, 400, 107},
		{"viewer reads other", viewer, "GET", "/v1/accounts/bob", "", 200, 0},
		{"viewer reads missing", viewer, "GET", "/v1/accounts/ghost", "", 404, 110},
		{"viewer writes other", viewer, "PATCH", "/v1/accounts/bob", `{"data":{"x":1}}`, 403, 121},
		{"admin reads other", admin, "GET", "/v1/accounts/bob", "", 200, 0},
		{"admin reads missing", admin, "GET", "/v1/accounts/ghost", "", 404, 110},
		{"admin creates for another", admin, "PUT", "/v1/accounts/carl", `{"data":{"password":"carl-pw"}}`, 201, 0},
		{"admin resets a password", admin, "PATCH", "/v1/accounts/bob", `{"data":{"password":"bob-new"}}`, 200, 0},
	}
	runAccess(t, s, cases)
	carl := s.Do(R{Method: "GET", Path: "/v1/accounts/carl", Auth: admin})
	if fmt.Sprint(carl.Body["permissions"]) != "map[write:[account:carl]]" {
		t.Errorf("admins are not added to the ACL: %s", carl.Raw)
	}
	if whoami(s, basic("bob", "bob-new")) != "account:bob" || whoami(s, bob) != "" {
		t.Error("the admin's password reset must take effect at once")
	}
	l := s.Do(R{Method: "GET", Path: "/v1/accounts", Auth: rosa}).Expect(t, 200, 0)
	if fmt.Sprint(l.IDs()) != "[rosa]" {
		t.Errorf("a user lists only their account: %v", l.IDs())
	}
	all := s.Do(R{Method: "GET", Path: "/v1/accounts?_sort=id", Auth: viewer}).Expect(t, 200, 0)
	if fmt.Sprint(all.IDs()) != "[admin bob carl rosa viewer]" {
		t.Errorf("viewer lists all: %v", all.IDs())
	}
	// Accounts are ordinary resources: filters and metadata.
	s.Do(R{Method: "PATCH", Path: "/v1/accounts/rosa", Auth: rosa, Body: `{"data":{"age":42}}`}).Expect(t, 200, 0)
	// (gt_ alone would match the accounts without an age too: a missing
	// field sorts after every value.)
	f := s.Do(R{Method: "GET", Path: "/v1/accounts?gt_age=40&lt_age=100", Auth: admin}).Expect(t, 200, 0)
	if fmt.Sprint(f.IDs()) != "[rosa]" {
		t.Errorf("filter on metadata: %v", f.IDs())
	}
	if whoami(s, rosa) != "account:rosa" {
		t.Error("a PATCH without password keeps the password")
	}
}

func TestPasswordChangeAndDeletion(t *testing.T) {
	s := server(t, map[string]string{"account_cache_ttl_seconds": "3600"})
	signup(t, s, "rosa", "old-pw")
	old := basic("rosa", "old-pw")
	if whoami(s, old) != "account:rosa" || whoami(s, old) != "account:rosa" {
		t.Fatal("login (then cached login) failed")
	}
	s.Do(R{Method: "PATCH", Path: "/v1/accounts/rosa", Auth: old, Body: `{"data":{"password":"new-pw"}}`}).Expect(t, 200, 0)
	if whoami(s, old) != "" {
		t.Fatal("the old password must fail at once after a PATCH, cache or not")
	}
	cur := basic("rosa", "new-pw")
	if whoami(s, cur) != "account:rosa" {
		t.Fatal("the new password must work")
	}
	s.Do(R{Method: "PUT", Path: "/v1/accounts/rosa", Auth: cur, Body: `{"data":{"password":"third-pw"}}`}).Expect(t, 200, 0)
	if whoami(s, cur) != "" || whoami(s, basic("rosa", "third-pw")) != "account:rosa" {
		t.Fatal("password change by PUT")
	}
	s.Do(R{Method: "PUT", Path: "/v1/accounts/rosa", Auth: basic("rosa", "third-pw"), Body: `{"data":{}}`}).Expect(t, 400, 107)
	d := s.Do(R{Method: "DELETE", Path: "/v1/accounts/rosa", Auth: basic("rosa", "third-pw")}).Expect(t, 200, 0)
	if d.Data()["deleted"] != true {
		t.Errorf("tombstone %s", d.Raw)
	}
	if whoami(s, basic("rosa", "third-pw")) != "" {
		t.Fatal("a deleted account must not authenticate")
	}
	signup(t, s, "a", "a-pw")
	signup(t, s, "b", "b-pw")
	s.Do(R{Method: "DELETE", Path: "/v1/accounts", Auth: basic("a", "a-pw")}).Expect(t, 200, 0)
	accountIDs(t, s, "b")
}

const kintoHash = "$2b$12$VNj5BgJsvsWBEbcc548ZxePMtZBq/kldnwtVnIVqxidWnPd1SKiJy" // python bcrypt, as Kinto stores it

func TestKintoHashAndArgon(t *testing.T) {
	s := server(t, map[string]string{"account_password_hasher": "argon2id"})
	s.Backend.Update(context.Background(), func(tx storage.Tx) error {
		_, err := tx.Create(accounts.AccountRef, storage.Object{"id": "legacy", "password": kintoHash})
		return err
	})
	if whoami(s, basic("legacy", "kinto-pass")) != "account:legacy" {
		t.Fatal("a bcrypt hash written by Kinto must verify")
	}
	r := s.Do(R{Method: "PUT", Path: "/v1/accounts/new", Body: `{"data":{"password":"` + strings.Repeat("p", 100) + `"}}`}).Expect(t, 201, 0)
	if !strings.HasPrefix(r.Data()["password"].(string), "$argon2id$v=19$m=") {
		t.Errorf("argon2id hash: %s", r.Raw)
	}
	if whoami(s, basic("new", strings.Repeat("p", 100))) != "account:new" {
		t.Error("argon2id verification (long passwords allowed)")
	}
	hidden := server(t, map[string]string{"account_hide_password_hash": "true"})
	h := hidden.Do(R{Method: "PUT", Path: "/v1/accounts/x", Body: `{"data":{"password":"pw"}}`}).Expect(t, 201, 0)
	if _, ok := h.Data()["password"]; ok {
		t.Errorf("hidden hash shown: %s", h.Raw)
	}
	hidden.Do(R{Method: "GET", Path: "/v1/accounts?password=x", Auth: basic("x", "pw")}).Expect(t, 400, 107)
}

func TestStartupChecks(t *testing.T) {
	for name, settings := range map[string]map[string]string{
		"no accounts policy":           {"includes": "accounts", "multiauth.policies": "basicauth"},
		"basicauth first":              {"includes": "accounts", "multiauth.policies": "basicauth account"},
		"creators are not writers":     {"includes": "accounts", "multiauth.policies": "account", "account_create_principals": "account:x"},
		"unknown mailer":               {"includes": "accounts", "multiauth.policies": "account", "mail.mailer": "pigeon"},
		"unknown hasher":               {"includes": "accounts", "multiauth.policies": "account", "account_password_hasher": "md5"},
		"policy without plugin":        {"multiauth.policies": "account"},
		"unknown plugin in includes":   {"includes": "nope", "multiauth.policies": "basicauth"},
		"kinto alias of unknown class": {"includes": "accounts", "multiauth.policies": "account x", "multiauth.policy.x.use": "some.Other"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := plugins.NewApp(config.New(settings), memory.New(), nil, nil); err == nil {
				t.Error("start-up must fail")
			}
		})
	}
	ok := map[string]string{"includes": "kinto.plugins.accounts", "multiauth.policies": "account",
		"multiauth.policy.account.use": "kinto.plugins.accounts.authentication.AccountsAuthenticationPolicy"}
	if _, err := plugins.NewApp(config.New(ok), memory.New(), nil, nil); err != nil {
		t.Errorf("Kinto's own names must work: %v", err)
	}
}

func TestCreateUser(t *testing.T) {
	backend := memory.New()
	s := config.New(map[string]string{"includes": "accounts", "multiauth.policies": "account", "account_bcrypt_cost": "4"})
	created, err := accounts.CreateUser(context.Background(), backend, s, "admin", "first")
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	created, err = accounts.CreateUser(context.Background(), backend, s, "admin", "second")
	if err != nil || created {
		t.Fatalf("update: %v %v", created, err)
	}
	if _, err := accounts.CreateUser(context.Background(), backend, s, "-bad", "x"); err == nil {
		t.Error("invalid ids are refused")
	}
	srv := apitest.NewWithBackend(t, backend, base)
	if whoami(srv, basic("admin", "second")) != "account:admin" || whoami(srv, basic("admin", "first")) != "" {
		t.Error("create-user must set the password")
	}
	r := srv.Do(R{Method: "GET", Path: "/v1/accounts/admin", Auth: basic("admin", "second")}).Expect(t, 200, 0)
	if fmt.Sprint(r.Body["permissions"]) != "map[write:[account:admin]]" {
		t.Errorf("ACL %s", r.Raw)
	}
}

// TestPasswordPatchForms: no PATCH form removes the password or sets it
// to a non-string, and the password keeps working after each refusal.
func TestPasswordPatchForms(t *testing.T) {
	s := server(t, nil)
	signup(t, s, "rosa", "rosa-pw")
	rosa := basic("rosa", "rosa-pw")
	for _, c := range []struct{ name, ct, body string }{
		{"merge with null", "application/merge-patch+json", `{"data":{"password":null}}`},
		{"json with null", "application/json", `{"data":{"password":null}}`},
		{"json with a number", "application/json", `{"data":{"password":42}}`},
		{"json-patch remove", "application/json-patch+json", `[{"op":"remove","path":"/data/password"}]`},
		{"json-patch number", "application/json-patch+json", `[{"op":"replace","path":"/data/password","value":3}]`},
		{"json-patch object", "application/json-patch+json", `[{"op":"add","path":"/data/password","value":{"a":1}}]`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := s.Do(R{Method: "PATCH", Path: "/v1/accounts/rosa", Auth: rosa, Body: c.body, Headers: map[string]string{"Content-Type": c.ct}}).Expect(t, 400, 107)
			if !strings.Contains(string(r.Raw), "data.password") {
				t.Errorf("error names the field: %s", r.Raw)
			}
			if whoami(s, rosa) != "account:rosa" {
				t.Fatal("the password must keep working")
			}
		})
	}
}

// TestAccountBodyRules: a PUT or POST of an account needs data and its
// password, whatever the account's state, and the body's errors come
// before the preconditions' (CORE-21), as Kinto's schema answers them.
func TestAccountBodyRules(t *testing.T) {
	s := server(t, nil)
	signup(t, s, "rosa", "rosa-pw")
	rosa := basic("rosa", "rosa-pw")
	noneMatch := map[string]string{"If-None-Match": "*"}
	oldMatch := map[string]string{"If-Match": `"1"`}
	for _, c := range []struct {
		name, method, path, body string
		auth                     string
		headers                  map[string]string
		status, errno            int
		field, desc              string
	}{
		{"PUT of permissions only", "PUT", "/v1/accounts/rosa", `{"permissions":{"read":["x"]}}`, rosa, nil, 400, 107, "data", "Required"},
		{"PUT without a body", "PUT", "/v1/accounts/rosa", ``, rosa, nil, 400, 107, "data", "Required"},
		{"PUT without a password", "PUT", "/v1/accounts/rosa", `{"data":{}}`, rosa, nil, 400, 107, "data.password", "Required"},
		{"PUT with a null password", "PUT", "/v1/accounts/rosa", `{"data":{"password":null}}`, rosa, nil, 400, 107, "data.password", "Required"},
		{"PUT with a numeric password", "PUT", "/v1/accounts/rosa", `{"data":{"password":7}}`, rosa, nil, 400, 107, "data.password", "7 is not a string"},
		{"new account without data", "PUT", "/v1/accounts/zed", `{"permissions":{}}`, "", nil, 400, 107, "data", "Required"},
		{"POST without a password", "POST", "/v1/accounts", `{"data":{"id":"yan"}}`, "", nil, 400, 107, "data.password", "Required"},
		{"body before If-None-Match", "PUT", "/v1/accounts/rosa", `{"data":{"x":1}}`, "", noneMatch, 400, 107, "data.password", "Required"},
		{"body before If-Match", "PUT", "/v1/accounts/rosa", `{"data":{"x":1}}`, rosa, oldMatch, 400, 107, "data.password", "Required"},
		{"If-None-Match with a good body", "PUT", "/v1/accounts/rosa", `{"data":{"password":"another-pw"}}`, "", noneMatch, 412, 114, "", ""},
		{"PATCH needs no password", "PATCH", "/v1/accounts/rosa", `{"data":{"x":1}}`, rosa, nil, 200, 0, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := s.Do(R{Method: c.method, Path: c.path, Auth: c.auth, Body: c.body, Headers: c.headers}).Expect(t, c.status, c.errno)
			if c.field == "" {
				return
			}
			d, _ := r.Body["details"].([]any)
			if len(d) != 1 || d[0].(map[string]any)["name"] != c.field || d[0].(map[string]any)["description"] != c.desc {
				t.Errorf("details: %s", r.Raw)
			}
		})
	}
	if whoami(s, rosa) != "account:rosa" {
		t.Error("no refused write may change the password")
	}
}

// TestPasswordRoutesOutOfBatches: the routes that verify or hash a
// password answer 400 inside a batch (a batch's write transaction would
// wait on each of them, and every other write with it), while account
// writes run in batches as in Kinto, their passwords hashed before the
// batch's transaction.
func TestPasswordRoutesOutOfBatches(t *testing.T) {
	s := server(t, nil)
	signup(t, s, "rosa", "rosa-pw")
	rosa := basic("rosa", "rosa-pw")
	for _, sub := range []string{
		`{"method":"PUT","path":"/account/password","body":{"data":{"password":"new-rosa-pw","current_password":"rosa-pw"}}}`,
		`{"method":"POST","path":"/account/tokens","body":{"data":{}}}`,
		`{"method":"POST","path":"/account/session","body":{"data":{}}}`,
	} {
		r := s.Do(R{Method: "POST", Path: "/v1/batch", Auth: rosa, Body: `{"requests":[` + sub + `]}`}).Expect(t, 200, 0)
		if !strings.Contains(string(r.Raw), `"status":400`) || !strings.Contains(string(r.Raw), "cannot be used inside a batch") {
			t.Errorf("%s: %s", sub, r.Raw)
		}
	}
	r := s.Do(R{Method: "POST", Path: "/v1/batch", Body: `{"requests":[
		{"method":"PUT","path":"/accounts/ana","body":{"data":{"password":"ana-pw-1"}}},
		{"method":"POST","path":"/accounts","body":{"data":{"id":"bo","password":"bo-pw-12"}}},
		{"method":"PATCH","path":"/accounts/rosa","body":{"data":{"password":"rosa-pw-2"}},"headers":{"Authorization":"` + rosa + `"}}]}`}).Expect(t, 200, 0)
	if got := strings.Count(string(r.Raw), `"status":201`) + strings.Count(string(r.Raw), `"status":200`); got != 3 {
		t.Fatalf("account writes in a batch: %s", r.Raw)
	}
	for user, pw := range map[string]string{"ana": "ana-pw-1", "bo": "bo-pw-12", "rosa": "rosa-pw-2"} {
		if whoami(s, basic(user, pw)) != "account:"+user {
			t.Errorf("%s cannot log in with the password a batch set", user)
		}
	}
}

// TestAccountACLGrantsNoOtherUser: an account is its owner's alone
// (ACC-08, ACC-09), whatever its ACL grants: a user who gave write on
// their account to system.Everyone and read to another account does not
// let anyone but an administrator read, change, list or delete it, in a
// batch or not (Kinto keeps each user's accounts under their own id).
func TestAccountACLGrantsNoOtherUser(t *testing.T) {
	s := server(t, nil)
	for _, id := range []string{"rosa", "admin", "viewer"} {
		signup(t, s, id, id+"-pw")
	}
	s.Do(R{Method: "PUT", Path: "/v1/accounts/carol", Body: `{"data":{"password":"carol-pw"},` +
		`"permissions":{"write":["system.Everyone","system.Authenticated"],"read":["account:rosa"]}}`}).Expect(t, 201, 0)
	rosa, admin, viewer, carol := basic("rosa", "rosa-pw"), basic("admin", "admin-pw"), basic("viewer", "viewer-pw"), basic("carol", "carol-pw")
	cases := []accessCase{
		{"user reads it", rosa, "GET", "/v1/accounts/carol", "", 403, 121},
		{"user changes its password", rosa, "PATCH", "/v1/accounts/carol", `{"data":{"password":"taken"}}`, 403, 121},
		{"user replaces it", rosa, "PUT", "/v1/accounts/carol", `{"data":{"password":"taken"}}`, 400, 107},
		{"user deletes it", rosa, "DELETE", "/v1/accounts/carol", "", 403, 121},
		{"anonymous reads it", "", "GET", "/v1/accounts/carol", "", 401, 104},
		{"anonymous changes it", "", "PATCH", "/v1/accounts/carol", `{"data":{"password":"taken"}}`, 401, 104},
		{"viewer reads it", viewer, "GET", "/v1/accounts/carol", "", 200, 0},
		{"viewer changes it", viewer, "PATCH", "/v1/accounts/carol", `{"data":{"x":1}}`, 403, 121},
		{"owner reads it", carol, "GET", "/v1/accounts/carol", "", 200, 0},
		{"admin changes it", admin, "PATCH", "/v1/accounts/carol", `{"data":{"x":1}}`, 200, 0},
	}
	runAccess(t, s, cases)
	if l := s.Do(R{Method: "GET", Path: "/v1/accounts", Auth: rosa}).Expect(t, 200, 0); fmt.Sprint(l.IDs()) != "[rosa]" {
		t.Errorf("a user lists only their account: %v", l.IDs())
	}
	if l := s.Do(R{Method: "GET", Path: "/v1/accounts?_sort=id", Auth: admin}).Expect(t, 200, 0); fmt.Sprint(l.IDs()) != "[admin carol rosa viewer]" {
		t.Errorf("an administrator lists every account: %v", l.IDs())
	}
	d := s.Do(R{Method: "DELETE", Path: "/v1/accounts", Auth: rosa}).Expect(t, 200, 0)
	if fmt.Sprint(d.IDs()) != "[rosa]" {
		t.Errorf("a user's DELETE /accounts deletes their account only: %v", d.IDs())
	}
	if whoami(s, carol) != "account:carol" {
		t.Error("carol's account and password must be untouched")
	}
}

// TestOtherAccountPrecedence pins the answer to a user writing another
// user's account with preconditions: the id's refusal (400, ACC-06) comes
// before any precondition (CORE-21 puts validation before 412). Kinto 26.2
// answers 412 to a valid If-Match there (README, differences).
func TestOtherAccountPrecedence(t *testing.T) {
	s := server(t, nil)
	for _, id := range []string{"rosa", "bob", "admin"} {
		signup(t, s, id, id+"-pw")
	}
	rosa, admin := basic("rosa", "rosa-pw"), basic("admin", "admin-pw")
	bobETag := s.Do(R{Method: "GET", Path: "/v1/accounts/bob", Auth: admin}).Expect(t, 200, 0).Header.Get("ETag")
	for _, c := range []struct {
		name    string
		auth    string
		method  string
		path    string
		headers map[string]string
		status  int
		errno   int
	}{
		{"another's account with its own ETag", rosa, "PUT", "/v1/accounts/bob", map[string]string{"If-Match": bobETag}, 400, 107},
		{"another's account with If-Match *", rosa, "PUT", "/v1/accounts/bob", map[string]string{"If-Match": "*"}, 400, 107},
		{"a missing account with If-Match", rosa, "PUT", "/v1/accounts/ghost", map[string]string{"If-Match": `"123"`}, 400, 107},
		{"another's account with If-None-Match *", rosa, "PUT", "/v1/accounts/bob", map[string]string{"If-None-Match": "*"}, 400, 107},
		{"another's id posted with If-Match", rosa, "POST", "/v1/accounts", map[string]string{"If-Match": `"123"`}, 400, 107},
		{"an administrator with a stale If-Match", admin, "PUT", "/v1/accounts/bob", map[string]string{"If-Match": `"123"`}, 412, 114},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := `{"data":{"password":"other-pw"}}`
			if c.method == "POST" {
				body = `{"data":{"id":"bob","password":"other-pw"}}`
			}
			s.Do(R{Method: c.method, Path: c.path, Auth: c.auth, Headers: c.headers, Body: body}).Expect(t, c.status, c.errno)
			sub := map[string]any{"method": c.method, "path": strings.TrimPrefix(c.path, "/v1"), "headers": c.headers, "body": json.RawMessage(body)}
			b := s.Do(R{Method: "POST", Path: "/v1/batch", Auth: c.auth, Body: map[string]any{"requests": []any{sub}}}).Expect(t, 200, 0)
			if got := fmt.Sprint(b.Body["responses"].([]any)[0].(map[string]any)["status"]); got != fmt.Sprint(c.status) {
				t.Errorf("in a batch: status %s, want %d as alone", got, c.status)
			}
		})
	}
	if whoami(s, basic("bob", "bob-pw")) != "account:bob" {
		t.Error("bob's password changed")
	}
}
