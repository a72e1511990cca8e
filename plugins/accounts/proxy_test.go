package accounts_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestThrottleBehindProxy: login failures are counted per client address
// (security review, row 8). Behind a proxy listed in trusted_proxies, the
// address it reports counts, so ten wrong passwords from one client do
// not lock the account for everyone; without it, forwarding headers are
// ignored, so rotating them does not escape the count either, and a batch
// sub-request's own forwarding headers are ignored too. Behind a trusted
// proxy that ends TLS, session cookies are Secure and the site's own
// origin is the one the proxy reports.
func TestThrottleBehindProxy(t *testing.T) {
	const tokens = "/v1/account/tokens"
	bad := `{"data":{"username":"rosa","password":"bad"}}`
	good := `{"data":{"username":"rosa","password":"rosa-pw"}}`
	xff := func(v string) map[string]string { return map[string]string{"X-Forwarded-For": v} }
	t.Run("behind a trusted proxy", func(t *testing.T) {
		s := server(t, map[string]string{"account_login_max_failures": "3", "trusted_proxies": "loopback"})
		signup(t, s, "rosa", "rosa-pw")
		for i := 0; i < 3; i++ {
			s.Do(R{Method: "POST", Path: tokens, Body: bad, Headers: xff("203.0.113.66")}).Expect(t, 401, 105)
		}
		s.Do(R{Method: "POST", Path: tokens, Body: good, Headers: xff("203.0.113.66")}).Expect(t, 429, 117)
		// A spoofed hop on the left does not change who the proxy saw.
		s.Do(R{Method: "POST", Path: tokens, Body: good, Headers: xff("198.51.100.1, 203.0.113.66")}).Expect(t, 429, 117)
		s.Do(R{Method: "POST", Path: tokens, Body: good, Headers: xff("203.0.113.5")}).Expect(t, 201, 0)
		s.Do(R{Method: "GET", Path: "/v1/account", Auth: basic("rosa", "rosa-pw"), Headers: xff("203.0.113.5")}).Expect(t, 200, 0)
	})
	t.Run("batch sub-requests cannot name another client", func(t *testing.T) {
		// A sub-request's own forwarding headers come from the client,
		// not from the proxy: with them, each guess of a batch counted
		// for another address, and none was throttled.
		s := server(t, map[string]string{"account_login_max_failures": "3", "trusted_proxies": "loopback"})
		signup(t, s, "rosa", "rosa-pw")
		var subs []string
		for i := 0; i < 5; i++ {
			subs = append(subs, fmt.Sprintf(`{"method":"GET","path":"/v1/account","headers":{"Authorization":%q,"X-Forwarded-For":"198.51.100.%d","Forwarded":"for=198.51.100.%d","X-Real-IP":"198.51.100.%d"}}`, basic("rosa", "wrong-pw"), i, i, i))
		}
		s.Do(R{Method: "POST", Path: "/v1/batch", Body: `{"requests":[` + strings.Join(subs, ",") + `]}`, Headers: xff("203.0.113.66")}).Expect(t, 200, 0)
		s.Do(R{Method: "POST", Path: tokens, Body: good, Headers: xff("203.0.113.66")}).Expect(t, 429, 117)
	})
	t.Run("a session behind a proxy that ends TLS", func(t *testing.T) {
		// The Secure flag follows the client's scheme the trusted proxy
		// reports, and the site's own origin is the proxy's host.
		proxy := map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example.com"}
		for _, tc := range []struct {
			name    string
			proxies string
			secure  bool
		}{{"trusted", "loopback", true}, {"not trusted", "", false}} {
			s := server(t, map[string]string{"trusted_proxies": tc.proxies, "bucket_create_principals": "system.Authenticated"})
			signup(t, s, "rosa", "rosa-pw")
			in := s.Do(R{Method: "POST", Path: "/v1/account/session", Body: `{"data":{"username":"rosa","password":"rosa-pw"}}`, Headers: proxy}).Expect(t, 201, 0)
			if set := strings.Join(in.Header.Values("Set-Cookie"), "\n"); strings.Contains(set, "Secure") != tc.secure {
				t.Errorf("%s: cookies %s", tc.name, set)
			}
			sid, csrf := sessionCookie(in)
			h := map[string]string{"Cookie": "nimbus_session=" + sid, "X-CSRF-Token": csrf, "Origin": "https://api.example.com"}
			for k, v := range proxy {
				h[k] = v
			}
			want := 403
			if tc.secure {
				want = 201
			}
			if got := s.Do(R{Method: "PUT", Path: "/v1/buckets/mine", Body: `{}`, Headers: h}); got.Status != want {
				t.Errorf("%s: a write from the site's own origin: %d, want %d", tc.name, got.Status, want)
			}
		}
	})
	t.Run("no trusted proxy", func(t *testing.T) {
		s := server(t, map[string]string{"account_login_max_failures": "3"})
		signup(t, s, "rosa", "rosa-pw")
		for i := 0; i < 3; i++ {
			s.Do(R{Method: "POST", Path: tokens, Body: bad, Headers: xff("203.0.113." + string(rune('1'+i)))}).Expect(t, 401, 105)
		}
		s.Do(R{Method: "POST", Path: tokens, Body: good, Headers: xff("203.0.113.9")}).Expect(t, 429, 117)
	})
}
