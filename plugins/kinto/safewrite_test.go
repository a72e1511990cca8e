package kinto_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/storage/bolt"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

// TestConcurrentSafeWrites sends concurrent writes of one record that
// each depend on the version they read, on bolt and on PostgreSQL with two
// instances sharing the database (whose writers interleave):
//   - PATCHes with the same If-Match: exactly one wins, the others get 412;
//   - PATCHes without If-Match, each adding its own field: every field
//     is there at the end (no update lost between the read and the write).
func TestConcurrentSafeWrites(t *testing.T) {
	onBoltAndTwoInstances(t, concurrentSafeWrites)
}

// onBoltAndTwoInstances runs check on bolt (s and other are one server)
// and on PostgreSQL with two instances sharing a database, whose
// writers interleave (s and other are one each).
func onBoltAndTwoInstances(t *testing.T, check func(t *testing.T, s, other *apitest.Server)) {
	onBoltAndTwoInstancesWith(t, nil, check)
}

// onBoltAndTwoInstancesWith is onBoltAndTwoInstances with settings.
func onBoltAndTwoInstancesWith(t *testing.T, settings map[string]string, check func(t *testing.T, s, other *apitest.Server)) {
	t.Run("bolt", func(t *testing.T) {
		b, err := bolt.Open(filepath.Join(t.TempDir(), "nimbus.db"), bolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		s := apitest.NewWithBackend(t, b, settings)
		check(t, s, s)
	})
	t.Run("postgresql-two-instances", func(t *testing.T) {
		url := pgtest.Start(t).NewDatabase(t)
		var servers []*apitest.Server
		for i := 0; i < 2; i++ {
			servers = append(servers, apitest.NewPostgresConns(t, url, 10, settings))
		}
		check(t, servers[0], servers[1])
	})
}

func concurrentSafeWrites(t *testing.T, s, other *apitest.Server) {
	{
		auth := apitest.Basic("alice", "pw")
		rec := "/v1/buckets/b/collections/c/records/r"
		for _, p := range []string{"/v1/buckets/b", "/v1/buckets/b/collections/c", rec} {
			s.Do(apitest.Req{Method: "PUT", Path: p, Auth: auth, Body: `{"data":{}}`}).Expect(t, 201, 0)
		}
		const writers = 12
		patch := func(i int, body, ifMatch string) int {
			srv := s
			if i%2 == 1 {
				srv = other
			}
			// An empty If-Match is left out.
			return statusOf(t, srv, apitest.Req{Method: "PATCH", Path: rec, Auth: auth, Body: body, Headers: map[string]string{"If-Match": ifMatch}})
		}
		for round := 0; round < 5; round++ {
			etag := s.Do(apitest.Req{Method: "GET", Path: rec, Auth: auth}).Expect(t, 200, 0).Header.Get("ETag")
			oneWins(t, fmt.Sprintf("round %d, If-Match %s", round, etag), writers, 200, 412, func(i int) int {
				return patch(i, fmt.Sprintf(`{"data":{"winner":%d}}`, i), etag)
			})
		}
		var wg sync.WaitGroup
		for i := 0; i < writers; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				if c := patch(i, fmt.Sprintf(`{"data":{"f%d":true}}`, i), ""); c != 200 {
					t.Errorf("PATCH f%d: %d", i, c)
				}
			}(i)
		}
		wg.Wait()
		data, _ := s.Do(apitest.Req{Method: "GET", Path: rec, Auth: auth}).Expect(t, 200, 0).Body["data"].(map[string]any)
		for i := 0; i < writers; i++ {
			if data[fmt.Sprintf("f%d", i)] != true {
				t.Errorf("field f%d lost: %v", i, data)
			}
		}
	}
}

// TestConcurrentCreationsOfOneID creates one id at once through both
// instances, with POST (data.id) and with PUT: exactly one request creates
// it (201), the others get the object it created (200), never a conflict.
// POST read a client's id without the list's lock, and a creation
// committing meanwhile made it a 409.
func TestConcurrentCreationsOfOneID(t *testing.T) {
	onBoltAndTwoInstancesWith(t, usualSettings, func(t *testing.T, s, other *apitest.Server) {
		auth := apitest.Basic("alice", "pw")
		for _, p := range []string{"/v1/buckets/b", "/v1/buckets/b/collections/c"} {
			s.Do(apitest.Req{Method: "PUT", Path: p, Auth: auth, Body: `{}`}).Expect(t, 201, 0)
		}
		records := "/v1/buckets/b/collections/c/records"
		const writers = 12
		for round := 0; round < 20; round++ {
			for _, method := range []string{"POST", "PUT"} {
				id := fmt.Sprintf("%s-%d", strings.ToLower(method), round)
				oneWins(t, method+" "+id, writers, 201, 200, func(i int) int {
					srv, path := s, records
					if i%2 == 1 {
						srv = other
					}
					body := fmt.Sprintf(`{"data":{"id":%q,"i":%d}}`, id, i)
					if method == "PUT" {
						path, body = records+"/"+id, fmt.Sprintf(`{"data":{"i":%d}}`, i)
					}
					return statusOf(t, srv, apitest.Req{Method: method, Path: path, Auth: auth, Body: body})
				})
			}
		}
	})
}

// oneWins sends n requests at once (do sends the i-th and returns its
// status): exactly one must get won, every other lost.
func oneWins(t *testing.T, what string, n, won, lost int, do func(i int) int) {
	t.Helper()
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			codes[i] = do(i)
		}(i)
	}
	wg.Wait()
	wins := 0
	for _, c := range codes {
		switch c {
		case won:
			wins++
		case lost:
		default:
			t.Errorf("%s: status %d (%v)", what, c, codes)
		}
	}
	if wins != 1 {
		t.Errorf("%s: %d requests got %d (%v)", what, wins, won, codes)
	}
}
