package kinto_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
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
	fuzzBodies(f, apitest.New(f, nil))
}

// FuzzRequestBodyPostgres is FuzzRequestBody on PostgreSQL, whose JSON
// refuses what Go's accepts (NUL in strings and keys, lone surrogates,
// numbers beyond its range), with those among the seeds:
//
//	go test -run XXX -fuzz FuzzRequestBodyPostgres -fuzztime 5m ./plugins/kinto/
func FuzzRequestBodyPostgres(f *testing.F) {
	if testing.Short() {
		f.Skip("starts PostgreSQL")
	}
	rec := "/v1/buckets/b/collections/c/records"
	for _, body := range []string{
		`{"data":{"a":"\u0000"}}`, `{"data":{"\u0000":1}}`, `{"data":{"a":"\ud800"}}`, `{"data":{"\udfff\ud800":1}}`,
		`{"data":{"a":1e400}}`, `{"data":{"a":-0,"b":1e-400,"c":123456789012345678901234567890}}`,
		`{"data":{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}`,
		`{"data":{"a":"x"},"permissions":{"read":["\u0000"]}}`, `{"data":{"id":"\u0000"}}`,
	} {
		f.Add("POST", rec, "application/json", []byte(body))
		f.Add("PUT", rec+"/r", "application/json", []byte(body))
		f.Add("PATCH", rec+"/r", "application/merge-patch+json", []byte(body))
	}
	f.Add("GET", rec+"?a=%00&_sort=\u0000", "", []byte(nil))
	f.Add("GET", rec+"?contains_a=[\u0000]&has_\u0000=1", "", []byte(nil))
	fuzzBodies(f, apitest.NewWithBackend(f, pgtest.Start(f).Open(f), nil))
}

// fuzzBodies runs the fuzz function of FuzzRequestBody against s.
func fuzzBodies(f *testing.F, s *apitest.Server) {
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
