package permtest

import (
	"context"
	"fmt"
	"sort"
	"testing"

	"github.com/nimbus-server/nimbus/storage"
)

var ctx = context.Background()

// Run runs the ACL store conformance subtests against backends made by
// newBackend (fresh and empty for each subtest).
func Run(t *testing.T, newBackend func(t *testing.T) storage.Backend) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, storage.Backend)
	}{
		{"SetAndGet", testACLSetGet},
		{"InverseIndex", testACLIndex},
		{"DeleteUnderURI", testACLDelete},
		{"UserPrincipals", testUserPrincipals},
		{"AuthorizerOnStoredACLs", testAuthorizer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t)
			defer b.Close()
			tc.fn(t, b)
		})
	}
}

func update(t *testing.T, b storage.Backend, fn func(storage.Tx) error) {
	t.Helper()
	if err := b.Update(ctx, fn); err != nil {
		t.Fatalf("update: %v", err)
	}
}

func testACLSetGet(t *testing.T, b storage.Backend) {
	update(t, b, func(tx storage.Tx) error {
		return tx.SetACL("/buckets/b", storage.ACL{"write": {"u1", "u1", "u2"}, "read": {}})
	})
	b.View(ctx, func(tx storage.Tx) error {
		acl, _ := tx.GetACL("/buckets/b")
		if fmt.Sprint(acl) != "map[write:[u1 u2]]" {
			t.Errorf("acl %v: empty entries and duplicates must go", acl)
		}
		many, _ := tx.GetACLs([]string{"/buckets/b", "/nope"})
		if len(many) != 1 {
			t.Errorf("GetACLs: %v", many)
		}
		return nil
	})
	update(t, b, func(tx storage.Tx) error { return tx.SetACL("/buckets/b", storage.ACL{}) })
	b.View(ctx, func(tx storage.Tx) error {
		acl, _ := tx.GetACL("/buckets/b")
		acc, _ := tx.Accessible([]string{"u1"}, "")
		if len(acl) != 0 || len(acc) != 0 {
			t.Errorf("cleared acl left %v / index %v", acl, acc)
		}
		return nil
	})
}

func testACLIndex(t *testing.T, b storage.Backend) {
	base := "/buckets/b/collections/c/records/"
	update(t, b, func(tx storage.Tx) error {
		for i := 0; i < 50; i++ {
			acl := storage.ACL{"write": {"owner"}}
			if i%10 == 0 {
				acl["read"] = []string{"alice"}
			}
			if i == 7 {
				acl["write"] = append(acl["write"], "/buckets/b/groups/g")
			}
			if err := tx.SetACL(fmt.Sprintf("%sr%02d", base, i), acl); err != nil {
				return err
			}
		}
		return tx.SetACL("/buckets/b/collections/other/records/x", storage.ACL{"read": {"alice"}})
	})
	b.View(ctx, func(tx storage.Tx) error {
		acc, _ := tx.Accessible([]string{"alice", "/buckets/b/groups/g"}, base)
		var uris []string
		for u := range acc {
			uris = append(uris, u)
		}
		sort.Strings(uris)
		want := []string{base + "r00", base + "r07", base + "r10", base + "r20", base + "r30", base + "r40"}
		if fmt.Sprint(uris) != fmt.Sprint(want) {
			t.Errorf("accessible %v, want %v", uris, want)
		}
		if fmt.Sprint(acc[base+"r07"]) != "[write]" || fmt.Sprint(acc[base+"r10"]) != "[read]" {
			t.Errorf("permissions held: %v", acc)
		}
		all, _ := tx.Accessible([]string{"alice"}, "")
		if len(all) != 6 {
			t.Errorf("everything alice can reach: %v", all)
		}
		return nil
	})
	// Changing an ACL updates the index.
	update(t, b, func(tx storage.Tx) error { return tx.SetACL(base+"r00", storage.ACL{"write": {"owner"}}) })
	b.View(ctx, func(tx storage.Tx) error {
		acc, _ := tx.Accessible([]string{"alice"}, base)
		if _, ok := acc[base+"r00"]; ok || len(acc) != 4 {
			t.Errorf("stale index after ACL change: %v", acc)
		}
		return nil
	})
}

func testACLDelete(t *testing.T, b storage.Backend) {
	update(t, b, func(tx storage.Tx) error {
		for _, u := range []string{"/buckets/b", "/buckets/b/collections/c", "/buckets/b/collections/c/records/r", "/buckets/b2", "/buckets/bb"} {
			if err := tx.SetACL(u, storage.ACL{"read": {"alice"}}); err != nil {
				return err
			}
		}
		return tx.DeleteACLs("/buckets/b")
	})
	b.View(ctx, func(tx storage.Tx) error {
		acc, _ := tx.Accessible([]string{"alice"}, "")
		if len(acc) != 2 || acc["/buckets/b2"] == nil || acc["/buckets/bb"] == nil {
			t.Errorf("after DeleteACLs: %v", acc)
		}
		return nil
	})
}

func testUserPrincipals(t *testing.T, b storage.Backend) {
	g1, g2 := "/buckets/b/groups/g1", "/buckets/b/groups/g2"
	update(t, b, func(tx storage.Tx) error {
		for _, p := range [][2]string{{"alice", g1}, {"alice", g2}, {"bob", g1}, {"system.Authenticated", g2}} {
			if err := tx.AddUserPrincipal(p[0], p[1]); err != nil {
				return err
			}
		}
		return nil
	})
	check := func(users []string, want string) {
		t.Helper()
		b.View(ctx, func(tx storage.Tx) error {
			ps, _ := tx.UserPrincipals(users)
			sort.Strings(ps)
			if fmt.Sprint(ps) != want {
				t.Errorf("principals of %v: %v, want %s", users, ps, want)
			}
			return nil
		})
	}
	check([]string{"bob", "system.Authenticated"}, "["+g1+" "+g2+"]")
	update(t, b, func(tx storage.Tx) error { return tx.RemoveUserPrincipal("alice", g2) })
	check([]string{"alice"}, "["+g1+"]")
	update(t, b, func(tx storage.Tx) error { return tx.RemovePrincipal(g1) })
	check([]string{"alice", "bob"}, "[]")
}
