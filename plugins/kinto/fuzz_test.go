package kinto_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

// FuzzRequestBody sends arbitrary bodies, content types and paths through
// the whole handler chain: nothing may answer 5xx or with a body that is
// not Kinto's error JSON.
func FuzzRequestBody(f *testing.F) {
	seeds := []struct{ method, path, ct, body string }{
		{"POST", "/v1/buckets/b/collections/c/records", "application/json", `{"data":{"a":1},"permissions":{"read":["x"]}}`},
		{"PUT", "/v1/buckets/b/collections/c/records/r", "application/json", `{"data":{"id":"r"}}`},
		{"PATCH", "/v1/buckets/b/collections/c/records/r", "application/json-patch+json", `[{"op":"add","path":"/data/x","value":1}]`},
		{"PATCH", "/v1/buckets/b/collections/c/records/r", "application/merge-patch+json", `{"data":{"a":null}}`},
		{"PATCH", "/v1/buckets/b/groups/g", "application/json", `{"data":{"members":["x"]}}`},
		{"PUT", "/v1/buckets/b/collections/c", "application/json", `{"data":{"schema":{"type":"object"}}}`},
		{"POST", "/v1/buckets", "application/json", `{"data":{"id":"x"}}`},
		{"GET", "/v1/buckets/b/collections/c/records?_sort=-a,b&in_a=1,2&_token=e30=", "", ""},
		{"POST", "/v1/buckets/b/collections/c/records", "application/json", `[[[[[[[]]]]]]]`},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.ct, []byte(s.body))
	}
	s := apitest.New(f, nil)
	auth := apitest.Basic("alice", "x")
	for _, p := range []string{"/v1/buckets/b", "/v1/buckets/b/collections/c", "/v1/buckets/b/collections/c/records/r", "/v1/buckets/b/groups/g"} {
		s.Do(apitest.Req{Method: "PUT", Path: p, Auth: auth, Body: "{}"})
	}
	f.Fuzz(func(t *testing.T, method, path, ct string, body []byte) {
		switch method {
		case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE":
		default:
			method = "POST"
		}
		if len(path) == 0 || path[0] != '/' {
			path = "/v1/buckets/b/collections/c/records/" + path
		}
		req, err := http.NewRequest(method, "http://nimbus.test/", bytes.NewReader(body))
		if err != nil {
			return
		}
		req.URL.Path = path
		req.URL.RawQuery = ""
		if i := bytes.IndexByte([]byte(path), '?'); i >= 0 {
			req.URL.Path, req.URL.RawQuery = path[:i], path[i+1:]
		}
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		s.App.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s (%q): %d %s", method, path, body, rec.Code, rec.Body.Bytes())
		}
		if rec.Code >= 400 && method != "HEAD" {
			var e map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e["errno"] == nil {
				t.Fatalf("%d answer is not Kinto's error JSON: %s", rec.Code, rec.Body.Bytes())
			}
		}
	})
}
