package kinto_test

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/storage/bolt"
)

// BenchmarkHandlers measures the handler chain in process (no network) on
// a bolt file, for profiling: go test -bench Handlers -cpuprofile cpu.out.
func BenchmarkHandlers(b *testing.B) {
	backend, err := bolt.Open(filepath.Join(b.TempDir(), "b.db"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	s := apitest.NewWithBackend(b, backend, nil)
	auth := apitest.Basic("bench", "pw")
	for _, p := range []string{"/v1/buckets/b", "/v1/buckets/b/collections/c", "/v1/buckets/b/collections/c/records/r1"} {
		s.Do(apitest.Req{Method: "PUT", Path: p, Auth: auth, Body: `{"data":{"title":"x","status":"active","n":1}}`})
	}
	run := func(name, path, auth string) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			req, _ := http.NewRequest("GET", "http://localhost"+path, nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			for i := 0; i < b.N; i++ {
				rec := httptest.NewRecorder()
				s.App.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatal(rec.Code, rec.Body.String())
				}
			}
		})
	}
	run("Root", "/v1/", "")
	run("GetRecord", "/v1/buckets/b/collections/c/records/r1", auth)
	run("ListRecords", "/v1/buckets/b/collections/c/records?_limit=10", auth)
}
