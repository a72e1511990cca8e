package accounts_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/accounts"
	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/resource"
)

// TestPasswordHashesPerRequest counts the password hashes each request
// costs: a sign-up hashes once (no fake verification first, whether it is
// anonymous or carries the new account's own credentials as kinto.js
// sends them), a first login verifies once, and a cached login costs none.
func TestPasswordHashesPerRequest(t *testing.T) {
	p := &accounts.Plugin{}
	s := apitest.New(t, base, map[string]func() resource.Plugin{"accounts": func() resource.Plugin { return p }})
	steps := []struct {
		name                 string
		method, path, auth   string
		body                 string
		status, wantHashings int
	}{
		{"anonymous sign-up by PUT", "PUT", "/v1/accounts/ann", "", `{"data":{"password":"ann-pw"}}`, 201, 1},
		{"sign-up by POST", "POST", "/v1/accounts", "", `{"data":{"id":"bea","password":"bea-pw"}}`, 201, 1},
		{"sign-up with the new account's credentials", "PUT", "/v1/accounts/cid", basic("cid", "cid-pw"), `{"data":{"password":"cid-pw"}}`, 201, 1},
		{"first login verifies once", "GET", "/v1/", basic("ann", "ann-pw"), "", 200, 1},
		{"a cached login costs nothing", "GET", "/v1/", basic("ann", "ann-pw"), "", 200, 0},
		{"a password change hashes once", "PATCH", "/v1/accounts/ann", basic("ann", "ann-pw"), `{"data":{"password":"new-pw"}}`, 200, 1},
	}
	for _, st := range steps {
		before := accounts.HashRuns(p)
		s.Do(R{Method: st.method, Path: st.path, Auth: st.auth, Body: st.body}).Expect(t, st.status, 0)
		if n := accounts.HashRuns(p) - before; n != int64(st.wantHashings) {
			t.Errorf("%s: %d password hashes, want %d", st.name, n, st.wantHashings)
		}
	}
}

// TestConcurrentFirstLoginsHashOnce: many requests arriving together with
// the same credentials that are not cached yet (a server just started,
// every client reconnecting) verify the password once, not once each; a
// wrong password sent meanwhile is still checked on its own and is not
// taken for the account.
func TestConcurrentFirstLoginsHashOnce(t *testing.T) {
	settings := map[string]string{}
	for k, v := range base {
		settings[k] = v
	}
	settings["account_bcrypt_cost"] = "8" // long enough for the requests to meet
	p := &accounts.Plugin{}
	s := apitest.New(t, settings, map[string]func() resource.Plugin{"accounts": func() resource.Plugin { return p }})
	s.Do(R{Method: "PUT", Path: "/v1/accounts/ann", Body: `{"data":{"password":"ann-pw"}}`}).Expect(t, 201, 0)
	const n = 12
	start := make(chan struct{})
	before := accounts.HashRuns(p)
	users := make(chan string, n+1)
	var wg sync.WaitGroup
	for i := 0; i <= n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			auth := basic("ann", "ann-pw")
			if i == n {
				auth = basic("ann", "wrong-pw")
			}
			resp := s.Do(R{Method: "GET", Path: "/v1/", Auth: auth})
			user, _ := resp.Body["user"].(map[string]any)
			users <- fmt.Sprint(resp.Status, " ", user["id"])
		}(i)
	}
	close(start)
	wg.Wait()
	close(users)
	got := map[string]int{}
	for u := range users {
		got[u]++
	}
	if got["200 account:ann"] != n || len(got) != 2 {
		t.Errorf("answers %v, want %d logged in as account:ann and one other", got, n)
	}
	if runs := accounts.HashRuns(p) - before; runs != 2 {
		t.Errorf("%d password verifications, want 2 (one per distinct pair)", runs)
	}
}
