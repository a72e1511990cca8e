package kinto_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/storage"
)

// TestHeadCountsOfPartialReaders: a reader granted records one by one
// (no read on their collection) gets, in HEAD's Total-Records, as many
// records as their pages list, with or without filters, on every
// backend. Their ids include a record deleted since and an ACL entry
// whose record was never stored.
func TestHeadCountsOfPartialReaders(t *testing.T) {
	for name, newServer := range apitest.MemoryAndPostgres(nil) {
		t.Run(name, func(t *testing.T) {
			s := newServer(t)
			bobID := userID(t, s, bob)
			s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
			s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
			recs := "/v1/buckets/b/collections/c/records"
			for i := 0; i < 30; i++ {
				perms := `{}`
				if i%3 != 0 {
					perms = `{"read":["` + bobID + `"]}`
				}
				s.Do(R{Method: "PUT", Path: fmt.Sprintf("%s/r%02d", recs, i), Auth: alice,
					Body: fmt.Sprintf(`{"data":{"n":%d},"permissions":%s}`, i, perms)}).Expect(t, 201, 0)
			}
			s.Do(R{Method: "DELETE", Path: recs + "/r01", Auth: alice}).Expect(t, 200, 0)
			err := s.Backend.Update(context.Background(), func(tx storage.Tx) error {
				return tx.SetACL("/buckets/b/collections/c/records/ghost", storage.ACL{"read": {bobID}})
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{"", "?gt_n=10", "?_since=0", "?n=4", "?in_n=2,3,4,5"} {
				var listed int
				path := recs + q
				if !strings.Contains(q, "?") {
					path += "?"
				}
				for page := path + "&_limit=4"; page != ""; {
					r := s.Do(R{Method: "GET", Path: page, Auth: bob}).Expect(t, 200, 0)
					listed += len(r.Items())
					page = strings.TrimPrefix(r.Header.Get("Next-Page"), s.URL)
				}
				h := s.Do(R{Method: "HEAD", Path: recs + q, Auth: bob}).Expect(t, 200, 0)
				if got := h.Header.Get("Total-Records"); got != fmt.Sprint(listed) {
					t.Errorf("%q: HEAD counts %s, the pages list %d", q, got, listed)
				}
				if q == "" && listed != 19 {
					t.Errorf("bob lists %d records, want 19", listed)
				}
			}
		})
	}
}
