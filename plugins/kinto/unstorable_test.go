package kinto_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

// TestUnstorableText: an id with U+0000 in the path is invalid on every
// backend, refused before any storage access (PostgreSQL failed the
// lookup with a 503, and a write with such an id ran again and again,
// holding up the instance's other writes); a value in a body that
// PostgreSQL cannot store (U+0000, a timestamp beyond its range) is
// refused there as the client's error (400), where bolt stores it; in a
// batch, that refusal comes when the batch's transaction sends its
// writes, for the batch as a whole. A number beyond a double is refused
// on every backend when the body is read, as Kinto refuses it. A filter
// on such a number is refused at the querystring by PostgreSQL.
func TestUnstorableText(t *testing.T) {
	onBackends(t, nil, func(t *testing.T, s *apitest.Server) {
		s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: alice, Body: "{}"}).Expect(t, 201, 0)
		s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: "{}"}).Expect(t, 201, 0)
		rec := "/v1/buckets/b/collections/c/records"
		body, errno := 201, 0
		if strings.Contains(t.Name(), "postgresql") {
			body, errno = 400, 107
		}
		cases := []struct {
			name          string
			req           R
			status, errno int
			inBody        bool
		}{
			{"PUT, U+0000 in the id", R{Method: "PUT", Path: rec + "/a%00b", Auth: alice, Body: "{}"}, 400, 107, false},
			{"GET, U+0000 in the id", R{Method: "GET", Path: rec + "/a%00b", Auth: alice}, 400, 107, false},
			{"DELETE, U+0000 in a parent id", R{Method: "DELETE", Path: "/v1/buckets/b%00/collections/c", Auth: alice}, 400, 107, false},
			{"U+0000 in a value", R{Method: "POST", Path: rec, Auth: alice, Body: `{"data":{"t":"a\u0000b"}}`}, body, errno, true},
			{"U+0000 in a key", R{Method: "POST", Path: rec, Auth: alice, Body: `{"data":{"a\u0000":1}}`}, body, errno, true},
			{"U+0000 in a principal", R{Method: "POST", Path: rec, Auth: alice, Body: `{"permissions":{"read":["a\u0000"]}}`}, body, errno, true},
			{"a number beyond PostgreSQL's range", R{Method: "POST", Path: rec, Auth: alice, Body: `{"data":{"n":1e999999}}`}, 400, 107, true},
			{"a timestamp beyond PostgreSQL's range", R{Method: "POST", Path: rec, Auth: alice, Body: `{"data":{"last_modified":99999999999999999}}`}, body, errno, true},
		}
		for _, c := range cases {
			t.Run(c.name+" (batch)", func(t *testing.T) {
				sub := map[string]any{"method": c.req.Method, "path": strings.TrimPrefix(c.req.Path, "/v1")}
				if c.req.Body != nil {
					sub["body"] = json.RawMessage(c.req.Body.(string))
				}
				batch := R{Method: "POST", Path: "/v1/batch", Auth: alice, Body: map[string]any{"requests": []any{sub}}}
				if c.inBody && c.status == 400 {
					// Found when the batch's transaction sends its writes:
					// the batch as a whole is refused.
					s.Do(batch).Expect(t, 400, 107)
					return
				}
				got := s.Do(batch).Expect(t, 200, 0).Body["responses"].([]any)[0].(map[string]any)
				if status := got["status"].(json.Number).String(); status != fmt.Sprint(c.status) {
					t.Errorf("sub-request status %s, want %d: %v", status, c.status, got["body"])
				}
			})
			t.Run(c.name, func(t *testing.T) {
				r := s.Do(c.req).Expect(t, c.status, c.errno)
				if c.status == 400 {
					if msg := r.Body["message"].(string); !strings.Contains(msg, "U+0000") && !strings.Contains(msg, "path") && !strings.Contains(msg, "too big") {
						t.Errorf("message %q names neither the character nor the path", msg)
					}
				}
				// The instance's writes go on.
				s.Do(R{Method: "POST", Path: rec, Auth: alice, Body: `{"data":{"t":"ok"}}`}).Expect(t, 201, 0)
			})
		}
		// A filter on a number PostgreSQL cannot hold: bolt matches
		// nothing, PostgreSQL refuses the querystring.
		filter, ferrno := 200, 0
		if strings.Contains(t.Name(), "postgresql") {
			filter, ferrno = 400, 107
		}
		r := s.Do(R{Method: "GET", Path: rec + "?n=1e999999", Auth: alice}).Expect(t, filter, ferrno)
		if filter == 400 && r.Body["details"].([]any)[0].(map[string]any)["location"] != "querystring" {
			t.Errorf("filter refused at %v, want querystring", r.Body["details"])
		}
	})
}
