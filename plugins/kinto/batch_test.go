package kinto_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

func responses(t *testing.T, r *apitest.Response) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, x := range r.Body["responses"].([]any) {
		out = append(out, x.(map[string]any))
	}
	return out
}

func status(m map[string]any) int {
	n, _ := m["status"].(json.Number).Int64()
	return int(n)
}

func TestBatch(t *testing.T) {
	s := apitest.New(t, nil)
	body := `{"defaults":{"method":"PUT","headers":{"Authorization":"` + alice + `"}},"requests":[
		{"path":"/buckets/b"},
		{"path":"/v1/buckets/b/collections/c","body":{"data":{"x":1}}},
		{"method":"POST","path":"/buckets/b/collections/c/records","body":{"data":{"title":"hello"}}},
		{"method":"GET","path":"/buckets/b/collections/c/records"},
		{"method":"GET","path":"/buckets/b/collections/nope"},
		{"method":"GET","path":"/buckets/b/collections/c/records/","headers":{"Authorization":""}},
		{"method":"HEAD","path":"/buckets/b/collections/c/records"}
	]}`
	r := s.Do(R{Method: "POST", Path: "/v1/batch", Body: body}).Expect(t, 200, 0)
	rs := responses(t, r)
	want := []int{201, 201, 201, 200, 404, 401, 200}
	for i, res := range rs {
		if status(res) != want[i] {
			t.Errorf("response %d: %d, want %d: %v", i, status(res), want[i], res)
		}
	}
	if rs[1]["path"] != "/v1/buckets/b/collections/c" || rs[0]["path"] != "/v1/buckets/b" {
		t.Errorf("paths: %v %v", rs[0]["path"], rs[1]["path"])
	}
	if list := rs[3]["body"].(map[string]any)["data"].([]any); len(list) != 1 {
		t.Errorf("later sub-requests see earlier writes: %v", rs[3])
	}
	if e := rs[4]["body"].(map[string]any); e["errno"].(json.Number).String() != "110" {
		t.Errorf("error in its slot: %v", e)
	}
	if rs[5]["path"] != "/v1/buckets/b/collections/c/records" {
		t.Errorf("redirect followed: %v", rs[5])
	}
	if rs[6]["body"] != "" || rs[6]["headers"].(map[string]any)["Total-Objects"] != "1" {
		t.Errorf("HEAD: %v", rs[6])
	}
	// Header names as Kinto spells them: clients read them as JSON keys.
	if h := rs[0]["headers"].(map[string]any); h["ETag"] == nil || h["Etag"] != nil || h["Last-Modified"] == nil {
		t.Errorf("headers: %v", h)
	}
	// 4xx do not roll back the others.
	s.Do(R{Method: "GET", Path: recs, Auth: alice}).Expect(t, 200, 0)
	cases := []struct {
		name string
		body string
		msg  string
	}{
		{"no requests", `{}`, ""},
		{"requests not a list", `{"requests":{}}`, ""},
		{"request not an object", `{"requests":[1]}`, ""},
		{"unknown key", `{"requests":[{"path":"/x","foo":1}]}`, ""},
		{"unknown top key", `{"requests":[],"x":1}`, ""},
		{"path without slash", `{"requests":[{"path":"buckets"}]}`, ""},
		{"missing path", `{"requests":[{"method":"GET"}]}`, ""},
		{"lower-case method", `{"requests":[{"method":"get","path":"/"}]}`, ""},
		{"header not a string", `{"requests":[{"path":"/","headers":{"X":1}}]}`, ""},
		{"body not an object", `{"requests":[{"path":"/","body":[1]}]}`, ""},
		{"recursive", `{"requests":[{"path":"/batch"}]}`, "Recursive call"},
		{"recursive with prefix", `{"requests":[{"path":"/v1/batch"}]}`, "Recursive call"},
		{"over the limit", `{"requests":[` + strings.TrimSuffix(strings.Repeat(`{"path":"/"},`, 26), ",") + `]}`, "limited to 25"},
		{"not JSON", `{"requests":`, ""},
		// Defaults are checked even where every request overrides them
		// or there is none, as in Kinto.
		{"defaults method unknown", `{"requests":[{"method":"GET","path":"/"}],"defaults":{"method":"x"}}`, "defaults.method"},
		{"defaults path without slash", `{"requests":[{"path":"/"}],"defaults":{"path":"buckets"}}`, "defaults.path"},
		{"defaults headers not an object", `{"requests":[],"defaults":{"headers":"x"}}`, "defaults.headers"},
		{"defaults header not a string", `{"requests":[{"path":"/","headers":{"X":"1"}}],"defaults":{"headers":{"X":1}}}`, "defaults.headers.X"},
		{"defaults body not an object", `{"requests":[],"defaults":{"body":[1]}}`, "defaults.body"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.Do(R{Method: "POST", Path: "/v1/batch", Body: c.body}).Expect(t, 400, 107)
			if c.msg != "" && !strings.Contains(r.Body["message"].(string), c.msg) {
				t.Errorf("message %v", r.Body["message"])
			}
		})
	}
	s.Do(R{Method: "POST", Path: "/v1/batch", Body: "{}", Headers: map[string]string{"Content-Type": "text/plain"}}).Expect(t, 415, 107)
	empty := s.Do(R{Method: "POST", Path: "/v1/batch", Body: `{"requests":[]}`}).Expect(t, 200, 0)
	if len(responses(t, empty)) != 0 {
		t.Error("an empty batch answers an empty list")
	}
	unlimited := apitest.New(t, map[string]string{"batch_max_requests": "0"})
	unlimited.Do(R{Method: "POST", Path: "/v1/batch", Body: `{"requests":[` + strings.TrimSuffix(strings.Repeat(`{"path":"/"},`, 40), ",") + `]}`}).Expect(t, 200, 0)
}

// failing is a plugin whose listener fails on demand, to test rollbacks.
type failing struct{ status int }

func (f *failing) Name() string { return "failing" }
func (f *failing) Register(r *resource.Registry) error {
	r.AddListener(resource.Listener{Resources: []string{"record"}, BeforeCommit: func(tx storage.Tx, ev *resource.Event) error {
		if ev.Impacted[0].New["boom"] == true {
			return &resource.Error{Status: f.status, Errno: 999, Message: "boom"}
		}
		return nil
	}})
	return nil
}

func TestBatchRollback(t *testing.T) {
	for _, c := range []struct {
		status   int
		batch    int
		kept     bool
		response bool
	}{{500, 500, false, false}, {503, 503, false, false}, {409, 200, false, true}, {403, 200, true, true}} {
		t.Run(fmt.Sprint(c.status), func(t *testing.T) {
			f := &failing{status: c.status}
			s := apitest.New(t, map[string]string{"includes": "failing"}, map[string]func() resource.Plugin{"failing": func() resource.Plugin { return f }})
			setup(t, s)
			body := `{"defaults":{"method":"PUT","headers":{"Authorization":"` + alice + `"}},"requests":[
				{"path":"/buckets/b/collections/c/records/ok"},
				{"path":"/buckets/b/collections/c/records/bad","body":{"data":{"boom":true}}},
				{"path":"/buckets/b/collections/c/records/after"}]}`
			r := s.Do(R{Method: "POST", Path: "/v1/batch", Body: body})
			if r.Status != c.batch {
				t.Fatalf("batch status %d, want %d: %s", r.Status, c.batch, r.Raw)
			}
			if c.response != (r.Body["responses"] != nil) {
				t.Errorf("responses returned: %s", r.Raw)
			}
			got := s.Do(R{Method: "GET", Path: recs + "?_sort=id", Auth: alice})
			ids := strings.Join(got.IDs(), " ")
			if c.kept && ids != "after ok" || !c.kept && ids != "" {
				t.Errorf("records after the batch: %q", ids)
			}
		})
	}
}

// TestBatchRefusesWhatCannotRunInIt: routes that work outside the
// request's transaction (attachments, counters, the heartbeat) and change
// streams answer in their slot inside a batch (400, 406) instead of
// running there: they waited for the batch's own write transaction, or
// held it open, and every other write of the server waited with them.
// A write right after each batch must be served at once.
func TestBatchRefusesWhatCannotRunInIt(t *testing.T) {
	settings := map[string]string{"includes": "default_bucket history attachments counters changes",
		"bucket_create_principals": "system.Authenticated"}
	run := func(t *testing.T, s *apitest.Server) {
		s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: alice}).Expect(t, 201, 0)
		s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: alice}).Expect(t, 201, 0)
		s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c/records/r", Auth: alice, Body: `{"data":{}}`}).Expect(t, 201, 0)
		for i, c := range []struct {
			name, sub     string
			status, errno int
		}{
			{"attachment DELETE", `{"method":"DELETE","path":"/buckets/b/collections/c/records/r/attachment"}`, 400, 107},
			{"attachment POST", `{"method":"POST","path":"/buckets/b/collections/c/records/r/attachment"}`, 400, 107},
			{"personal bucket attachment", `{"method":"DELETE","path":"/buckets/default/collections/c/records/r/attachment"}`, 400, 107},
			{"counters", `{"method":"GET","path":"/__counters__"}`, 400, 107},
			{"heartbeat", `{"method":"GET","path":"/__heartbeat__"}`, 400, 107},
			{"change stream", `{"method":"GET","path":"/buckets/b/collections","headers":{"Accept":"text/event-stream"}}`, 406, 107},
		} {
			t.Run(c.name, func(t *testing.T) {
				body := `{"requests":[{"method":"PUT","path":"/buckets/b/collections/x` + fmt.Sprint(i) + `"},` + c.sub + `]}`
				rs := responses(t, s.Do(R{Method: "POST", Path: "/v1/batch", Auth: alice, Body: body}).Expect(t, 200, 0))
				if len(rs) != 2 || status(rs[0]) != 201 || status(rs[1]) != c.status {
					t.Fatalf("responses: %v", rs)
				}
				if e := rs[1]["body"].(map[string]any); e["errno"].(json.Number).String() != fmt.Sprint(c.errno) || !strings.Contains(fmt.Sprint(e["message"]), "batch") {
					t.Errorf("error: %v", e)
				}
				s.Do(R{Method: "PATCH", Path: "/v1/buckets/b", Auth: alice, Body: `{"data":{"n":` + fmt.Sprint(i) + `}}`}).Expect(t, 200, 0)
			})
		}
		// Outside a batch the same routes are served.
		s.Do(R{Method: "DELETE", Path: "/v1/buckets/b/collections/c/records/r/attachment", Auth: alice}).Expect(t, 204, 0)
		s.Do(R{Method: "GET", Path: "/v1/__heartbeat__"}).Expect(t, 200, 0)
	}
	t.Run("memory", func(t *testing.T) { run(t, apitest.New(t, settings)) })
	onBackends(t, settings, run)
}
