package statsd_test

import (
	"net"
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

// TestStatsDNames: requests produce Kinto's StatsD metrics, under the
// prefix, with route templates, never raw ids (PLUG-STATSD).
func TestStatsDNames(t *testing.T) {
	c, url := collector(t)
	s := apitest.New(t, map[string]string{"includes": "kinto.plugins.statsd", "statsd_url": url,
		"bucket_create_principals": "system.Authenticated"})
	alice := apitest.Basic("alice", "pw")
	s.Do(R{Method: "GET", Path: "/v1/"}).Expect(t, 200, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/secret-bucket-id", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
	s.Do(R{Method: "GET", Path: "/v1/buckets", Auth: alice}).Expect(t, 200, 0)
	got := lines(c)
	all := strings.Join(got, "\n")
	for _, want := range []string{
		"nimbus.request_summary:method.GET.endpoint.root.status.200|s",
		"nimbus.request_summary:method.PUT.endpoint.buckets.bucket_id.status.201|s",
		"nimbus.request_duration_seconds.method.GET.endpoint.buckets:",
		"nimbus.users:auth.basicauth.userid.",
		"nimbus.authentication:type.basicauth|s",
		"nimbus.request_size:2|g",
		"nimbus.backend.storage.seconds.method.write:",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q among:\n%s", want, all)
		}
	}
	for _, l := range got {
		if strings.Contains(l, "secret-bucket-id") || strings.Count(l, ":") != 1 || strings.Count(l, "|") != 1 {
			t.Errorf("malformed or raw line %q", l)
		}
	}
}

// TestStatsDSettings: statsd_prefix names the metrics; a collector that
// is not there changes no answer; a malformed statsd_url stops the start.
func TestStatsDSettings(t *testing.T) {
	c, url := collector(t)
	s := apitest.New(t, map[string]string{"includes": "statsd", "statsd_url": url, "statsd_prefix": "kinto"})
	s.Do(R{Method: "GET", Path: "/v1/"}).Expect(t, 200, 0)
	if got := strings.Join(lines(c), "\n"); !strings.Contains(got, "kinto.request_summary:") || strings.Contains(got, "nimbus.") {
		t.Errorf("prefix: %s", got)
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
