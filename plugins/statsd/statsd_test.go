package statsd_test

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/config"
	"github.com/nimbus-server/nimbus/plugins"
	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/storage/memory"
)

type R = apitest.Req

// collector listens for StatsD datagrams on loopback.
func collector(t *testing.T) (*net.UDPConn, string) {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, "udp://" + c.LocalAddr().String()
}

// lines reads what arrives until quiet for a moment.
func lines(c *net.UDPConn) []string {
	var out []string
	buf := make([]byte, 65536)
	for {
		c.SetReadDeadline(time.Now().Add(700 * time.Millisecond))
		n, err := c.Read(buf)
		if err != nil {
			return out
		}
		out = append(out, strings.Split(string(buf[:n]), "\n")...)
	}
}

// TestStatsDNames: requests produce the metrics Kinto 26.2 sends, under
// its names (prefix kinto, lower-case methods, Kinto's service names,
// request_size the answer's size), batch sub-requests included, and
// route templates only, never raw ids (PLUG-STATSD).
func TestStatsDNames(t *testing.T) {
	c, url := collector(t)
	s := apitest.New(t, map[string]string{"includes": "kinto.plugins.statsd accounts default_bucket", "statsd_url": url,
		"multiauth.policies": "account basicauth", "account_create_principals": "system.Everyone",
		"bucket_create_principals": "system.Authenticated"})
	s.Do(R{Method: "PUT", Path: "/v1/accounts/alice", Body: `{"data":{"password":"alice-pass1"}}`}).Expect(t, 201, 0)
	alice := apitest.Basic("alice", "alice-pass1")
	root := s.Do(R{Method: "GET", Path: "/v1/"}).Expect(t, 200, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/secret-bucket-id", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
	s.Do(R{Method: "GET", Path: "/v1/buckets", Auth: alice}).Expect(t, 200, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/secret-bucket-id/collections/c", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
	s.Do(R{Method: "POST", Path: "/v1/batch", Auth: alice, Body: `{"requests":[` +
		`{"method":"PUT","path":"/buckets/secret-bucket-id/collections/c/records/secret-record-id","body":{"data":{}}},` +
		`{"method":"GET","path":"/buckets/secret-bucket-id/collections/c/records"}]}`}).Expect(t, 200, 0)
	s.Do(R{Method: "GET", Path: "/v1/no-such-thing-here"}).Expect(t, 404, 111)
	// The personal bucket's alias is named as Kinto names it, whatever
	// route serves it.
	s.Do(R{Method: "GET", Path: "/v1/buckets/default", Auth: alice}).Expect(t, 200, 0)
	s.Do(R{Method: "GET", Path: "/v1/buckets/default/collections/tasks/records", Auth: alice}).Expect(t, 200, 0)
	got := lines(c)
	all := strings.Join(got, "\n")
	for _, want := range []string{
		"kinto.request_summary:method.get.endpoint.hello.status.200|s",
		"kinto.request_summary:method.put.endpoint.account-object.status.201|s",
		"kinto.request_summary:method.put.endpoint.bucket-object.status.201|s",
		"kinto.request_summary:method.get.endpoint.bucket-plural.status.200|s",
		"kinto.request_summary:method.post.endpoint.batch.status.200|s",
		"kinto.request_summary:method.put.endpoint.record-object.status.201|s",
		"kinto.request_summary:method.get.endpoint.record-plural.status.200|s",
		"kinto.request_summary:method.get.endpoint.unknown.status.404|s",
		"kinto.request_summary:method.get.endpoint.default_bucket.status.200|s",
		"kinto.request_summary:method.get.endpoint.default_bucket_collection.status.200|s",
		"kinto.request_duration_seconds.method.get.endpoint.bucket-plural:",
		"kinto.users:auth.account.userid.alice|s",
		"kinto.authentication:type.account|s",
		fmt.Sprintf("kinto.request_size:%d|g", len(root.Raw)),
		"kinto.backend.storage.seconds.method.write:",
		"kinto.cache_hits:",
		"kinto.cache_misses:",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q among:\n%s", want, all)
		}
	}
	timer := regexp.MustCompile(`^kinto\.[a-z_.-]+:[0-9]+\.[0-9]{6}\|ms$`)
	for _, l := range got {
		if strings.HasSuffix(l, "|ms") && !timer.MatchString(l) {
			t.Errorf("timer %q: want milliseconds with six decimals, as Kinto's client writes them", l)
		}
		if strings.Contains(l, "secret-") || strings.Contains(l, "no-such") || strings.Count(l, ":") != 1 || strings.Count(l, "|") != 1 {
			t.Errorf("malformed or raw line %q", l)
		}
	}
}

// TestStatsDSettings: statsd_prefix names the metrics; a collector that
// is not there changes no answer; a malformed statsd_url stops the start.
func TestStatsDSettings(t *testing.T) {
	c, url := collector(t)
	for _, c2 := range []struct {
		settings map[string]string
		want     string
	}{
		{map[string]string{"statsd_prefix": "dash"}, "dash."},
		{map[string]string{"project_name": "shop"}, "shop."},
		{map[string]string{"project_name": "shop", "statsd_prefix": "dash"}, "dash."},
		{map[string]string{}, "kinto."},
	} {
		settings := map[string]string{"includes": "statsd", "statsd_url": url}
		for k, v := range c2.settings {
			settings[k] = v
		}
		s := apitest.New(t, settings)
		s.Do(R{Method: "GET", Path: "/v1/"}).Expect(t, 200, 0)
		for _, l := range lines(c) {
			if !strings.HasPrefix(l, c2.want) {
				t.Errorf("%v: line %q, want the prefix %q", c2.settings, l, c2.want)
			}
		}
	}
	gone, _ := collector(t)
	deadURL := "udp://" + gone.LocalAddr().String()
	gone.Close()
	d := apitest.New(t, map[string]string{"includes": "statsd", "statsd_url": deadURL})
	for i := 0; i < 50; i++ {
		d.Do(R{Method: "GET", Path: "/v1/"}).Expect(t, 200, 0)
	}
	for _, bad := range []string{"statsd.example:8125", "http://127.0.0.1:8125", "udp://127.0.0.1"} {
		_, err := plugins.NewApp(config.New(map[string]string{"includes": "statsd", "statsd_url": bad,
			"multiauth.policies": "basicauth", "userid_hmac_secret": "s"}), memory.New(), nil, nil)
		if err == nil || !strings.Contains(err.Error(), "statsd_url") {
			t.Errorf("statsd_url = %s: %v", bad, err)
		}
	}
}
