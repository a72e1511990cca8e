package kinto_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

// TestLargeSortValuesPaginate: a list sorted by a field of large values
// (20 KB texts, objects) gets Next-Page links of ordinary length, which
// name the page's last record instead of carrying its values, and
// following them serves every record once in order, on every backend,
// from stored JSON and with _fields; a record edited between two pages
// moves without breaking the list, and one deleted answers 400 errno 107
// asking for the list to be read again. Small values still travel in the
// token, which then outlives its last record.
func TestLargeSortValuesPaginate(t *testing.T) {
	onBackends(t, nil, func(t *testing.T, s *apitest.Server) {
		setup(t, s)
		const n = 7
		for i := 0; i < n; i++ {
			// r0 has the largest text, r6 the smallest.
			text := strings.Repeat(string(rune('g'-i)), 20000)
			s.Do(R{Method: "PUT", Path: fmt.Sprintf("%s/r%d", recs, i), Auth: alice,
				Body: fmt.Sprintf(`{"data":{"text":%q,"obj":{"text":%q,"i":%d},"small":%d}}`, text, text, i, i%3)}).Expect(t, 201, 0)
		}
		cases := []struct{ query, order string }{
			{"?_sort=text&_limit=2", "r6 r5 r4 r3 r2 r1 r0"},
			{"?_sort=-text&_limit=3", "r0 r1 r2 r3 r4 r5 r6"},
			{"?_sort=text&_limit=2&_fields=small", "r6 r5 r4 r3 r2 r1 r0"},
			// Objects compare by their keys, then values in key order
			// ("i" before "text"), as PostgreSQL's JSONB does.
			{"?_sort=obj&_limit=2", "r0 r1 r2 r3 r4 r5 r6"},
			{"?_sort=small,-obj.text&_limit=2", "r0 r3 r6 r1 r4 r2 r5"},
			{"?_sort=text&_limit=2&min_small=1", "r5 r4 r2 r1"},
		}
		for _, tc := range cases {
			t.Run(tc.query, func(t *testing.T) {
				var ids []string
				path := recs + tc.query
				for pages := 0; path != "" && pages < 10; pages++ {
					page := s.Do(R{Method: "GET", Path: path, Auth: alice}).Expect(t, 200, 0)
					if next := page.Header.Get("Next-Page"); len(next) > 1024 {
						t.Fatalf("Next-Page of %d bytes", len(next))
					}
					ids = append(ids, page.IDs()...)
					path = nextPage(t, page)
				}
				if got := strings.Join(ids, " "); got != tc.order {
					t.Fatalf("records %s, want %s", got, tc.order)
				}
			})
		}
		first := s.Do(R{Method: "GET", Path: recs + "?_sort=text&_limit=2", Auth: alice}).Expect(t, 200, 0)
		next := nextPage(t, first)
		// r5, the page's last record, now sorts first: the next page
		// starts after its new place.
		s.Do(R{Method: "PATCH", Path: recs + "/r5", Auth: alice, Body: `{"data":{"text":"a"}}`}).Expect(t, 200, 0)
		if got := strings.Join(s.Do(R{Method: "GET", Path: next, Auth: alice}).Expect(t, 200, 0).IDs(), " "); got != "r6 r4" {
			t.Fatalf("after an edit: %s", got)
		}
		s.Do(R{Method: "DELETE", Path: recs + "/r5", Auth: alice}).Expect(t, 200, 0)
		gone := s.Do(R{Method: "GET", Path: next, Auth: alice}).Expect(t, 400, 107)
		if msg, _ := gone.Body["message"].(string); !strings.Contains(msg, "read the list again") {
			t.Fatalf("message %q", msg)
		}
		// Small values are carried: a token outlives its record.
		small := s.Do(R{Method: "GET", Path: recs + "?_sort=small&_limit=2", Auth: alice}).Expect(t, 200, 0)
		last := small.IDs()[1]
		s.Do(R{Method: "DELETE", Path: recs + "/" + last, Auth: alice}).Expect(t, 200, 0)
		s.Do(R{Method: "GET", Path: nextPage(t, small), Auth: alice}).Expect(t, 200, 0)
	})
}
