package postgres_test

import (
	"fmt"
	"testing"

	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

// TestWriteManyInvalidatesOtherInstances: a bulk write skips its rows'
// own notifications and sends one that drops every cache; another
// instance that had the objects, their ACLs and a page of their list
// cached reads the new ones at once.
func TestWriteManyInvalidatesOtherInstances(t *testing.T) {
	url := pgtest.Start(t).NewDatabase(t)
	a, b := open(t, url), open(t, url)
	ref := storage.Ref{Resource: "record", Parent: "/buckets/b/collections/c"}
	uri := func(id string) string { return ref.Parent + "/records/" + id }
	write := func(n int) {
		update(t, a, func(tx storage.Tx) error {
			return tx.(storage.BulkWriter).WriteMany(ref, []storage.BulkObject{
				{Object: storage.Object{"id": "x", "n": n}, ACL: storage.ACL{"write": {fmt.Sprint("account:u", n)}}},
				{Object: storage.Object{"id": "y", "n": n}}}, uri)
		})
	}
	read := func() string {
		return view(t, b, func(tx storage.Tx) (string, error) {
			o, err := tx.Get(ref, "x")
			if err != nil {
				return "", err
			}
			acl, err := tx.GetACL(uri("x"))
			if err != nil {
				return "", err
			}
			page, err := tx.List(ref, storage.Query{Limit: 5})
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("%v %v %d %v", o["n"], acl["write"], len(page), page[0]["n"]), nil
		})
	}
	for n := 1; n <= 5; n++ {
		write(n)
		want := fmt.Sprintf("%d [account:u%d] 2 %d", n, n, n)
		read() // the second read may come from B's cache
		if got := read(); got != want {
			t.Fatalf("round %d: B reads %s, want %s", n, got, want)
		}
	}
}
