package accounts_test

import "testing"

// TestThrottleBehindProxy: login failures are counted per client address
// (security review, row 8). Behind a proxy listed in trusted_proxies, the
// address it reports counts, so ten wrong passwords from one client do
// not lock the account for everyone; without it, forwarding headers are
// ignored, so rotating them does not escape the count either.
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
	t.Run("no trusted proxy", func(t *testing.T) {
		s := server(t, map[string]string{"account_login_max_failures": "3"})
		signup(t, s, "rosa", "rosa-pw")
		for i := 0; i < 3; i++ {
			s.Do(R{Method: "POST", Path: tokens, Body: bad, Headers: xff("203.0.113." + string(rune('1'+i)))}).Expect(t, 401, 105)
		}
		s.Do(R{Method: "POST", Path: tokens, Body: good, Headers: xff("203.0.113.9")}).Expect(t, 429, 117)
	})
}
