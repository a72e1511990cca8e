package kinto_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

// TestWritesUnderADeletedParent deletes a collection, or its bucket,
// while writers create records in it through another instance. Whatever
// the interleaving, nothing written may outlive the parent: once the
// parent is created again, it is empty. On PostgreSQL with two instances
// the writers' check of the parent and the deletion ran side by side, and
// records created after the deletion stayed (and came back with the
// parent); on bolt writes run one at a time.
func TestWritesUnderADeletedParent(t *testing.T) {
	onBoltAndTwoInstances(t, writesUnderADeletedParent)
}

func writesUnderADeletedParent(t *testing.T, s, other *apitest.Server) {
	auth := apitest.Basic("alice", "pw")
	const writers = 8
	cases := []struct {
		name string
		// deleted is the parent deleted; recreate the paths that make
		// the collection again.
		deleted  func(bucket string) string
		recreate func(bucket string) []string
	}{
		{"collection", func(b string) string { return "/v1/buckets/" + b + "/collections/c" },
			func(b string) []string { return []string{"/v1/buckets/" + b + "/collections/c"} }},
		{"bucket", func(b string) string { return "/v1/buckets/" + b },
			func(b string) []string { return []string{"/v1/buckets/" + b, "/v1/buckets/" + b + "/collections/c"} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for round := 0; round < 8; round++ {
				bucket := fmt.Sprintf("%s%d", c.name, round)
				records := "/v1/buckets/" + bucket + "/collections/c/records"
				for _, p := range []string{"/v1/buckets/" + bucket, "/v1/buckets/" + bucket + "/collections/c"} {
					s.Do(apitest.Req{Method: "PUT", Path: p, Auth: auth, Body: `{}`}).Expect(t, 201, 0)
				}
				var created atomic.Int64
				started := make(chan struct{})
				var once sync.Once
				var wg sync.WaitGroup
				for w := 0; w < writers; w++ {
					wg.Add(1)
					go func(w int) {
						defer wg.Done()
						// Each writer goes on until the parent is gone for
						// it: its writes straddle the deletion.
						for i := 0; i < 400; i++ {
							var code int
							if i%2 == 0 {
								code = statusOf(t, other, apitest.Req{Method: "POST", Path: records, Auth: auth, Body: `{"data":{"w":1}}`})
							} else {
								code = statusOf(t, other, apitest.Req{Method: "PUT", Path: fmt.Sprintf("%s/w%d-%d", records, w, i), Auth: auth, Body: `{"data":{"w":2}}`})
							}
							switch code {
							case 201:
								if created.Add(1) >= writers {
									once.Do(func() { close(started) })
								}
							case 404, 403:
								// The parent is gone (403: no bucket grants
								// anything any more).
								return
							default:
								t.Errorf("round %d: writer %d got %d", round, w, code)
								return
							}
						}
					}(w)
				}
				<-started
				s.Do(apitest.Req{Method: "DELETE", Path: c.deleted(bucket), Auth: auth}).Expect(t, 200, 0)
				wg.Wait()
				for _, p := range c.recreate(bucket) {
					s.Do(apitest.Req{Method: "PUT", Path: p, Auth: auth, Body: `{}`}).Expect(t, 201, 0)
				}
				for _, srv := range []*apitest.Server{s, other} {
					resp := srv.Do(apitest.Req{Method: "GET", Path: records, Auth: auth}).Expect(t, 200, 0)
					if data, _ := resp.Body["data"].([]any); len(data) != 0 {
						t.Fatalf("round %d: %s deleted while %d records were created, and created again: it holds %d records (%v)",
							round, c.name, created.Load(), len(data), data)
					}
				}
			}
		})
	}
}

// statusOf sends r from a goroutine of its own and returns the answer's
// status (0 after a failure to send, which it reports).
func statusOf(t *testing.T, s *apitest.Server, r apitest.Req) int {
	res, err := s.Send(r)
	if err != nil {
		t.Error(err)
		return 0
	}
	return res.Status
}
