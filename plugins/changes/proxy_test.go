package changes_test

import (
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/config"
	"github.com/nimbus-server/nimbus/plugins"
	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/storage/memory"
)

// TestAnonymousStreamLimitAndProxies: the per-user stream limit of
// anonymous readers is keyed on the client address (security review,
// row 7). Without trusted_proxies the forwarding headers are anyone's
// words: rotating them neither escapes the limit nor locks another
// client out. With trusted_proxies, the address the proxy reports counts.
func TestAnonymousStreamLimitAndProxies(t *testing.T) {
	cases := []struct {
		name    string
		proxies string
		// headers of the three streams opened first, of a fourth that
		// must be refused, and of a fifth that must be served
		first          []map[string]string
		refused, other map[string]string
	}{
		{name: "no trusted proxy: rotating X-Forwarded-For", proxies: "",
			first: []map[string]string{{"X-Forwarded-For": "198.51.100.1"}, {"X-Forwarded-For": "198.51.100.2"},
				{"X-Real-IP": "198.51.100.3"}},
			refused: map[string]string{"Forwarded": "for=198.51.100.4"}},
		{name: "loopback proxy: one client behind it", proxies: "loopback",
			first: []map[string]string{{"X-Forwarded-For": "203.0.113.7"}, {"X-Forwarded-For": "203.0.113.7"},
				{"X-Forwarded-For": "198.51.100.9, 203.0.113.7"}},
			refused: map[string]string{"X-Forwarded-For": "203.0.113.7"},
			other:   map[string]string{"X-Forwarded-For": "203.0.113.8"}},
		{name: "a CIDR proxy and a spoofed hop on the left", proxies: "127.0.0.0/8, 10.0.0.0/8",
			first: []map[string]string{{"X-Forwarded-For": "1.2.3.4, 203.0.113.7, 10.1.1.1"}, {"X-Forwarded-For": "203.0.113.7"},
				{"Forwarded": `for="203.0.113.7:4711";proto=https`}},
			refused: map[string]string{"X-Forwarded-For": "5.6.7.8, 203.0.113.7"},
			other:   map[string]string{"X-Forwarded-For": "203.0.113.7, 203.0.113.8"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := apitest.New(t, settings(map[string]string{"stream_max_connections_per_user": "3", "trusted_proxies": c.proxies}))
			seed(t, s)
			s.Do(R{Method: "PATCH", Path: "/v1/buckets/b", Auth: alice, Body: `{"permissions":{"read":["system.Everyone"]}}`}).Expect(t, 200, 0)
			for i, h := range c.first {
				if x := follow(t, s, records, "", h); x.Status != 200 {
					t.Fatalf("stream %d (%v): %d %v", i, h, x.Status, x.Body)
				}
			}
			if x := follow(t, s, records, "", c.refused); x.Status != 429 || num(x.Body["errno"]) != 117 {
				t.Fatalf("fourth stream of one client (%v): %d %v", c.refused, x.Status, x.Body)
			}
			if c.other != nil {
				if x := follow(t, s, records, "", c.other); x.Status != 200 {
					t.Fatalf("another client behind the proxy (%v) is locked out: %d %v", c.other, x.Status, x.Body)
				}
			}
		})
	}
	_, err := plugins.NewApp(config.New(settings(map[string]string{"trusted_proxies": "10.0.0.0/33"})), memory.New(), nil, nil)
	if err == nil || !strings.Contains(err.Error(), "trusted_proxies") {
		t.Errorf("a malformed trusted_proxies: %v", err)
	}
}
