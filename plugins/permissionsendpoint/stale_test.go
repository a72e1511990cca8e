package permissionsendpoint_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/storage"
)

// TestEntriesOfObjectsGone: an ACL entry can outlive its object (Kinto's
// permission backend is apart from its storage); /permissions lists only
// objects still stored, on every page and in HEAD's count, whatever the
// backend (on PostgreSQL the check is one statement for many objects,
// accounts included, whose rows are stored under their own ids). The
// ghosts outnumber a page and a check's chunk, and sort among the live.
func TestEntriesOfObjectsGone(t *testing.T) {
	settings := map[string]string{"experimental_permissions_endpoint": "true", "includes": "accounts",
		"multiauth.policies": "account basicauth", "account_create_principals": "system.Everyone",
		"bucket_create_principals": "system.Authenticated", "account_bcrypt_cost": "4"}
	for name, newServer := range apitest.MemoryAndPostgres(settings) {
		t.Run(name, func(t *testing.T) {
			s := newServer(t)
			ann := apitest.Basic("ann", "pw")
			s.Do(R{Method: "PUT", Path: "/v1/accounts/ann", Body: `{"data":{"password":"pw"}}`}).Expect(t, 201, 0)
			s.Do(R{Method: "PUT", Path: "/v1/buckets/blog", Auth: ann, Body: `{}`}).Expect(t, 201, 0)
			s.Do(R{Method: "PUT", Path: "/v1/buckets/blog/collections/c", Auth: ann, Body: `{}`}).Expect(t, 201, 0)
			want := []string{"/", "/accounts/ann", "/buckets/blog", "/buckets/blog/collections/c"}
			var batch []string
			for i := 0; i < 40; i++ {
				uri := fmt.Sprintf("/buckets/blog/collections/c/records/r%03d", i*7)
				want = append(want, uri)
				batch = append(batch, `{"method":"PUT","path":"`+uri+`","body":{}}`)
				if len(batch) == 20 {
					s.Do(R{Method: "POST", Path: "/v1/batch", Auth: ann, Body: `{"requests":[` + strings.Join(batch, ",") + `]}`}).Expect(t, 200, 0)
					batch = nil
				}
			}
			// Ghosts: ACL entries of records, a collection and a bucket
			// never stored, and of a record deleted behind the ACL's back.
			err := s.Backend.Update(context.Background(), func(tx storage.Tx) error {
				acl := storage.ACL{"write": {"account:ann"}}
				for i := 0; i < 280; i++ {
					if err := tx.SetACL(fmt.Sprintf("/buckets/blog/collections/c/records/r%03d", i), acl); err != nil {
						return err
					}
				}
				for _, uri := range []string{"/buckets/blog/collections/gone", "/buckets/gone", "/accounts/gone"} {
					if err := tx.SetACL(uri, acl); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			sort.Sort(sort.Reverse(sort.StringSlice(want)))
			var got []string
			path := "/v1/permissions?_limit=7"
			for pages := 0; path != ""; pages++ {
				if pages > 20 {
					t.Fatal("too many pages")
				}
				r := s.Do(R{Method: "GET", Path: path, Auth: ann}).Expect(t, 200, 0)
				for _, e := range r.Items() {
					got = append(got, e["uri"].(string))
				}
				path = strings.TrimPrefix(r.Header.Get("Next-Page"), s.URL)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("pages:\n got %v\nwant %v", got, want)
			}
			h := s.Do(R{Method: "HEAD", Path: "/v1/permissions", Auth: ann}).Expect(t, 200, 0)
			if n := h.Header.Get("Total-Records"); n != fmt.Sprint(len(want)) {
				t.Errorf("HEAD Total-Records %s, want %d", n, len(want))
			}
			b := s.Do(R{Method: "GET", Path: "/v1/permissions?resource_name=bucket", Auth: ann}).Expect(t, 200, 0)
			if len(b.Items()) != 1 || b.Items()[0]["uri"] != "/buckets/blog" {
				t.Errorf("buckets: %s", b.Raw)
			}
		})
	}
}
