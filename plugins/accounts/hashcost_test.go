package accounts_test

import (
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
