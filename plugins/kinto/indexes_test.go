package kinto_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/bolt"
)

// TestDeclaredIndexes: a collection's indexes are validated (400 errno
// 107), shown like any field, announced by the capability, and, once
// built, answer filtered pages exactly as the scan did, on each backend.
func TestDeclaredIndexes(t *testing.T) {
	onBackends(t, nil, func(t *testing.T, s *apitest.Server) {
		alice := apitest.Basic("alice", "pw")
		s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
		s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
		root := s.Do(R{Method: "GET", Path: "/v1/"}).Body["capabilities"].(map[string]any)
		if c, ok := root["indexes"].(map[string]any); !ok || fmt.Sprint(c["max_per_collection"]) != "16" {
			t.Fatalf("capability %v", root["indexes"])
		}
		bad := []string{`"n"`, `[1]`, `["id"]`, `["last_modified"]`, `["n", "n"]`, `[""]`, `["a..b"]`, `[".a"]`,
			`["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q"]`}
		for _, v := range bad {
			s.Do(R{Method: "PATCH", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: `{"data": {"indexes": ` + v + `}}`}).Expect(t, 400, 107)
		}
		for i := 0; i < 60; i++ {
			body := fmt.Sprintf(`{"data": {"n": %d, "s": "v%d", "owner": {"email": "u%d@x"}}}`, i%7, i%3, i%5)
			s.Do(R{Method: "PUT", Path: fmt.Sprintf("/v1/buckets/b/collections/c/records/r%02d", i), Auth: alice, Body: body}).Expect(t, 201, 0)
		}
		queries := []string{"n=3", "in_n=1,2&_sort=-id", "min_n=5&_limit=3", "s=v1&n=4", "owner.email=u2@x&_sort=n", "lt_n=2&_limit=4&_sort=s", "n=%223%22"}
		page := func(q string) string {
			r := s.Do(R{Method: "GET", Path: "/v1/buckets/b/collections/c/records?" + q, Auth: alice}).Expect(t, 200, 0)
			return fmt.Sprint(r.IDs(), r.Header.Get("Total-Records"), r.Header.Get("Next-Page") != "")
		}
		before := map[string]string{}
		for _, q := range queries {
			before[q] = page(q)
		}
		c := s.Do(R{Method: "PATCH", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: `{"data": {"indexes": ["n", "s", "owner.email"]}}`}).Expect(t, 200, 0)
		if fmt.Sprint(c.Data()["indexes"]) != "[n s owner.email]" {
			t.Fatalf("collection %s", c.Raw)
		}
		// The build runs in the background: the answers are the same
		// during and after it.
		deadline := time.Now().Add(10 * time.Second)
		for {
			for _, q := range queries {
				if got := page(q); got != before[q] {
					t.Fatalf("%s: %s with the index, %s before", q, got, before[q])
				}
			}
			if time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
			if time.Until(deadline) < 9*time.Second {
				break
			}
		}
	})
}

// TestIndexBuildDoesNotBlockWriters: declaring an index on a bolt
// collection of 200,000 records builds it while writers run; no write
// waits more than 100 ms longer than writes did before the build (three
// times that under the race detector), none is lost, and the index then
// answers.
func TestIndexBuildDoesNotBlockWriters(t *testing.T) {
	if testing.Short() {
		t.Skip("200,000 records")
	}
	ctx := context.Background()
	b, err := bolt.Open(filepath.Join(t.TempDir(), "nimbus.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ref := storage.Ref{Resource: "record", Parent: "/buckets/b/collections/c"}
	const n = 200_000
	for start := 0; start < n; start += 20_000 {
		err := b.Update(ctx, func(tx storage.Tx) error {
			for i := start; i < start+20_000; i++ {
				if _, err := tx.Create(ref, storage.Object{"id": fmt.Sprintf("r%06d", i), "n": int64(i % 1000)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	building := make(chan struct{})
	var baseline time.Duration
	go func() {
		<-building
		done <- b.DeclareIndexes(ctx, ref, []string{"n"})
	}()
	var mu sync.Mutex
	var worst time.Duration
	writes := 0
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				err := b.Update(ctx, func(tx storage.Tx) error {
					_, err := tx.Create(ref, storage.Object{"id": fmt.Sprintf("w%d-%d", w, i), "n": int64(5000 + w)})
					return err
				})
				d := time.Since(start)
				mu.Lock()
				if err == nil {
					writes++
				}
				if d > worst {
					worst = d
				}
				mu.Unlock()
				if err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	// The writers' own latency first, then during the build.
	time.Sleep(time.Second)
	mu.Lock()
	baseline, worst = worst, 0
	mu.Unlock()
	close(building)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d writes, the slowest %v during the build, %v before it", writes, worst, baseline)
	if worst > baseline+raceScale*100*time.Millisecond {
		t.Errorf("a write waited %v during the index build (%v before it)", worst, baseline)
	}
	var got int
	err = b.View(ctx, func(tx storage.Tx) (err error) {
		total := 0
		for w := 0; w < 4; w++ {
			c, err := tx.Count(ref, []storage.Filter{{Field: "n", Op: storage.OpEq, Value: int64(5000 + w)}}, false)
			if err != nil {
				return err
			}
			total += c
		}
		got = total
		return nil
	})
	if err != nil || got != writes {
		t.Fatalf("found %d of the %d writes through the index: %v", got, writes, err)
	}
}

// TestFieldsThatAreNotPlainNames: field names with a space, a hyphen or
// a non-ASCII letter can be declared, filtered and sorted on every
// backend, as in Kinto: an operator applies to a name of Unicode word
// characters and dots (Python's \w), and any other parameter is an
// equality filter on the field of its whole name (400 before). On
// PostgreSQL a name that is not plain ASCII reaches SQL as a parameter:
// a filter adding no condition there (like_, has_) left it unused, and
// PostgreSQL refused the statement (503); declaring one made the next
// index build dereference a nil function in the background and stop the
// server.
func TestFieldsThatAreNotPlainNames(t *testing.T) {
	onBackends(t, nil, func(t *testing.T, s *apitest.Server) {
		alice := apitest.Basic("alice", "pw")
		s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
		s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: `{"data": {"indexes": ["x y", "é"]}}`}).Expect(t, 201, 0)
		for id, data := range map[string]string{
			"r1": `{"x y": "abc", "é": "abc", "ü": 1, "first-name": "ann", "d": {"e": {"f": {"g": {"h": "deep"}}}}}`,
			"r2": `{"x y": "xbz", "é": "xbz", "ü": 2}`,
			"r3": `{"title": "t", "like_x y": "c"}`,
		} {
			s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c/records/" + id, Auth: alice, Body: `{"data": ` + data + `}`}).Expect(t, 201, 0)
		}
		// Another collection's declaration makes the backend look at
		// every declared field again.
		s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/d", Auth: alice, Body: `{"data": {"indexes": ["title"]}}`}).Expect(t, 201, 0)
		cases := []struct{ query, ids string }{
			{"like_%C3%A9=c", "[r1]"},
			{"like_%C3%A9=b&_sort=id", "[r1 r2]"},
			{"has_%C3%A9=true&_sort=id", "[r1 r2]"},
			{"has_%C3%A9=false", "[r3]"},
			{"in_%C3%A9=abc,xbz&_sort=-id", "[r2 r1]"},
			{"min_%C3%BC=2&_sort=id", "[r2 r3]"}, // r3 has no ü: a missing field sorts after every value
			{"_sort=-%C3%A9&has_%C3%A9=true", "[r2 r1]"},
			{"x%20y=abc", "[r1]"},
			{"first-name=ann", "[r1]"},
			{"like_x%20y=c", "[r3]"}, // the field "like_x y"
			{"d.e.f.g.h=deep", "[r1]"},
			{"has_d.e.f.g=true", "[r1]"},
			// Forty segments: PostgreSQL's expression of such a path
			// was written out every way it may be walked, about twice as
			// long for each segment (out of memory long before forty).
			{strings.TrimSuffix(strings.Repeat("a.", 40), ".") + "=1", "[]"},
		}
		// Twice: before the background builds are done, and after.
		for round := 0; round < 2; round++ {
			for _, c := range cases {
				r := s.Do(R{Method: "GET", Path: "/v1/buckets/b/collections/c/records?" + c.query, Auth: alice}).Expect(t, 200, 0)
				if got := fmt.Sprint(r.IDs()); got != c.ids {
					t.Errorf("%s: %s, want %s", c.query, got, c.ids)
				}
			}
			time.Sleep(300 * time.Millisecond)
		}
		s.Do(R{Method: "GET", Path: "/v1/__heartbeat__"}).Expect(t, 200, 0)
	})
}
