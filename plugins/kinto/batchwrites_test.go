package kinto_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

// TestBatchWritesAnswerAlike: batches of writes to one list, where one
// PostgreSQL transaction reads all the objects its sub-requests name at
// once before running them (storage.Prefetcher), answer exactly as on
// bolt, which reads each as it comes: replacements, revived tombstones,
// failed preconditions rolled back, the same id written twice, deleted
// then written again, read back in the same batch.
func TestBatchWritesAnswerAlike(t *testing.T) {
	batches := []string{
		`[{"path":"/buckets/b/collections/c/records/r1","body":{"data":{"v":10}}},
		  {"path":"/buckets/b/collections/c/records/r2","body":{"data":{"v":20}},"headers":{"If-Match":"\"1\""}},
		  {"path":"/buckets/b/collections/c/records/r3","body":{"data":{"v":3}}},
		  {"path":"/buckets/b/collections/c/records/r4","body":{"data":{"v":4}}},
		  {"method":"PATCH","path":"/buckets/b/collections/c/records/r1","body":{"data":{"w":1}}},
		  {"method":"DELETE","path":"/buckets/b/collections/c/records/r2"},
		  {"path":"/buckets/b/collections/c/records/r2","body":{"data":{"v":22}}},
		  {"method":"GET","path":"/buckets/b/collections/c/records/r1"}]`,
		`[{"path":"/buckets/b/collections/c/records/r5","body":{"data":{"v":5}},"headers":{"If-None-Match":"*"}},
		  {"path":"/buckets/b/collections/c/records/r5","body":{"data":{"v":55}},"headers":{"If-None-Match":"*"}},
		  {"method":"PATCH","path":"/buckets/b/collections/c/records/missing","body":{"data":{"v":0}}},
		  {"method":"DELETE","path":"/buckets/b/collections/c/records/r4"},
		  {"method":"DELETE","path":"/buckets/b/collections/c/records/r4"},
		  {"path":"/buckets/b/collections/c/records/r1?_fields=v","body":{"data":{"v":11}}},
		  {"path":"/buckets/b/collections/c/records/r6","body":{"data":{"v":6}}},
		  {"path":"/buckets/b/collections/c/records/r3","body":{"data":{"v":33},"permissions":{"read":["system.Everyone"]}}},
		  {"method":"PATCH","path":"/buckets/b/collections/c/records/r3","body":{"permissions":{"write":["account:x"]}}},
		  {"method":"GET","path":"/buckets/b/collections/c/records/r3"}]`,
		// Objects' ACLs read ahead answer until a failed sub-request rolls
		// back to its savepoint.
		`[{"method":"PATCH","path":"/buckets/b/collections/c/records/r3","body":{"data":{"w":3}}},
		  {"path":"/buckets/b/collections/c/records/r3","body":{"data":{"v":333}},"headers":{"Authorization":"` + bob + `"}},
		  {"path":"/buckets/b/collections/c/records/r6","body":{"data":{"v":66}},"headers":{"Authorization":"` + bob + `"}},
		  {"path":"/buckets/b/collections/c/records/r1","body":{"data":{"v":111}}},
		  {"method":"GET","path":"/buckets/b/collections/c/records/r3","headers":{"Authorization":"` + bob + `"}}]`,
	}
	transcripts := map[string]string{}
	run := func(name string) func(t *testing.T, s *apitest.Server) {
		return func(t *testing.T, s *apitest.Server) {
			s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: alice}).Expect(t, 201, 0)
			s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: alice}).Expect(t, 201, 0)
			for _, id := range []string{"r1", "r2", "r3"} {
				s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c/records/" + id, Auth: alice, Body: `{"data":{"v":0}}`}).Expect(t, 201, 0)
			}
			s.Do(R{Method: "DELETE", Path: "/v1/buckets/b/collections/c/records/r3", Auth: alice}).Expect(t, 200, 0)
			var out []string
			for i, b := range batches {
				r := s.Do(R{Method: "POST", Path: "/v1/batch", Body: `{"defaults":{"method":"PUT","headers":{"Authorization":"` + alice + `"}},"requests":` + b + `}`})
				if r.Status != 200 {
					t.Fatalf("batch %d: %d %s", i, r.Status, r.Raw)
				}
				for j, sub := range responses(t, r) {
					out = append(out, fmt.Sprintf("%d.%d %d %s", i, j, status(sub), stable(sub["body"])))
				}
			}
			list := s.Do(R{Method: "GET", Path: "/v1/buckets/b/collections/c/records?_sort=id", Auth: alice})
			out = append(out, "list "+stable(list.Body["data"]))
			transcripts[name] = strings.Join(out, "\n")
		}
	}
	onBackends(t, nil, func(t *testing.T, s *apitest.Server) {
		name := "bolt"
		if strings.Contains(t.Name(), "postgresql") {
			name = "postgresql"
		}
		run(name)(t, s)
	})
	if transcripts["bolt"] == "" || transcripts["postgresql"] == "" {
		t.Fatal("a backend did not run")
	}
	if transcripts["bolt"] != transcripts["postgresql"] {
		t.Errorf("bolt answered\n%s\n\nPostgreSQL answered\n%s", transcripts["bolt"], transcripts["postgresql"])
	}
}

// stable is v's JSON without what differs between two runs (timestamps).
func stable(v any) string {
	var strip func(any) any
	strip = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			out := map[string]any{}
			for k, e := range x {
				if k != "last_modified" {
					out[k] = strip(e)
				}
			}
			return out
		case []any:
			out := make([]any, len(x))
			for i, e := range x {
				out[i] = strip(e)
			}
			return out
		}
		return v
	}
	b, _ := json.Marshal(strip(v))
	return string(b)
}
