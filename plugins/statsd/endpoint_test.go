package statsd

import "testing"

// TestStatsDEndpoints: every route is named as Kinto names it, or, for
// the routes only Nimbus has, by its template; answers without a route
// are unknown (404) or unnamed.
func TestStatsDEndpoints(t *testing.T) {
	for _, c := range []struct {
		route  string
		status int
		want   string
	}{
		{"/v1/", 200, "hello"},
		{"/v1/__heartbeat__", 503, "heartbeat"},
		{"/v1/buckets/:bucket_id/collections/:collection_id/records/:record_id", 200, "record-object"},
		{"/v1/buckets/:bid/collections/:cid/records/:rid/attachment", 201, "attachment"},
		{"/v1/openid/:provider/token", 307, "openid_token"},
		{"/v1/account/tokens/:key", 200, "account.tokens.key"},
		{"/v1/console/*", 200, "console.all"},
		{"", 404, "unknown"},
		{"", 405, "unnamed"},
	} {
		if got := endpoint(c.route, c.status); got != c.want {
			t.Errorf("endpoint(%q, %d) = %q, want %q", c.route, c.status, got, c.want)
		}
	}
}
