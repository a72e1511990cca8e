package prometheus_test

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

type R = apitest.Req

var settings = map[string]string{"includes": "prometheus accounts changes", "multiauth.policies": "account",
	"account_create_principals": "system.Everyone", "account_write_principals": "account:admin",
	"bucket_create_principals": "system.Authenticated", "account_bcrypt_cost": "4", "account_login_max_failures": "2"}

// scrape reads /__metrics__ with the Prometheus text parser.
func scrape(t *testing.T, s *apitest.Server, auth string) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL+"/v1/__metrics__", nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("metrics: %d", res.StatusCode)
	}
	var buf bytes.Buffer
	buf.ReadFrom(res.Body)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(&buf)
	if err != nil {
		t.Fatalf("not Prometheus text: %v", err)
	}
	return fams
}

// value returns the value of the series of a family whose labels are
// exactly those given (counter, gauge, or a histogram's count).
func value(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
	for _, m := range f.Metric {
		if len(m.Label) != len(labels) {
			continue
		}
		ok := true
		for _, l := range m.Label {
			ok = ok && labels[l.GetName()] == l.GetValue()
		}
		if !ok {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return 0
}

// TestMetricsAfterAKnownSequence makes a known set of requests and reads
// the counts back from the page, parsed as Prometheus does.
func TestMetricsAfterAKnownSequence(t *testing.T) {
	s := apitest.New(t, settings)
	s.Do(R{Method: "PUT", Path: "/v1/accounts/ann", Body: `{"data":{"password":"ann-pw"}}`}).Expect(t, 201, 0)
	ann := apitest.Basic("ann", "ann-pw")
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: ann, Body: `{}`}).Expect(t, 201, 0)
	for i := 0; i < 3; i++ {
		s.Do(R{Method: "GET", Path: "/v1/buckets/b", Auth: ann}).Expect(t, 200, 0)
	}
	for i := 0; i < 2; i++ {
		s.Do(R{Method: "GET", Path: fmt.Sprintf("/v1/buckets/missing%d", i), Auth: ann}).Expect(t, 403, 121)
	}
	// A batch is one request here, whatever it carries (StatsD counts
	// its sub-requests too, as Kinto does).
	s.Do(R{Method: "POST", Path: "/v1/batch", Auth: ann, Body: `{"requests":[{"method":"GET","path":"/buckets/b"},{"method":"GET","path":"/buckets/b"}]}`}).Expect(t, 200, 0)
	// Two wrong passwords, then a throttled pair.
	for i := 0; i < 3; i++ {
		s.Do(R{Method: "GET", Path: "/v1/", Auth: apitest.Basic("ann", "wrong")})
	}
	s.Do(R{Method: "GET", Path: "/v1/nowhere/at/all"}).Expect(t, 404, 111)
	fams := scrape(t, s, "")
	route := "/v1/buckets/:bucket_id"
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"nimbus_requests_total", map[string]string{"route": route, "method": "GET", "status": "200"}, 3},
		{"nimbus_requests_total", map[string]string{"route": route, "method": "GET", "status": "403"}, 2},
		{"nimbus_requests_total", map[string]string{"route": route, "method": "PUT", "status": "201"}, 1},
		{"nimbus_request_duration_seconds", map[string]string{"route": route, "method": "GET"}, 5},
		{"nimbus_requests_total", map[string]string{"route": "unknown", "method": "GET", "status": "404"}, 1},
		{"nimbus_requests_total", map[string]string{"route": "/v1/batch", "method": "POST", "status": "200"}, 1},
		{"nimbus_authentications_total", map[string]string{"policy": "account", "outcome": "success"}, 7},
		{"nimbus_authentications_total", map[string]string{"policy": "", "outcome": "failure"}, 3},
		{"nimbus_authentications_total", map[string]string{"policy": "", "outcome": "throttled"}, 1},
		{"nimbus_requests_total", map[string]string{"route": "/v1/", "method": "GET", "status": "429"}, 1},
		{"nimbus_change_streams_open", nil, 0},
	}
	for _, c := range checks {
		if got := value(fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if got := value(fams, "nimbus_accounts_password_cache_hits_total", nil); got < 5 {
		t.Errorf("cached logins: %v", got)
	}
	for _, name := range []string{"nimbus_storage_transaction_duration_seconds", "go_goroutines", "process_cpu_seconds_total"} {
		if fams[name] == nil {
			t.Errorf("%s missing", name)
		}
	}
	for _, f := range fams["nimbus_requests_total"].Metric {
		for _, l := range f.Label {
			if l.GetName() == "route" && (bytes.Contains([]byte(l.GetValue()), []byte("missing")) || bytes.HasSuffix([]byte(l.GetValue()), []byte("/b")) ||
				bytes.Contains([]byte(l.GetValue()), []byte("/b/"))) && l.GetValue() != route {
				t.Errorf("an id became a label: %s", l.GetValue())
			}
		}
	}
}

// TestMetricsProtection: metrics_read_principals restricts the page.
func TestMetricsProtection(t *testing.T) {
	m := map[string]string{"metrics_read_principals": "account:monitor"}
	for k, v := range settings {
		m[k] = v
	}
	s := apitest.New(t, m)
	s.Do(R{Method: "PUT", Path: "/v1/accounts/monitor", Body: `{"data":{"password":"mon-pw"}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/accounts/ann", Body: `{"data":{"password":"ann-pw"}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "GET", Path: "/v1/__metrics__"}).Expect(t, 401, 104)
	// A scraper asking for text only is not refused (406) for it.
	req, _ := http.NewRequest("GET", s.URL+"/v1/__metrics__", nil)
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	req.Header.Set("Authorization", apitest.Basic("monitor", "mon-pw"))
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Errorf("Accept: text/plain: %v %v", res.StatusCode, err)
	} else {
		res.Body.Close()
	}
	s.Do(R{Method: "GET", Path: "/v1/buckets", Headers: map[string]string{"Accept": "text/plain"}}).Expect(t, 406, 107)
	s.Do(R{Method: "GET", Path: "/v1/__metrics__", Auth: apitest.Basic("ann", "ann-pw")}).Expect(t, 403, 121)
	if fams := scrape(t, s, apitest.Basic("monitor", "mon-pw")); fams["nimbus_requests_total"] == nil {
		t.Error("the monitor reads the metrics")
	}
}
