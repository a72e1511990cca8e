package prometheus_test

import (
	"fmt"
	"math/rand"
	"net/http"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

// TestLabelValuesAreBounded sends requests with long random methods and
// random unknown paths (security review, row 4): neither may become a
// label value, so the page and the server's memory stay bounded.
func TestLabelValuesAreBounded(t *testing.T) {
	s := apitest.New(t, settings)
	rng := rand.New(rand.NewSource(4))
	letters := "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	for i := 0; i < 60; i++ {
		var b strings.Builder
		for j := 0; j < 2000; j++ {
			b.WriteByte(letters[rng.Intn(len(letters))])
		}
		for _, path := range []string{"/v1/buckets", fmt.Sprintf("/v1/nothing-%d-%s", i, b.String()[:40])} {
			req, err := http.NewRequest(b.String(), s.URL+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode < 400 || res.StatusCode >= 500 {
				t.Fatalf("%s with a random method: status %d", path, res.StatusCode)
			}
		}
	}
	known := map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true,
		"DELETE": true, "OPTIONS": true, "other": true}
	fams := scrape(t, s, "")
	sawOther := false
	for _, name := range []string{"nimbus_requests_total", "nimbus_request_duration_seconds"} {
		for _, m := range fams[name].Metric {
			for _, l := range m.Label {
				switch l.GetName() {
				case "method":
					if !known[l.GetValue()] {
						t.Fatalf("%s: method label %.40q is not bounded", name, l.GetValue())
					}
					sawOther = sawOther || l.GetValue() == "other"
				case "route":
					if strings.Contains(l.GetValue(), "nothing-") {
						t.Fatalf("%s: route label %.60q is a raw path", name, l.GetValue())
					}
				}
			}
		}
	}
	if !sawOther {
		t.Fatal("requests with unknown methods were not counted as method=\"other\"")
	}
	if got := value(fams, "nimbus_requests_total", map[string]string{"route": "/v1/buckets", "method": "other", "status": "405"}) +
		value(fams, "nimbus_requests_total", map[string]string{"route": "unknown", "method": "other", "status": "404"}); got < 60 {
		t.Fatalf("the unknown-method requests were not all counted: %v", got)
	}
}
