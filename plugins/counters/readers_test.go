package counters_test

import (
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

// TestCountersReadPrincipals: /__counters__ is public unless
// counters_read_principals is set; then only those principals (a group's
// members included) read it: 401 for anonymous callers, 403 for others.
func TestCountersReadPrincipals(t *testing.T) {
	monitor, carol := apitest.Basic("monitor", "pw"), apitest.Basic("carol", "pw")
	open := apitest.New(t, settings)
	open.Do(R{Method: "GET", Path: "/v1/__counters__"}).Expect(t, 200, 0)
	probe := apitest.New(t, settings)
	monitorID := probe.Do(R{Method: "GET", Path: "/v1/", Auth: monitor}).Body["user"].(map[string]any)["id"].(string)
	carolID := probe.Do(R{Method: "GET", Path: "/v1/", Auth: carol}).Body["user"].(map[string]any)["id"].(string)
	extra := map[string]string{"counters_read_principals": monitorID + " /buckets/ops/groups/monitors"}
	for k, v := range settings {
		extra[k] = v
	}
	s := apitest.New(t, extra)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/ops", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/ops/groups/monitors", Auth: alice, Body: `{"data":{"members":["` + carolID + `"]}}`}).Expect(t, 201, 0)
	for _, c := range []struct {
		name          string
		auth          string
		status, errno int
	}{
		{"anonymous", "", 401, 104},
		{"another user", alice, 403, 121},
		{"a listed principal", monitor, 200, 0},
		{"a member of a listed group", carol, 200, 0},
	} {
		r := s.Do(R{Method: "GET", Path: "/v1/__counters__", Auth: c.auth}).Expect(t, c.status, c.errno)
		if c.status == 200 && r.Body["objects"] == nil {
			t.Errorf("%s: %s", c.name, r.Raw)
		}
	}
}
