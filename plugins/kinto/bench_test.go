package kinto_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/bolt"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

// BenchmarkHandlers measures the handler chain in process (no network) on
// a bolt file, for profiling: go test -bench Handlers -cpuprofile cpu.out.
func BenchmarkHandlers(b *testing.B) {
	backend, err := bolt.Open(filepath.Join(b.TempDir(), "b.db"), bolt.Options{NoSync: os.Getenv("NIMBUS_BENCH_NOSYNC") != ""})
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
	for i := 0; i < 2000; i++ {
		s.Do(apitest.Req{Method: "PUT", Path: fmt.Sprintf("/v1/buckets/b/collections/c/records/x%05d", i), Auth: auth,
			Body: fmt.Sprintf(`{"data":{"title":"record %d","status":"%s","n":%d}}`, i, []string{"active", "inactive"}[i%2], i)})
	}
	run("Root", "/v1/", "")
	run("GetRecord", "/v1/buckets/b/collections/c/records/r1", auth)
	run("ListRecords", "/v1/buckets/b/collections/c/records?_limit=10&_sort=-last_modified", auth)
	run("ListFiltered", "/v1/buckets/b/collections/c/records?_limit=10&status=active", auth)
}

// BenchmarkReadsUsualPostgres measures reads in process on PostgreSQL
// under Kinto's usual configuration (account Basic auth, history), the
// path of the record GET and list goals of docs/performance.md; cpu-µs/op
// (this process only, PostgreSQL not counted) and allocs/op are the
// figures to compare between builds:
//
//	go test -run XXX -bench ReadsUsualPostgres -benchmem ./plugins/kinto/
func BenchmarkReadsUsualPostgres(b *testing.B) {
	if testing.Short() {
		b.Skip("starts PostgreSQL")
	}
	s, auth := usualPostgres(b)
	for i := 0; i < 200; i++ {
		s.Do(apitest.Req{Method: "PUT", Path: fmt.Sprintf("/v1/buckets/b/collections/c/records/x%05d", i), Auth: auth,
			Body: fmt.Sprintf(`{"data":{"title":"record %d","status":"%s","n":%d}}`, i, []string{"active", "inactive"}[i%2], i)}).Expect(b, 201, 0)
	}
	for _, c := range []struct{ name, path string }{
		{"GetRecord", "/v1/buckets/b/collections/c/records/x00001"},
		{"ListNewest", "/v1/buckets/b/collections/c/records?_limit=10&_sort=-last_modified"},
		{"ListFiltered", "/v1/buckets/b/collections/c/records?_limit=10&status=active"},
	} {
		b.Run(c.name, func(b *testing.B) {
			// Eight clients a P at once (sixteen on two cores), as under
			// load: alone, a request waits for its barrier's round trip
			// while the runtime spins.
			runClients(b, s, 8, 200, func() *http.Request {
				req, _ := http.NewRequest("GET", "http://localhost"+c.path, nil)
				req.Header.Set("Authorization", auth)
				return req
			})
		})
	}
}

// BenchmarkPostUsualPostgres creates records with POST from sixteen
// clients at once on PostgreSQL under Kinto's usual configuration, the
// path of the POST goal of docs/performance.md. As for the reads,
// cpu-µs/op (this process only) and allocs/op are the figures to compare
// between builds; the requests' rate here says little, PostgreSQL running
// on the same cores. GOGC=400 paces the collector about as the server
// does (cmd/nimbus/cli/gc.go); at Go's default it takes almost as much
// CPU again here:
//
//	GOGC=400 go test -run XXX -bench PostUsualPostgres -benchmem ./plugins/kinto/
func BenchmarkPostUsualPostgres(b *testing.B) {
	if testing.Short() {
		b.Skip("starts PostgreSQL")
	}
	s, auth := usualPostgres(b)
	const body = `{"data":{"title":"two","status":"active","n":1}}`
	// Sixteen clients in all: RunParallel starts parallelism × GOMAXPROCS.
	runClients(b, s, max(1, 16/runtime.GOMAXPROCS(0)), 201, func() *http.Request {
		req, _ := http.NewRequest("POST", "http://localhost/v1/buckets/b/collections/c/records", strings.NewReader(body))
		req.Header.Set("Authorization", auth)
		req.Header.Set("Content-Type", "application/json")
		return req
	})
}

// usualPostgres starts PostgreSQL and a server on it under Kinto's usual
// configuration, with the account bench (password pw) and its bucket b
// and collection c; it returns the server and bench's Authorization.
func usualPostgres(b *testing.B) (*apitest.Server, string) {
	s := apitest.NewWithBackend(b, pgtest.Start(b).Open(b), usualSettings)
	auth := apitest.Basic("bench", "pw")
	s.Do(apitest.Req{Method: "PUT", Path: "/v1/accounts/bench", Body: `{"data":{"password":"pw"}}`}).Expect(b, 201, 0)
	for _, p := range []string{"/v1/buckets/b", "/v1/buckets/b/collections/c"} {
		s.Do(apitest.Req{Method: "PUT", Path: p, Auth: auth, Body: `{}`}).Expect(b, 201, 0)
	}
	return s, auth
}

// runClients serves the requests newReq makes from parallelism ×
// GOMAXPROCS clients at once, each expecting status want, and reports
// allocations and this process's CPU a request (cpu-µs/op).
func runClients(b *testing.B, s *apitest.Server, parallelism, want int, newReq func() *http.Request) {
	b.ReportAllocs()
	b.SetParallelism(parallelism)
	cpu := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rec := httptest.NewRecorder()
			s.App.ServeHTTP(rec, newReq())
			if rec.Code != want {
				b.Error(rec.Code, rec.Body.String())
				return
			}
		}
	})
	if cpu > 0 {
		b.ReportMetric(float64((processCPU()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
	}
}

// usualSettings is Kinto's usual configuration (docs/kinto-usual.ini):
// history on, accounts then Basic auth.
var usualSettings = map[string]string{"includes": "default_bucket history accounts flush", "multiauth.policies": "account basicauth",
	"account_create_principals": "system.Everyone", "account_write_principals": "account:admin",
	"bucket_create_principals": "system.Authenticated", "bucket_read_principals": "system.Authenticated", "account_bcrypt_cost": "4"}

func withSetting(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for mk, mv := range m {
		if mk != k {
			out[mk] = mv
		}
	}
	return out
}

// BenchmarkBatch25 sends batches of 25 record creations from 8 clients a
// P at once, with the zero-configuration plugins and with Kinto's usual
// configuration (history on, account Basic auth):
//
//	go test -run XXX -bench Batch25 -cpuprofile /tmp/batch.prof ./plugins/kinto/
func BenchmarkBatch25(b *testing.B) {
	for _, c := range []struct {
		name     string
		settings map[string]string
	}{{"basicauth", nil}, {"usual", usualSettings}, {"usual-nohistory", withSetting(usualSettings, "includes", "default_bucket accounts flush")}} {
		b.Run(c.name, func(b *testing.B) {
			backend, err := bolt.Open(filepath.Join(b.TempDir(), "b.db"), bolt.Options{NoSync: os.Getenv("NIMBUS_BENCH_NOSYNC") != ""})
			if err != nil {
				b.Fatal(err)
			}
			benchBatch25(b, backend, c.settings)
		})
	}
	b.Run("usual-postgres", func(b *testing.B) {
		if testing.Short() {
			b.Skip("starts PostgreSQL")
		}
		benchBatch25(b, pgtest.Start(b).Open(b), usualSettings)
	})
}

func benchBatch25(b *testing.B, backend storage.Backend, settings map[string]string) {
	s := apitest.NewWithBackend(b, backend, settings)
	auth := apitest.Basic("bench", "pw")
	if settings != nil {
		s.Do(apitest.Req{Method: "PUT", Path: "/v1/accounts/bench", Body: `{"data":{"password":"pw"}}`})
	}
	for _, p := range []string{"/v1/buckets/b", "/v1/buckets/b/collections/c"} {
		s.Do(apitest.Req{Method: "PUT", Path: p, Auth: auth, Body: `{}`})
	}
	var sb strings.Builder
	sb.WriteString(`{"defaults":{"method":"POST","path":"/buckets/b/collections/c/records"},"requests":[`)
	for i := 0; i < 25; i++ {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `{"body":{"data":{"title":"batch %d","status":"active","n":%d}}}`, i, i)
	}
	sb.WriteString("]}")
	body := sb.String()
	runClients(b, s, 8, 200, func() *http.Request {
		req, _ := http.NewRequest("POST", "http://localhost/v1/batch", strings.NewReader(body))
		req.Header.Set("Authorization", auth)
		req.Header.Set("Content-Type", "application/json")
		return req
	})
}
