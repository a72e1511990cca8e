package storagetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/nimbus-server/nimbus/storage"
)

// testBulkWrites: a page written with WriteMany (storage.BulkWriter) is
// stored as the same objects written one by one would be (Replace,
// WriteTombstone, SetACL): timestamps by NextTimestamp's rules (the
// seeds leave the list at the clock's time), tombstones without ACLs, ACLs replaced and
// their principals' lookups with them, counts, the list's timestamp the
// newest. The page is written twice: as given, and prepared first when
// the backend is a storage.BulkPreparer (an object left unprepared is
// still written). A failing transaction keeps nothing of a page.
func testBulkWrites(t *testing.T, b storage.Backend) {
	bulk, single := recs, other
	uri := func(ref storage.Ref) func(string) string {
		return func(id string) string { return ref.Parent + "/records/" + id }
	}
	page := func() []storage.Object {
		return []storage.Object{
			{"id": "old", "last_modified": int64(50), "n": 1},             // older than the list, new: kept
			{"id": "a", "last_modified": int64(1000), "n": 2},             // older than the list, replacing: a new one
			{"id": "gone", "last_modified": int64(1001), "deleted": true}, // a tombstone: a new one
			{"id": "b", "last_modified": int64(1002), "n": 3, "deleted": false},
			{"id": "c", "last_modified": int64(1001), "n": 4}, // older than the list, new: kept
			{"id": "b", "last_modified": int64(1010), "n": 5}, // the same id again in the page
			{"id": "seeded", "last_modified": int64(1011), "deleted": true},
		}
	}
	acls := map[string]storage.ACL{"a": {"write": {"account:ann"}, "read": {"system.Everyone", "system.Everyone"}},
		"b": {"write": {"account:bob"}}, "c": {"read": {}}, "gone": {"write": {"account:ann"}}}
	seed := func(ref storage.Ref) {
		update(t, b, func(tx storage.Tx) error {
			for _, id := range []string{"a", "seeded"} {
				if _, err := tx.Replace(ref, storage.Object{"id": id, "last_modified": int64(100), "n": 0}); err != nil {
					return err
				}
				if err := tx.SetACL(uri(ref)(id), storage.ACL{"write": {"account:someone-else"}}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	state := func(ref storage.Ref) string {
		var out string
		err := b.View(ctx, func(tx storage.Tx) error {
			objs, err := tx.List(ref, storage.Query{IncludeDeleted: true, Sort: []storage.Sort{{Field: "id"}}})
			if err != nil {
				return err
			}
			for _, o := range objs {
				acl, _ := tx.GetACL(uri(ref)(storage.ID(o)))
				lm := fmt.Sprint(storage.LastModified(o))
				if storage.LastModified(o) > 1_000_000_000_000 {
					lm = "now" // a fresh timestamp from the clock
				}
				out += fmt.Sprintf("%s %s %v %v %v|", storage.ID(o), lm, storage.IsDeleted(o), o["n"], acl)
			}
			ts, _ := tx.Timestamp(ref)
			n, _ := tx.Count(ref, nil, false)
			who, _ := tx.Accessible([]string{"account:ann", "account:bob", "account:someone-else", "system.Everyone"}, ref.Parent+"/records")
			out += fmt.Sprint("list ", ts >= 1010, " count ", n, " reachable ", len(who))
			return nil
		})
		if err != nil {
			t.Fatalf("reading back: %v", err)
		}
		return out
	}
	seed(bulk)
	seed(single)
	bw := func(tx storage.Tx) storage.BulkWriter {
		w, ok := tx.(storage.BulkWriter)
		if !ok {
			t.Skip("the backend has no bulk writes")
		}
		return w
	}
	objs := func() []storage.BulkObject {
		var out []storage.BulkObject
		for _, o := range page() {
			out = append(out, storage.BulkObject{Object: o, ACL: acls[storage.ID(o)]})
		}
		return out
	}
	boom := errors.New("boom")
	if err := b.Update(ctx, func(tx storage.Tx) error {
		if err := bw(tx).WriteMany(bulk, objs(), uri(bulk)); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("a failing transaction: %v", err)
	}
	if got := state(bulk); got != state(single) {
		t.Fatalf("a failed transaction left a page behind:\n%s", got)
	}
	update(t, b, func(tx storage.Tx) error {
		page := objs()
		if bp, ok := b.(storage.BulkPreparer); ok {
			if err := bp.PrepareMany(page[:4]); err != nil {
				return err
			}
		}
		return bw(tx).WriteMany(bulk, page, uri(bulk))
	})
	if sy, ok := b.(storage.BulkSyncer); ok {
		if err := sy.Sync(ctx); err != nil {
			t.Fatalf("Sync after a bulk write: %v", err)
		}
	}
	update(t, b, func(tx storage.Tx) error {
		for _, o := range page() {
			u := uri(single)(storage.ID(o))
			if storage.IsDeleted(o) {
				if _, err := tx.(storage.TombstoneWriter).WriteTombstone(single, storage.ID(o), storage.LastModified(o)); err != nil {
					return err
				}
				if err := tx.DeleteACLs(u); err != nil {
					return err
				}
				continue
			}
			if _, err := tx.Replace(single, o); err != nil {
				return err
			}
			if err := tx.SetACL(u, acls[storage.ID(o)]); err != nil {
				return err
			}
		}
		return nil
	})
	if got, want := state(bulk), state(single); got != want {
		t.Errorf("WriteMany stored\n%s\none by one\n%s", got, want)
	}
	testBulkSkipSame(t, b)
}

// testBulkSkipSame: with SkipSame, a page written again leaves every
// object alone and says so (an import run again); a newer version is
// written; a tombstone does not replace a live object.
func testBulkSkipSame(t *testing.T, b storage.Backend) {
	ref := storage.Ref{Resource: "record", Parent: "/buckets/b/collections/e"}
	uri := func(id string) string { return ref.Parent + "/records/" + id }
	write := func(objs ...storage.Object) string {
		page := make([]storage.BulkObject, len(objs))
		for i, o := range objs {
			page[i] = storage.BulkObject{Object: o, ACL: storage.ACL{"read": {"account:" + storage.ID(o)}}, SkipSame: true}
		}
		update(t, b, func(tx storage.Tx) error { return tx.(storage.BulkWriter).WriteMany(ref, page, uri) })
		var skipped string
		for _, o := range page {
			if o.Skipped {
				skipped += storage.ID(o.Object)
			}
		}
		return skipped
	}
	state := func() string {
		var out string
		err := b.View(ctx, func(tx storage.Tx) error {
			objs, err := tx.List(ref, storage.Query{IncludeDeleted: true, Sort: []storage.Sort{{Field: "id"}}})
			for _, o := range objs {
				out += fmt.Sprintf("%s@%d %v %v|", storage.ID(o), storage.LastModified(o), storage.IsDeleted(o), o["v"])
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	page := []storage.Object{
		{"id": "x", "last_modified": int64(10), "v": 1},
		{"id": "y", "last_modified": int64(11), "v": 1},
		{"id": "z", "last_modified": int64(12), "deleted": true},
	}
	if skipped := write(page...); skipped != "" {
		t.Fatalf("a first write skipped %q", skipped)
	}
	first := state()
	if skipped := write(page...); skipped != "xyz" || state() != first {
		t.Fatalf("the same page again: skipped %q, state %s, was %s", skipped, state(), first)
	}
	skipped := write(storage.Object{"id": "y", "last_modified": int64(20), "v": 2}, storage.Object{"id": "x", "last_modified": int64(30), "deleted": true})
	if want := "x@10 false 1|y@20 false 2|z@12 true <nil>|"; skipped != "x" || state() != want {
		t.Errorf("a newer version and a tombstone over a live object: skipped %q, state %s", skipped, state())
	}
}
