package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

// TestWriteMany: a page written with WriteMany is stored as the same
// objects written one by one would be (Replace, WriteTombstone, SetACL):
// timestamps kept when newer than the list's, the next free one
// otherwise, tombstones without ACLs, ACLs replaced, the list's timestamp
// the newest.
func TestWriteMany(t *testing.T) {
	ctx := context.Background()
	pg := pgtest.Start(t)
	ref := storage.Ref{Resource: "record", Parent: "/buckets/b/collections/c"}
	uri := func(id string) string { return ref.Parent + "/records/" + id }
	page := func() []storage.Object {
		return []storage.Object{
			{"id": "old", "last_modified": int64(50), "n": 1},             // older than the list: a new timestamp
			{"id": "a", "last_modified": int64(1000), "n": 2},             // kept
			{"id": "gone", "last_modified": int64(1001), "deleted": true}, // a tombstone, kept
			{"id": "b", "last_modified": int64(1002), "n": 3},
		}
	}
	acls := map[string]storage.ACL{"a": {"write": {"account:ann"}, "read": {"system.Everyone"}}, "b": {"write": {"account:bob"}},
		"gone": {"write": {"account:ann"}}}
	state := func(b storage.Backend) string {
		var out string
		err := b.View(ctx, func(tx storage.Tx) error {
			objs, err := tx.List(ref, storage.Query{IncludeDeleted: true, Sort: []storage.Sort{{Field: "id"}}})
			if err != nil {
				return err
			}
			for _, o := range objs {
				acl, _ := tx.GetACL(uri(storage.ID(o)))
				lm := fmt.Sprint(storage.LastModified(o))
				if storage.LastModified(o) > 1_000_000_000_000 {
					lm = "now" // a fresh timestamp from the clock
				}
				out += fmt.Sprintf("%s %s %v %v %v|", storage.ID(o), lm, storage.IsDeleted(o), o["n"], acl)
			}
			ts, _ := tx.Timestamp(ref)
			out += fmt.Sprint("list ", ts >= 1002)
			return nil
		})
		if err != nil {
			t.Fatalf("reading back: %v", err)
		}
		return out
	}
	seed := func(b storage.Backend) {
		b.Update(ctx, func(tx storage.Tx) error {
			if _, err := tx.Replace(ref, storage.Object{"id": "a", "last_modified": int64(100), "n": 0}); err != nil {
				return err
			}
			return tx.SetACL(uri("a"), storage.ACL{"write": {"account:someone-else"}})
		})
	}
	bulk, single := pg.Open(t), pg.Open(t)
	seed(bulk)
	seed(single)
	if err := bulk.Update(ctx, func(tx storage.Tx) error {
		return tx.(storage.BulkWriter).WriteMany(ref, page(), acls, uri)
	}); err != nil {
		t.Fatal(err)
	}
	// The bulk page committed asynchronously; Sync makes it durable.
	if err := bulk.Sync(ctx); err != nil {
		t.Fatalf("Sync after a bulk write: %v", err)
	}
	if err := single.Update(ctx, func(tx storage.Tx) error {
		for _, o := range page() {
			if storage.IsDeleted(o) {
				if _, err := tx.(storage.TombstoneWriter).WriteTombstone(ref, storage.ID(o), storage.LastModified(o)); err != nil {
					return err
				}
				if err := tx.DeleteACLs(uri(storage.ID(o))); err != nil {
					return err
				}
				continue
			}
			if _, err := tx.Replace(ref, o); err != nil {
				return err
			}
			if err := tx.SetACL(uri(storage.ID(o)), acls[storage.ID(o)]); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, want := state(bulk), state(single)
	if got != want {
		t.Errorf("WriteMany stored\n%s\none by one\n%s", got, want)
	}
	t.Log(got)
}

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
			return tx.(storage.BulkWriter).WriteMany(ref, []storage.Object{{"id": "x", "n": n}, {"id": "y", "n": n}},
				map[string]storage.ACL{"x": {"write": {fmt.Sprint("account:u", n)}}}, uri)
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
