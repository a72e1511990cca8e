package changes_test

import (
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

// TestGrantFlipsNeverLeak: alice rewrites one record, alternately private
// with a secret and shared with bob with the secret redacted, while bob
// follows the list (security review, row 3, as it was found). Bob may
// receive any redacted version and never a secret one.
func TestGrantFlipsNeverLeak(t *testing.T) {
	onBackends(t, nil, func(t *testing.T, s *apitest.Server) {
		seed(t, s)
		bobID := userID(s, bob)
		put(t, s, "r", `{"data":{"secret":"redacted-0"},"permissions":{"read":["`+bobID+`"]}}`)
		// A record bob always reads: without any grant in the list his
		// stream would end (PLUG-RT), which would hide a leak.
		put(t, s, "anchor", `{"data":{"secret":"redacted-anchor"},"permissions":{"read":["`+bobID+`"]}}`)
		// Several streams of bob: each is one more reader racing the flips.
		var streams []*client
		for i := 0; i < 3; i++ {
			c := follow(t, s, records, bob, nil)
			c.next(t) // ready
			streams = append(streams, c)
		}
		const flips = 1500
		var wg sync.WaitGroup
		for w := 0; w < 2; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for k := w; k < flips; k += 2 {
					body := fmt.Sprintf(`{"data":{"secret":"S%d"},"permissions":{"read":[]}}`, k)
					if k%2 == 0 {
						body = fmt.Sprintf(`{"data":{"secret":"redacted-%d"},"permissions":{"read":["%s"]}}`, k, bobID)
					}
					r := s.Do(R{Method: "PUT", Path: records + "/r", Auth: alice, Body: body})
					if r.Status != 200 {
						t.Errorf("PUT: %d %s", r.Status, r.Raw)
						return
					}
				}
			}(w)
		}
		wg.Wait()
		// The end marker: shared, so every stream receives it.
		put(t, s, "r", `{"data":{"secret":"redacted-end"},"permissions":{"read":["`+bobID+`"]}}`)
		for i, c := range streams {
			got := 0
			for {
				ev := c.next(t)
				secret, _ := ev.obj()["secret"].(string)
				if !strings.HasPrefix(secret, "redacted-") {
					t.Fatalf("stream %d received a version bob could not read: %v", i, ev)
				}
				got++
				if secret == "redacted-end" {
					break
				}
			}
			t.Logf("stream %d: %d redacted versions, no secret", i, got)
		}
	})
}

// TestNoTombstoneAfterLosingAccess: bob reads a record through a group;
// once removed from the group he no longer receives its deletion, while
// carol, still in it, does (security review, row 10: the answer of
// ?_since=).
func TestNoTombstoneAfterLosingAccess(t *testing.T) {
	onBackends(t, nil, func(t *testing.T, s *apitest.Server) {
		seed(t, s)
		carol := apitest.Basic("carol", "pw")
		bobID, carolID := userID(s, bob), userID(s, carol)
		s.Do(R{Method: "PUT", Path: "/v1/buckets/b/groups/g", Auth: alice,
			Body: `{"data":{"members":["` + bobID + `","` + carolID + `"]}}`}).Expect(t, 201, 0)
		put(t, s, "r", `{"data":{},"permissions":{"read":["/buckets/b/groups/g"]}}`)
		// Bob keeps a grant in the list, so his stream goes on.
		put(t, s, "anchor", `{"data":{},"permissions":{"read":["`+bobID+`"]}}`)
		bs, cs := follow(t, s, records, bob, nil), follow(t, s, records, carol, nil)
		bs.next(t)
		cs.next(t)
		s.Do(R{Method: "PUT", Path: "/v1/buckets/b/groups/g", Auth: alice, Body: `{"data":{"members":["` + carolID + `"]}}`}).Expect(t, 200, 0)
		time.Sleep(200 * time.Millisecond) // the group change reaches the streams before the deletion
		s.Do(R{Method: "DELETE", Path: records + "/r", Auth: alice}).Expect(t, 200, 0)
		if ev := cs.next(t); ev.Name != "delete" || ev.obj()["id"] != "r" {
			t.Fatalf("carol: %v", ev)
		}
		bs.quiet(t, 500*time.Millisecond)
		since := s.Do(R{Method: "GET", Path: records + "?_since=0", Auth: bob}).Expect(t, 200, 0)
		for _, id := range since.IDs() {
			if id == "r" {
				t.Errorf("_since shows bob the deleted record: %s", since.Raw)
			}
		}
	})
}

// TestCatchUpMemoryBounded: a catch-up of a long list of large records
// to a client that does not read holds about one page in memory, not the
// list (security review, row 9).
func TestCatchUpMemoryBounded(t *testing.T) {
	s := apitest.New(t, settings(nil))
	seed(t, s)
	s.Do(R{Method: "PATCH", Path: "/v1/buckets/b", Auth: alice, Body: `{"permissions":{"read":["system.Everyone"]}}`}).Expect(t, 200, 0)
	big := strings.Repeat("x", 50_000)
	const n = 1000 // 50 MB of records
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				s.Do(R{Method: "PUT", Path: fmt.Sprintf("%s/r%04d", records, i), Auth: alice, Body: `{"data":{"text":"` + big + `"}}`})
			}
		}(w)
	}
	wg.Wait()
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	// Four slow readers: opened, then never read.
	for i := 0; i < 4; i++ {
		rawOpen(t, s, records+"?_since=0")
	}
	time.Sleep(1500 * time.Millisecond)
	grown := int64(heap()) - int64(before)
	t.Logf("heap grew by %d MB with four stalled catch-ups of a 50 MB list", grown>>20)
	// Buffering the list costs at least its encoding per stream (4 × 50
	// MB; 659 MB measured before the fix); one page per stream is about
	// 10 MB (decoded and encoded), more under the race detector.
	if grown > 200<<20 {
		t.Errorf("four stalled catch-ups hold %d MB: the list is buffered, not paged", grown>>20)
	}
}

// rawOpen sends a stream request on a connection of its own and never
// reads the answer (a stalled reader); the connection closes with the
// test.
func rawOpen(t *testing.T, s *apitest.Server, path string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n", path)
}

// TestDeletionsOnResume: a reader who holds grants on some records only
// and resumes with Last-Event-ID (or starts with _since) receives the
// deletions, made while away, of the records they could read; a reader
// who never could read them does not (security review, row 18).
func TestDeletionsOnResume(t *testing.T) {
	onBackends(t, nil, func(t *testing.T, s *apitest.Server) {
		seed(t, s)
		carol := apitest.Basic("carol", "pw")
		bobID, carolID := userID(s, bob), userID(s, carol)
		put(t, s, "mine", `{"data":{},"permissions":{"read":["`+bobID+`"]}}`)
		put(t, s, "shared-write", `{"data":{},"permissions":{"write":["`+bobID+`"]}}`)
		put(t, s, "carols", `{"data":{},"permissions":{"read":["`+carolID+`"]}}`)
		put(t, s, "nobodys", `{"data":{}}`)
		// Both keep a grant in the list, so their streams go on.
		put(t, s, "anchor", `{"data":{},"permissions":{"read":["`+bobID+`","`+carolID+`"]}}`)
		first := follow(t, s, records, bob, map[string]string{"Last-Event-ID": "0"})
		var last int64
		for ev := first.next(t); ev.Name != "ready"; ev = first.next(t) {
			last = ev.ID
		}
		first.cancel()
		for _, r := range []string{"mine", "shared-write", "carols", "nobodys"} {
			s.Do(R{Method: "DELETE", Path: records + "/" + r, Auth: alice}).Expect(t, 200, 0)
		}
		resumed := follow(t, s, records, bob, map[string]string{"Last-Event-ID": fmt.Sprint(last)})
		deletions := func(c *client) []string {
			var got []string
			for ev := c.next(t); ev.Name != "ready"; ev = c.next(t) {
				if ev.Name == "delete" {
					got = append(got, ev.Name+":"+fmt.Sprint(ev.obj()["id"]))
				}
			}
			return got
		}
		got := deletions(resumed)
		if strings.Join(got, ",") != "delete:mine,delete:shared-write" {
			t.Errorf("bob resumed and received %v, want the deletions of mine and shared-write", got)
		}
		// A fresh start from the beginning gives the same answer for carol.
		got = deletions(follow(t, s, records, carol, map[string]string{"Last-Event-ID": "0"}))
		if strings.Join(got, ",") != "delete:carols" {
			t.Errorf("carol received %v, want the deletion of carols only", got)
		}
	})
}

// userID is the id the server gives a caller.
func userID(s *apitest.Server, auth string) string {
	return s.Do(R{Method: "GET", Path: "/v1/", Auth: auth}).Body["user"].(map[string]any)["id"].(string)
}
