package defaultbucket_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/storage/bolt"
	"github.com/nimbus-server/nimbus/storage/memory"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

// eachBackend runs fn on a server of each backend with the default
// bucket plugin.
func eachBackend(t *testing.T, fn func(t *testing.T, s *apitest.Server)) {
	settings := func(backend string) map[string]string {
		return map[string]string{"storage_backend": backend, "includes": "default_bucket", "default_bucket_hmac_secret": "s3"}
	}
	for _, c := range []struct {
		name string
		new  func(t *testing.T) *apitest.Server
	}{
		{"memory", func(t *testing.T) *apitest.Server { return apitest.NewWithBackend(t, memory.New(), settings("memory")) }},
		{"bolt", func(t *testing.T) *apitest.Server {
			b, err := bolt.Open(filepath.Join(t.TempDir(), "nimbus.db"), bolt.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			return apitest.NewWithBackend(t, b, settings("bolt"))
		}},
		{"postgresql", func(t *testing.T) *apitest.Server {
			return apitest.NewWithBackend(t, pgtest.Start(t).Open(t), settings("postgresql"))
		}},
	} {
		t.Run(c.name, func(t *testing.T) { fn(t, c.new(t)) })
	}
}

// TestFirstUseAtOnce: a client's first requests to its personal bucket
// often go at once (kinto.js syncing several collections). Each one
// creates the bucket and the collection, or finds them created by
// another; all must succeed. On PostgreSQL, concurrent writes share a
// transaction, and a request whose creation found the bucket made by an
// earlier one of its group was answered before that group committed: it
// then read the bucket's permissions without the creator's, and was
// refused as if the bucket were someone else's (70 of 80 requests). On
// bolt, the same with a write found in the layer not yet flushed (42 to
// 54 of 80).
func TestFirstUseAtOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *apitest.Server) {
		const requests = 8
		for u := 0; u < 6; u++ {
			auth := apitest.Basic(fmt.Sprintf("user%d", u), "pw")
			codes := make([]int, requests)
			bodies := make([]string, requests)
			var wg sync.WaitGroup
			for i := range codes {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					path := "/v1/buckets/default/collections/tasks/records"
					if i%2 == 1 {
						path = fmt.Sprintf("/v1/buckets/default/collections/c%d/records", i)
					}
					res, err := s.Send(R{Method: "POST", Path: path, Auth: auth, Body: `{"data":{"x":1}}`})
					if err != nil {
						t.Error(err)
						return
					}
					codes[i], bodies[i] = res.Status, string(res.Raw)
				}(i)
			}
			wg.Wait()
			for i, code := range codes {
				if code != 201 {
					t.Errorf("user%d, request %d: %d %s", u, i, code, bodies[i])
				}
			}
			got := s.Do(R{Method: "GET", Path: "/v1/buckets/default/collections/tasks/records", Auth: auth}).Expect(t, 200, 0)
			if n := len(got.Body["data"].([]any)); n != requests/2 {
				t.Errorf("user%d: %d records in tasks, want %d", u, n, requests/2)
			}
		}
	})
}

// TestImpliedCreationInABatch: a batch's GET of a missing record of the
// personal bucket answers 404 and, as alone and as in Kinto 26.2 (on
// PostgreSQL too), leaves the bucket and the collection created; the
// batch rolled them back with the failed sub-request, and the next
// request on the real URL found no bucket (403).
func TestImpliedCreationInABatch(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *apitest.Server) {
		for i, reqs := range []string{
			`{"method":"GET","path":"/buckets/default/collections/tasks/records/none"}`,
			`{"method":"GET","path":"/buckets/elsewhere"},{"method":"GET","path":"/buckets/default/collections/tasks/records/none"}`,
			`{"method":"PUT","path":"/buckets/default/collections/tasks/records/r","body":{"data":"not an object"}}`,
		} {
			auth := apitest.Basic(fmt.Sprintf("batcher%d", i), "pw")
			r := s.Do(R{Method: "POST", Path: "/v1/batch", Auth: auth, Body: `{"requests":[` + reqs + `]}`}).Expect(t, 200, 0)
			subs := r.Body["responses"].([]any)
			if last := fmt.Sprint(subs[len(subs)-1].(map[string]any)["status"]); last != "404" && last != "400" {
				t.Fatalf("%s: sub-request status %s", reqs, last)
			}
			me := s.Do(R{Method: "GET", Path: "/v1/", Auth: auth}).Expect(t, 200, 0)
			bucket := me.Body["user"].(map[string]any)["bucket"].(string)
			s.Do(R{Method: "GET", Path: "/v1/buckets/" + bucket, Auth: auth}).Expect(t, 200, 0)
			s.Do(R{Method: "GET", Path: "/v1/buckets/" + bucket + "/collections/tasks", Auth: auth}).Expect(t, 200, 0)
			s.Do(R{Method: "GET", Path: "/v1/buckets/" + bucket + "/collections/tasks/records/r", Auth: auth}).Expect(t, 404, 110)
		}
	})
}
