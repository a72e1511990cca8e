package kinto_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

// TestPagesBoundedInBytes: a list page ends once its records' stored
// JSON reaches page_max_bytes, with a Next-Page link that goes on after
// its last record, so a list of large records is read in pages of
// bounded size whatever _limit asks, and every record once, in every
// order and on every backend; _limit still ends a page first, and a
// batch's list reads share the bound.
func TestPagesBoundedInBytes(t *testing.T) {
	onBackends(t, map[string]string{"page_max_bytes": "5000"}, func(t *testing.T, s *apitest.Server) {
		setup(t, s)
		blob := strings.Repeat("x", 2000)
		for i := 0; i < 8; i++ {
			s.Do(R{Method: "PUT", Path: fmt.Sprintf("%s/r%d", recs, i), Auth: alice,
				Body: fmt.Sprintf(`{"data":{"n":%d,"blob":%q}}`, i, blob)}).Expect(t, 201, 0)
		}
		// Each record stores about 2,050 bytes: three reach 5,000.
		cases := []struct {
			query string
			pages string // records per page, in order
		}{
			{"", "3 3 2"},
			{"?_limit=2", "2 2 2 2"},
			{"?_limit=3", "3 3 2"},
			{"?_limit=100", "3 3 2"},
			{"?_sort=n", "3 3 2"},
			{"?_sort=-n&_limit=5", "3 3 2"},
			{"?_fields=n", "3 3 2"},
			{"?min_n=2", "3 3"}, // the last page reaches the bound with nothing after it
			{"?_sort=n&max_n=5", "3 3"},
			{"?_sort=blob,n", "3 3 2"},
		}
		for _, tc := range cases {
			t.Run(tc.query, func(t *testing.T) {
				seen := map[string]bool{}
				var sizes []string
				path := recs + tc.query
				for len(sizes) < 10 {
					page := s.Do(R{Method: "GET", Path: path, Auth: alice}).Expect(t, 200, 0)
					for _, id := range page.IDs() {
						if seen[id] {
							t.Fatalf("%s served twice", id)
						}
						seen[id] = true
					}
					sizes = append(sizes, fmt.Sprint(len(page.IDs())))
					if path = nextPage(t, page); path == "" {
						break
					}
				}
				if got := strings.Join(sizes, " "); got != tc.pages {
					t.Fatalf("pages of %s, want %s", got, tc.pages)
				}
			})
		}
		// A batch shares the bound out among its sub-requests: two list
		// reads get 2,500 bytes each, pages of two records.
		sub := strings.TrimPrefix(recs, "/v1")
		b := s.Do(R{Method: "POST", Path: "/v1/batch", Auth: alice, Body: fmt.Sprintf(`{"requests":[{"method":"GET","path":%q},{"method":"GET","path":%q}]}`,
			sub, sub+"?_sort=n")}).Expect(t, 200, 0)
		for i, sub := range b.Body["responses"].([]any) {
			sr := sub.(map[string]any)
			data := sr["body"].(map[string]any)["data"].([]any)
			next, _ := sr["headers"].(map[string]any)["Next-Page"].(string)
			if fmt.Sprint(sr["status"]) != "200" || len(data) != 2 || next == "" {
				t.Fatalf("batch sub-request %d: status %v, %d records, Next-Page %q", i, sr["status"], len(data), next)
			}
		}
	})
	// Without the setting, the page is as large as _limit says.
	s := apitest.New(t, nil)
	setup(t, s)
	blob := strings.Repeat("x", 2000)
	for i := 0; i < 8; i++ {
		s.Do(R{Method: "POST", Path: recs, Auth: alice, Body: fmt.Sprintf(`{"data":{"blob":%q}}`, blob)}).Expect(t, 201, 0)
	}
	if page := s.Do(R{Method: "GET", Path: recs, Auth: alice}).Expect(t, 200, 0); len(page.IDs()) != 8 || nextPage(t, page) != "" {
		t.Fatalf("default page_max_bytes cut a page of 16 KB: %d records, Next-Page %q", len(page.IDs()), nextPage(t, page))
	}
}
