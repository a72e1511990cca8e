package storagetest

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/nimbus-server/nimbus/storage"
)

func testDeleteMany(t *testing.T, b storage.Backend) {
	seedFilterData(t, b)
	var tombs []storage.Object
	update(t, b, func(tx storage.Tx) (err error) {
		tombs, err = tx.DeleteMany(recs, storage.Query{Filters: []storage.Filter{{Field: "n", Op: storage.OpMin, Value: jv("2")}}, Sort: []storage.Sort{{Field: "id"}}})
		return
	})
	eqIDs(t, "deleted", tombs, "b", "c", "e")
	for _, o := range tombs {
		if !storage.IsDeleted(o) {
			t.Fatalf("not a tombstone: %v", o)
		}
	}
	eqIDs(t, "remaining", list(t, b, recs, storage.Query{Sort: []storage.Sort{{Field: "id"}}}), "a", "d")
	update(t, b, func(tx storage.Tx) (err error) {
		tombs, err = tx.DeleteMany(recs, storage.Query{Limit: 1})
		return
	})
	eqIDs(t, "limited delete takes the newest", tombs, "d")
}

func testPurge(t *testing.T, b storage.Backend) {
	for i := 0; i < 6; i++ {
		create(t, b, recs, storage.Object{"id": fmt.Sprintf("r%d", i)})
	}
	var cut int64
	update(t, b, func(tx storage.Tx) error {
		for i := 0; i < 5; i++ {
			tomb, err := tx.Delete(recs, fmt.Sprintf("r%d", i), 0)
			if err != nil {
				return err
			}
			if i == 2 {
				cut = storage.LastModified(tomb)
			}
		}
		return nil
	})
	var n int
	update(t, b, func(tx storage.Tx) (err error) { n, err = tx.PurgeDeleted(recs, cut, -1); return })
	if n != 2 {
		t.Fatalf("purged %d tombstones older than r2's, want 2", n)
	}
	update(t, b, func(tx storage.Tx) (err error) { n, err = tx.PurgeDeleted(recs, 0, 1); return })
	if n != 2 {
		t.Fatalf("purged %d keeping the newest one, want 2", n)
	}
	eqIDs(t, "left", list(t, b, recs, storage.Query{IncludeDeleted: true}), "r4", "r5")
}

func testDeleteTree(t *testing.T, b storage.Backend) {
	buckets := storage.Ref{Resource: "bucket"}
	cols := storage.Ref{Resource: "collection", Parent: "/buckets/b"}
	groups := storage.Ref{Resource: "group", Parent: "/buckets/b"}
	create(t, b, buckets, obj(`{"id":"b"}`))
	create(t, b, buckets, obj(`{"id":"b2"}`))
	create(t, b, cols, obj(`{"id":"c"}`))
	create(t, b, groups, obj(`{"id":"g"}`))
	create(t, b, recs, obj(`{"id":"r"}`))
	b2recs := storage.Ref{Resource: "record", Parent: "/buckets/b2/collections/c"}
	create(t, b, b2recs, obj(`{"id":"r"}`))
	update(t, b, func(tx storage.Tx) error {
		if err := tx.SetACL("/buckets/b/collections/c/records/r", storage.ACL{"read": {"u"}}); err != nil {
			return err
		}
		if _, err := tx.Delete(recs, "r", 0); err != nil {
			return err
		}
		return tx.DeleteTree("/buckets/b")
	})
	for _, ref := range []storage.Ref{cols, groups, recs} {
		if got := list(t, b, ref, storage.Query{IncludeDeleted: true}); len(got) != 0 {
			t.Fatalf("%v not purged: %v", ref, got)
		}
	}
	eqIDs(t, "other bucket kept", list(t, b, b2recs, storage.Query{}), "r")
	eqIDs(t, "buckets list untouched", list(t, b, buckets, storage.Query{}), "b2", "b")
	update(t, b, func(tx storage.Tx) error {
		if err := tx.SetACL("/buckets/b2", storage.ACL{"read": {"u"}}); err != nil {
			return err
		}
		if err := tx.AddUserPrincipal("u", "/buckets/b2/groups/g"); err != nil {
			return err
		}
		return tx.DeleteTree("")
	})
	eqIDs(t, "everything gone", list(t, b, buckets, storage.Query{IncludeDeleted: true}))
	b.View(ctx, func(tx storage.Tx) error {
		acc, _ := tx.Accessible([]string{"u"}, "")
		ps, _ := tx.UserPrincipals([]string{"u"})
		if len(acc) != 0 || len(ps) != 0 {
			t.Errorf("DeleteTree(\"\") left ACLs %v or memberships %v", acc, ps)
		}
		return nil
	})
}

var errBoom = errors.New("boom")

func testRollback(t *testing.T, b storage.Backend) {
	create(t, b, recs, obj(`{"id":"keep","v":1}`))
	var before int64
	b.View(ctx, func(tx storage.Tx) error { before, _ = tx.Timestamp(recs); return nil })
	err := b.Update(ctx, func(tx storage.Tx) error {
		if _, err := tx.Create(recs, obj(`{"id":"new"}`)); err != nil {
			return err
		}
		if _, err := tx.Replace(recs, obj(`{"id":"keep","v":2}`)); err != nil {
			return err
		}
		if _, err := tx.Delete(recs, "keep", 0); err != nil {
			return err
		}
		if err := tx.SetACL("/buckets/b", storage.ACL{"write": {"u"}}); err != nil {
			return err
		}
		if err := tx.AddUserPrincipal("u", "/buckets/b/groups/g"); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update returned %v, want the function's error unchanged", err)
	}
	got := list(t, b, recs, storage.Query{IncludeDeleted: true})
	if len(got) != 1 || !storage.Equal(got[0]["v"], jv("1")) {
		t.Fatalf("rolled back list: %v", got)
	}
	b.View(ctx, func(tx storage.Tx) error {
		ts, _ := tx.Timestamp(recs)
		acl, _ := tx.GetACL("/buckets/b")
		ps, _ := tx.UserPrincipals([]string{"u"})
		acc, _ := tx.Accessible([]string{"u"}, "")
		if ts != before || len(acl) != 0 || len(ps) != 0 || len(acc) != 0 {
			t.Errorf("rollback left state: ts %d (was %d), acl %v, principals %v, index %v", ts, before, acl, ps, acc)
		}
		return nil
	})
}

func testReadOnly(t *testing.T, b storage.Backend) {
	err := b.View(ctx, func(tx storage.Tx) error {
		if _, err := tx.Create(recs, obj(`{"id":"a"}`)); !errors.Is(err, storage.ErrReadOnly) {
			return fmt.Errorf("create: %v", err)
		}
		if err := tx.SetACL("/x", storage.ACL{"read": {"a"}}); !errors.Is(err, storage.ErrReadOnly) {
			return fmt.Errorf("set acl: %v", err)
		}
		if err := tx.DeleteTree("/x"); !errors.Is(err, storage.ErrReadOnly) {
			return fmt.Errorf("delete tree: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testConcurrent(t *testing.T, b storage.Backend) {
	const writers, each = 16, 25
	var wg sync.WaitGroup
	var mu sync.Mutex
	stamps := map[int64]string{}
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				var o storage.Object
				err := b.Update(ctx, func(tx storage.Tx) (err error) {
					o, err = tx.Create(recs, storage.Object{"id": fmt.Sprintf("w%02d-%02d", w, i)})
					return
				})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				if prev, dup := stamps[storage.LastModified(o)]; dup {
					errs <- fmt.Errorf("%s and %s share timestamp %d", prev, storage.ID(o), storage.LastModified(o))
				}
				stamps[storage.LastModified(o)] = storage.ID(o)
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := list(t, b, recs, storage.Query{})
	if len(got) != writers*each {
		t.Fatalf("%d objects stored, want %d", len(got), writers*each)
	}
	ts := make([]int64, 0, len(got))
	for _, o := range got {
		ts = append(ts, storage.LastModified(o))
	}
	if !sort.SliceIsSorted(ts, func(i, j int) bool { return ts[i] > ts[j] }) {
		t.Fatal("default order is not strictly by descending timestamp")
	}
}

func testSavepoints(t *testing.T, b storage.Backend) {
	create(t, b, recs, obj(`{"id":"keep"}`))
	supported := true
	update(t, b, func(tx storage.Tx) error {
		sp, ok := tx.(storage.Savepointer)
		if !ok {
			supported = false
			return nil
		}
		if _, err := tx.Create(recs, obj(`{"id":"first"}`)); err != nil {
			return err
		}
		mark := sp.Savepoint()
		if _, err := tx.Create(recs, obj(`{"id":"undone"}`)); err != nil {
			return err
		}
		if _, err := tx.Delete(recs, "keep", 0); err != nil {
			return err
		}
		if err := tx.SetACL("/x", storage.ACL{"read": {"u"}}); err != nil {
			return err
		}
		if err := sp.RollbackTo(mark); err != nil {
			return err
		}
		_, err := tx.Create(recs, obj(`{"id":"last"}`))
		return err
	})
	if !supported {
		t.Skip("backend has no savepoints")
	}
	eqIDs(t, "after partial rollback", list(t, b, recs, storage.Query{Sort: []storage.Sort{{Field: "id"}}}), "first", "keep", "last")
	// Savepoints with no write after them, nested ones, rolling back past
	// several, and writes after a rollback.
	update(t, b, func(tx storage.Tx) error {
		sp := tx.(storage.Savepointer)
		outer := sp.Savepoint()
		sp.Savepoint()
		if _, err := tx.Create(recs, obj(`{"id":"n1"}`)); err != nil {
			return err
		}
		sp.Savepoint()
		if _, err := tx.Create(recs, obj(`{"id":"n2"}`)); err != nil {
			return err
		}
		if err := sp.RollbackTo(outer); err != nil {
			return err
		}
		empty := sp.Savepoint()
		if err := sp.RollbackTo(empty); err != nil {
			return err
		}
		last, err := tx.Create(recs, obj(`{"id":"n3"}`))
		if err != nil {
			return err
		}
		ts, err := tx.Timestamp(recs)
		if err != nil || ts != storage.LastModified(last) {
			return fmt.Errorf("list timestamp %d after a rollback, want %d (%v)", ts, storage.LastModified(last), err)
		}
		return nil
	})
	eqIDs(t, "after nested rollbacks", list(t, b, recs, storage.Query{Sort: []storage.Sort{{Field: "id"}}}), "first", "keep", "last", "n3")
	b.View(ctx, func(tx storage.Tx) error {
		if acc, _ := tx.Accessible([]string{"u"}, ""); len(acc) != 0 {
			t.Errorf("ACL index not rolled back: %v", acc)
		}
		return nil
	})
}

func testLists(t *testing.T, b storage.Backend) {
	create(t, b, recs, obj(`{"id":"a"}`))
	create(t, b, other, obj(`{"id":"a"}`))
	create(t, b, storage.Ref{Resource: "collection", Parent: "/buckets/b"}, obj(`{"id":"c"}`))
	supported := true
	b.View(ctx, func(tx storage.Tx) error {
		l, ok := tx.(storage.Lister)
		if !ok {
			supported = false
			return nil
		}
		refs, err := l.Lists("record")
		if err != nil {
			t.Fatal(err)
		}
		var parents []string
		for _, r := range refs {
			parents = append(parents, r.Parent)
		}
		sort.Strings(parents)
		if fmt.Sprint(parents) != "["+recs.Parent+" "+other.Parent+"]" {
			t.Errorf("record lists: %v", parents)
		}
		return nil
	})
	if !supported {
		t.Skip("backend cannot enumerate lists")
	}
}
