package accounts_test

import (
	"fmt"
	"strings"
	"testing"
)

// kintoSuites is the configuration Kinto's client test suites use.
var kintoSuites = map[string]string{
	"includes":                   "default_bucket history accounts flush",
	"multiauth.policies":         "account basicauth",
	"bucket_read_principals":     "system.Authenticated",
	"account_login_max_failures": "3",
}

func batchOf(n int, path string) string {
	subs := make([]string, n)
	for i := range subs {
		subs[i] = `{"method":"GET","path":"` + path + `"}`
	}
	return `{"requests":[` + strings.Join(subs, ",") + `]}`
}

// TestFallbackToBasicauth covers ACC-X-THR when another policy follows
// account: a basicauth user is never throttled, a repeated pair counts one
// failure, a throttled pair's account check is skipped.
func TestFallbackToBasicauth(t *testing.T) {
	s := server(t, kintoSuites)
	signup(t, s, "rosa", "rosa-pw")
	basicID := func(user, pw string) string {
		id := whoami(s, basic(user, pw))
		if !strings.HasPrefix(id, "basicauth:") {
			t.Fatalf("%s:%s is %q, want a basicauth id", user, pw, id)
		}
		return id
	}

	// A user without account: every request passes as basicauth, no 429.
	stranger := basicID("bob", "bob-pw")
	for i := 0; i < 20; i++ {
		r := s.Do(R{Method: "PUT", Path: fmt.Sprintf("/v1/buckets/bob%d", i), Auth: basic("bob", "bob-pw")}).Expect(t, 201, 0)
		if w := fmt.Sprint(r.Body["permissions"]); !strings.Contains(w, stranger) {
			t.Fatalf("request %d not as the basicauth user: %s", i, r.Raw)
		}
	}
	r := s.Do(R{Method: "POST", Path: "/v1/batch", Auth: basic("bob", "bob-pw"), Body: batchOf(20, "/buckets/bob1")}).Expect(t, 200, 0)
	if strings.Contains(string(r.Raw), `"status":429`) || strings.Contains(string(r.Raw), `"status":403`) {
		t.Fatalf("batch of a basicauth user: %s", r.Raw)
	}
	s.Do(R{Method: "POST", Path: "/v1/buckets/default/collections/tasks/records", Auth: basic("bob", "bob-pw"), Body: `{"data":{}}`}).Expect(t, 201, 0)

	// The same wrong password for an existing account, repeated, counts
	// once: the account's own login still works afterwards.
	for i := 0; i < 10; i++ {
		basicID("rosa", "typo")
	}
	login(t, s, `{"data":{"username":"rosa","password":"rosa-pw"}}`)

	// Distinct wrong passwords throttle the pair: its Basic requests then
	// pass as basicauth even with the right password, never 429; the
	// login endpoints answer 429.
	for i := 0; i < 3; i++ {
		basicID("rosa", fmt.Sprintf("guess-%d", i))
	}
	if id := basicID("rosa", "rosa-pw"); id == "account:rosa" {
		t.Fatal("a throttled pair must not authenticate as the account")
	}
	s.Do(R{Method: "GET", Path: "/v1/buckets/bob1/collections/c", Auth: basic("rosa", "rosa-pw")}).Expect(t, 403, 121)
	s.Do(R{Method: "POST", Path: "/v1/account/tokens", Body: `{"data":{"username":"rosa","password":"rosa-pw"}}`}).Expect(t, 429, 117)

	// A remembered failure is forgotten when the account is created.
	basicID("carl", "carl-pw")
	signup(t, s, "carl", "carl-pw")
	if id := whoami(s, basic("carl", "carl-pw")); id != "account:carl" {
		t.Fatalf("after sign-up, carl is %q", id)
	}
	// And when the password changes.
	basicID("carl", "carl-new")
	s.Do(R{Method: "PATCH", Path: "/v1/accounts/carl", Auth: basic("carl", "carl-pw"), Body: `{"data":{"password":"carl-new"}}`}).Expect(t, 200, 0)
	if id := whoami(s, basic("carl", "carl-new")); id != "account:carl" {
		t.Fatalf("after the password change, carl is %q", id)
	}
}

// TestOneFailurePerClientRequest: sub-requests of a batch and the default
// bucket's implicit creations reuse the client request's authentication,
// so a wrong password counts one failure per client request.
func TestOneFailurePerClientRequest(t *testing.T) {
	for name, settings := range map[string]map[string]string{
		"account":           {"includes": "default_bucket accounts", "account_login_max_failures": "3"},
		"account basicauth": kintoSuites,
	} {
		t.Run(name, func(t *testing.T) {
			s := server(t, settings)
			signup(t, s, "rosa", "rosa-pw")
			for i := 0; i < 2; i++ {
				s.Do(R{Method: "POST", Path: "/v1/batch", Auth: basic("rosa", fmt.Sprintf("bad-%d", i)), Body: batchOf(10, "/buckets/default")}).Expect(t, 200, 0)
			}
			login(t, s, `{"data":{"username":"rosa","password":"rosa-pw"}}`)
			for i := 0; i < 2; i++ {
				s.Do(R{Method: "GET", Path: "/v1/buckets/default/collections/c/records", Auth: basic("rosa", fmt.Sprintf("bad-%d", i))})
			}
			login(t, s, `{"data":{"username":"rosa","password":"rosa-pw"}}`)
		})
	}
}

// TestThrottledDespiteCache: with accounts alone, a throttled pair gets
// 429 even when its right password is in the verified cache.
func TestThrottledDespiteCache(t *testing.T) {
	s := server(t, map[string]string{"account_login_max_failures": "3"})
	signup(t, s, "rosa", "rosa-pw")
	s.Do(R{Method: "GET", Path: "/v1/account", Auth: basic("rosa", "rosa-pw")}).Expect(t, 200, 0)
	for i := 0; i < 3; i++ {
		s.Do(R{Method: "GET", Path: "/v1/account", Auth: basic("rosa", fmt.Sprintf("bad-%d", i))}).Expect(t, 401, 104)
	}
	r := s.Do(R{Method: "GET", Path: "/v1/account", Auth: basic("rosa", "rosa-pw")}).Expect(t, 429, 117)
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}

// TestFallbackKeepsAccounts: accounts still authenticate under
// `account basicauth`, and the basicauth id of a pair is stable.
func TestFallbackKeepsAccounts(t *testing.T) {
	s := server(t, kintoSuites)
	signup(t, s, "rosa", "rosa-pw")
	for i := 0; i < 3; i++ {
		if id := whoami(s, basic("rosa", "rosa-pw")); id != "account:rosa" {
			t.Fatalf("rosa is %q", id)
		}
	}
	a, b := whoami(s, basic("zoe", "x")), whoami(s, basic("zoe", "x"))
	if a != b || a == "" || a == whoami(s, basic("zoe", "y")) {
		t.Fatalf("basicauth ids: %q %q", a, b)
	}
}

// TestRedirectsDoNotAuthenticate: a request answered with a redirect
// checks no credentials, so it costs no hash and counts no failure.
func TestRedirectsDoNotAuthenticate(t *testing.T) {
	s := server(t, map[string]string{"account_login_max_failures": "2"})
	signup(t, s, "rosa", "rosa-pw")
	for i := 0; i < 4; i++ {
		s.Do(R{Method: "GET", Path: fmt.Sprintf("/accounts/rosa?try=%d", i), Auth: basic("rosa", fmt.Sprintf("bad-%d", i))}).Expect(t, 307, 0)
		s.Do(R{Method: "GET", Path: "/v1/accounts/rosa/", Auth: basic("rosa", fmt.Sprintf("worse-%d", i))}).Expect(t, 307, 0)
	}
	login(t, s, `{"data":{"username":"rosa","password":"rosa-pw"}}`)
}
