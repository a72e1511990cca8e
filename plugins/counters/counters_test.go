package counters_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/storage/bolt"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

type R = apitest.Req

var alice = apitest.Basic("alice", "pw")

var settings = map[string]string{"includes": "counters history", "bucket_create_principals": "system.Authenticated"}

func counters(t *testing.T, s *apitest.Server) (objects, tombstones map[string]int) {
	t.Helper()
	r := s.Do(R{Method: "GET", Path: "/v1/__counters__"}).Expect(t, 200, 0)
	var body struct{ Objects, Tombstones map[string]int }
	if err := json.Unmarshal(r.Raw, &body); err != nil {
		t.Fatal(err)
	}
	return body.Objects, body.Tombstones
}

func TestCounters(t *testing.T) {
	open := map[string]func(t *testing.T) *apitest.Server{
		"memory": func(t *testing.T) *apitest.Server { return apitest.New(t, settings) },
		"bolt": func(t *testing.T) *apitest.Server {
			b, err := bolt.Open(filepath.Join(t.TempDir(), "n.db"), bolt.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return apitest.NewWithBackend(t, b, settings)
		},
		"postgresql": func(t *testing.T) *apitest.Server {
			return apitest.NewPostgres(t, pgtest.Start(t).NewDatabase(t), settings)
		},
	}
	for name, mk := range open {
		t.Run(name, func(t *testing.T) {
			s := mk(t)
			if o, ts := counters(t, s); len(o) != 0 || len(ts) != 0 {
				t.Fatalf("empty server: %v %v", o, ts)
			}
			steps := []struct {
				method, path string
				status       int
			}{
				{"PUT", "/v1/buckets/b", 201}, {"PUT", "/v1/buckets/b2", 201},
				{"PUT", "/v1/buckets/b/collections/c", 201}, {"PUT", "/v1/buckets/b/collections/d", 201},
				{"PUT", "/v1/buckets/b/groups/g", 201},
			}
			for i := 0; i < 5; i++ {
				steps = append(steps, struct {
					method, path string
					status       int
				}{"PUT", fmt.Sprintf("/v1/buckets/b/collections/c/records/r%d", i), 201})
			}
			steps = append(steps, []struct {
				method, path string
				status       int
			}{{"PUT", "/v1/buckets/b/collections/d/records/x", 201}, {"DELETE", "/v1/buckets/b/collections/c/records/r0", 200},
				{"DELETE", "/v1/buckets/b/collections/c/records/r1", 200}}...)
			for _, st := range steps {
				s.Do(R{Method: st.method, Path: st.path, Auth: alice, Body: `{"data":{"members":[]}}`}).Expect(t, st.status, 0)
			}
			o, ts := counters(t, s)
			want := map[string]int{"bucket": 2, "collection": 2, "group": 1, "record": 4, "history": 13}
			for k, v := range want {
				if o[k] != v {
					t.Errorf("objects %v, want %v", o, want)
					break
				}
			}
			if ts["record"] != 2 || len(ts) != 1 {
				t.Errorf("tombstones %v", ts)
			}
			// A collection deleted with its records: the records go
			// without tombstones (they went with their parent).
			s.Do(R{Method: "DELETE", Path: "/v1/buckets/b/collections/d", Auth: alice}).Expect(t, 200, 0)
			o, ts = counters(t, s)
			if o["record"] != 3 || o["collection"] != 1 || ts["collection"] != 1 || ts["record"] != 2 {
				t.Errorf("after a cascade: %v %v", o, ts)
			}
			// Zero counts are left out.
			s.Do(R{Method: "DELETE", Path: "/v1/buckets/b/groups/g", Auth: alice}).Expect(t, 200, 0)
			if o, _ := counters(t, s); o["group"] != 0 {
				t.Errorf("group %v", o)
			} else if _, present := o["group"]; present {
				t.Error("zero counts are left out")
			}
			caps := s.Do(R{Method: "GET", Path: "/v1/"}).Body["capabilities"].(map[string]any)
			if caps["counters_endpoint"] == nil {
				t.Error("capability")
			}
		})
	}
}

// TestCountersAcrossInstances: on a shared database, a write through
// another instance shows in the counts.
func TestCountersAcrossInstances(t *testing.T) {
	url := pgtest.Start(t).NewDatabase(t)
	a, b := apitest.NewPostgres(t, url, settings), apitest.NewPostgres(t, url, settings)
	a.Do(R{Method: "PUT", Path: "/v1/buckets/one", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
	if o, _ := counters(t, a); o["bucket"] != 1 {
		t.Fatalf("%v", o)
	}
	b.Do(R{Method: "PUT", Path: "/v1/buckets/two", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
	for i := 0; i < 50; i++ {
		if o, _ := counters(t, a); o["bucket"] == 2 {
			return
		}
		a.Do(R{Method: "GET", Path: "/v1/__heartbeat__"})
	}
	t.Error("a bucket created through the other instance is never counted")
}
