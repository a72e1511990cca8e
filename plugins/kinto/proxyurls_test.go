package kinto_test

import (
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

// TestURLsBehindAProxy: the URLs the server builds (the root's url, Next-Page)
// follow what a trusted proxy reports of its client's scheme and host
// (X-Forwarded-Proto and X-Forwarded-Host, else Forwarded), so that
// links and the session cookie's Secure flag are right behind a proxy
// that ends TLS; only the last value (the nearest proxy's) and only a
// well-formed one counts; an untrusted peer's headers, and a batch
// sub-request's own, are ignored; http_scheme and http_host win.
func TestURLsBehindAProxy(t *testing.T) {
	trusted := map[string]string{"trusted_proxies": "loopback", "paginate_by": "1", "bucket_create_principals": "system.Authenticated"}
	fixed := map[string]string{"trusted_proxies": "loopback", "http_scheme": "https", "http_host": "fixed.example"}
	cases := []struct {
		name     string
		settings map[string]string
		headers  map[string]string
		want     string // the root's url; "" is the request's own
	}{
		{"x-forwarded", trusted, map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example.com"}, "https://api.example.com/v1/"},
		{"forwarded", trusted, map[string]string{"Forwarded": `for=192.0.2.1;proto=https;host="api.example.com:8443"`}, "https://api.example.com:8443/v1/"},
		{"the nearest proxy's value", trusted, map[string]string{"X-Forwarded-Proto": "http, https", "X-Forwarded-Host": "evil.example, api.example.com"}, "https://api.example.com/v1/"},
		{"ipv6 host", trusted, map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "[2001:db8::1]:443"}, "https://[2001:db8::1]:443/v1/"},
		{"host with a path", trusted, map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example/x"}, "https://HOST/v1/"},
		{"host with credentials", trusted, map[string]string{"X-Forwarded-Host": "user@evil.example"}, "http://HOST/v1/"},
		{"bad port", trusted, map[string]string{"X-Forwarded-Host": "api.example.com:99999"}, "http://HOST/v1/"},
		{"odd scheme", trusted, map[string]string{"X-Forwarded-Proto": "javascript", "X-Forwarded-Host": "api.example.com"}, "http://api.example.com/v1/"},
		{"untrusted peer", map[string]string{"paginate_by": "1"}, map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example.com"}, "http://HOST/v1/"},
		{"settings win", fixed, map[string]string{"X-Forwarded-Proto": "http", "X-Forwarded-Host": "api.example.com"}, "https://fixed.example/v1/"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := apitest.New(t, c.settings)
			host := strings.TrimPrefix(s.URL, "http://")
			want := strings.Replace(c.want, "HOST", host, 1)
			res := s.Do(R{Method: "GET", Path: "/v1/", Headers: c.headers})
			if got, _ := res.Body["url"].(string); res.Status != 200 || got != want {
				t.Errorf("url %q, want %q (%d)", got, want, res.Status)
			}
		})
	}
	t.Run("next page, and a batch sub-request's own headers", func(t *testing.T) {
		s := apitest.New(t, trusted)
		for _, b := range []string{"b1", "b2"} {
			s.Do(R{Method: "PUT", Path: "/v1/buckets/" + b, Auth: alice}).Expect(t, 201, 0)
		}
		proxy := map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example.com"}
		res := s.Do(R{Method: "GET", Path: "/v1/buckets", Auth: alice, Headers: proxy})
		if next := res.Header.Get("Next-Page"); !strings.HasPrefix(next, "https://api.example.com/v1/buckets?") {
			t.Errorf("Next-Page %q", next)
		}
		batch := s.Do(R{Method: "POST", Path: "/v1/batch", Auth: alice, Headers: proxy,
			Body: `{"requests":[{"method":"GET","path":"/buckets","headers":{"X-Forwarded-Host":"evil.example","Forwarded":"host=evil.example"}}]}`})
		subs, _ := batch.Body["responses"].([]any)
		if len(subs) != 1 {
			t.Fatalf("batch: %d %v", batch.Status, batch.Body)
		}
		headers, _ := subs[0].(map[string]any)["headers"].(map[string]any)
		if next, _ := headers["Next-Page"].(string); !strings.HasPrefix(next, "https://api.example.com/v1/buckets?") {
			t.Errorf("sub-request Next-Page %q", next)
		}
	})
}
