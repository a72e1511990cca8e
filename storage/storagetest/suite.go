package storagetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/nimbus-server/nimbus/storage"
)

// NewBackend returns a fresh, empty backend for one subtest. The suite
// closes it at the end of the subtest.
type NewBackend func(t *testing.T) storage.Backend

var (
	recs  = storage.Ref{Resource: "record", Parent: "/buckets/b/collections/c"}
	other = storage.Ref{Resource: "record", Parent: "/buckets/b/collections/d"}
	ctx   = context.Background()
)

// Run runs every conformance subtest against backends made by newBackend.
func Run(t *testing.T, newBackend NewBackend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b storage.Backend)
	}{
		{"CreateAndGet", testCreateAndGet},
		{"CreateExistingIDIsUnicityError", testCreateDuplicate},
		{"ReplaceKeepsIDAndBumpsTimestamp", testReplace},
		{"DeleteLeavesTombstone", testDelete},
		{"ListsAreIsolatedByParent", testIsolation},
		{"TimestampsStrictlyIncrease", testTimestamps},
		{"EmptyListTimestamp", testEmptyTimestamp},
		{"ReplicatedLastModified", testReplication},
		{"DeleteWithForcedTimestamp", testDeleteForced},
		{"FilterOperators", testFilters},
		{"FilterNestedFields", testNested},
		{"EqualityOnRawFields", testEqualityOnRawFields},
		{"RawListMatchesList", testRawList},
		{"PagesBoundedInBytes", testPageBytes},
		{"PagesBoundedInBytesModel", testPageBytesModel},
		{"LargeCandidatesComeBackWhole", testLargeCandidates},
		{"TimeOrderUnrelatedToIDs", testTimeOrderVsIDs},
		{"SortMultiField", testSortMulti},
		{"SortCrossType", testSortCrossType},
		{"PaginationDefaultOrder", testPaginationDefault},
		{"PaginationCustomSort", testPaginationCustom},
		{"DeepPagesOfTies", testDeepPagesOfTies},
		{"PaginationWithConcurrentChanges", testPaginationChanges},
		{"TombstonesWithSince", testTombstonesSince},
		{"Count", testCount},
		{"RestrictToIDs", testIDs},
		{"ExistingIDs", testExistingIDs},
		{"DeleteMany", testDeleteMany},
		{"PurgeDeleted", testPurge},
		{"ListsOfAResourceType", testLists},
		{"DeleteTreeCascades", testDeleteTree},
		{"HoldParentsWhileWriting", testHoldParents},
		{"FailedUpdateRollsBack", testRollback},
		{"SavepointsUndoPartOfATransaction", testSavepoints},
		{"ViewIsReadOnly", testReadOnly},
		{"ConcurrentCreators", testConcurrent},
		{"KeyOrderAndStableBytes", testKeyOrder},
		{"DeclaredIndexesAnswerAsScans", testIndexesModel},
		{"BulkWritesAsOneByOne", testBulkWrites},
	}
	for _, tc := range tests {
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

func create(t *testing.T, b storage.Backend, ref storage.Ref, obj storage.Object) storage.Object {
	t.Helper()
	var out storage.Object
	update(t, b, func(tx storage.Tx) error {
		var err error
		out, err = tx.Create(ref, obj)
		return err
	})
	return out
}

func list(t *testing.T, b storage.Backend, ref storage.Ref, q storage.Query) []storage.Object {
	t.Helper()
	var out []storage.Object
	err := b.View(ctx, func(tx storage.Tx) error {
		var err error
		out, err = tx.List(ref, q)
		return err
	})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	return out
}

func ids(objs []storage.Object) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = storage.ID(o)
	}
	return out
}

func eqIDs(t *testing.T, what string, got []storage.Object, want ...string) {
	t.Helper()
	g := ids(got)
	if fmt.Sprint(g) != fmt.Sprint(want) {
		t.Fatalf("%s: got ids %v, want %v", what, g, want)
	}
}

// jv decodes a JSON literal the way the HTTP layer does.
func jv(s string) any {
	var v any
	d := json.NewDecoder(stringsReader(s))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		panic(err)
	}
	return v
}

func obj(s string) storage.Object { return jv(s).(map[string]any) }

func testCreateAndGet(t *testing.T, b storage.Backend) {
	c := create(t, b, recs, obj(`{"id":"a","title":"hello","n":2,"nested":{"x":[1,2]}}`))
	if storage.LastModified(c) <= 0 {
		t.Fatalf("no last_modified assigned: %v", c)
	}
	err := b.View(ctx, func(tx storage.Tx) error {
		got, err := tx.Get(recs, "a")
		if err != nil {
			return err
		}
		if got["title"] != "hello" || storage.LastModified(got) != storage.LastModified(c) {
			return fmt.Errorf("got %v", got)
		}
		if !storage.Equal(got["nested"], jv(`{"x":[1,2]}`)) {
			return fmt.Errorf("nested value changed: %v", got["nested"])
		}
		if ok, _ := tx.Exists(recs, "a"); !ok {
			return fmt.Errorf("Exists of a live object is false")
		}
		if ok, _ := tx.Exists(recs, "missing"); ok {
			return fmt.Errorf("Exists of a missing object is true")
		}
		if _, err := tx.Get(recs, "missing"); !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("missing object: got %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = b.Update(ctx, func(tx storage.Tx) error {
		_, err := tx.Create(recs, obj(`{"title":"no id"}`))
		return err
	})
	if !errors.Is(err, storage.ErrInvalidObject) {
		t.Fatalf("create without id: got %v", err)
	}
}

func testCreateDuplicate(t *testing.T, b storage.Backend) {
	create(t, b, recs, obj(`{"id":"a","v":1}`))
	err := b.Update(ctx, func(tx storage.Tx) error {
		_, err := tx.Create(recs, obj(`{"id":"a","v":2}`))
		return err
	})
	var ue *storage.UnicityError
	if !errors.As(err, &ue) || ue.Field != "id" || !storage.Equal(ue.Existing["v"], jv("1")) {
		t.Fatalf("got %v, want a UnicityError on id with the existing object", err)
	}
}

func testReplace(t *testing.T, b storage.Backend) {
	c := create(t, b, recs, obj(`{"id":"a","v":1,"gone":true}`))
	var r storage.Object
	update(t, b, func(tx storage.Tx) error {
		var err error
		r, err = tx.Replace(recs, obj(`{"id":"a","v":2}`))
		return err
	})
	if storage.LastModified(r) <= storage.LastModified(c) {
		t.Fatalf("replace did not bump: %d <= %d", storage.LastModified(r), storage.LastModified(c))
	}
	got := list(t, b, recs, storage.Query{})
	if len(got) != 1 || got[0]["gone"] != nil || !storage.Equal(got[0]["v"], jv("2")) {
		t.Fatalf("after replace: %v", got)
	}
	// Replace of a missing id creates it.
	update(t, b, func(tx storage.Tx) error {
		_, err := tx.Replace(recs, obj(`{"id":"new"}`))
		return err
	})
	eqIDs(t, "after replace-create", list(t, b, recs, storage.Query{}), "new", "a")
}

func testDelete(t *testing.T, b storage.Backend) {
	create(t, b, recs, obj(`{"id":"a"}`))
	var tomb storage.Object
	update(t, b, func(tx storage.Tx) error {
		var err error
		tomb, err = tx.Delete(recs, "a", 0)
		return err
	})
	if !storage.IsDeleted(tomb) || storage.ID(tomb) != "a" || len(tomb) != 3 {
		t.Fatalf("tombstone: %v", tomb)
	}
	err := b.Update(ctx, func(tx storage.Tx) error {
		if _, err := tx.Get(recs, "a"); !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("get deleted: %v", err)
		}
		if _, err := tx.Delete(recs, "a", 0); !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("delete twice: %v", err)
		}
		ts, _ := tx.Timestamp(recs)
		if ts != storage.LastModified(tomb) {
			return fmt.Errorf("list timestamp %d, want tombstone's %d", ts, storage.LastModified(tomb))
		}
		// Re-creating after delete is allowed.
		_, err := tx.Create(recs, obj(`{"id":"a"}`))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	eqIDs(t, "live list", list(t, b, recs, storage.Query{}), "a")
	eqIDs(t, "with tombstones", list(t, b, recs, storage.Query{IncludeDeleted: true}), "a")
}

func testIsolation(t *testing.T, b storage.Backend) {
	create(t, b, recs, obj(`{"id":"a","where":"c"}`))
	create(t, b, other, obj(`{"id":"a","where":"d"}`))
	create(t, b, storage.Ref{Resource: "group", Parent: "/buckets/b"}, obj(`{"id":"a"}`))
	got := list(t, b, other, storage.Query{})
	if len(got) != 1 || got[0]["where"] != "d" {
		t.Fatalf("other list: %v", got)
	}
}

func testTimestamps(t *testing.T, b storage.Backend) {
	var last int64
	for i := 0; i < 50; i++ {
		o := create(t, b, recs, storage.Object{"id": fmt.Sprintf("r%02d", i)})
		if lm := storage.LastModified(o); lm <= last {
			t.Fatalf("timestamp %d not greater than %d", lm, last)
		} else {
			last = lm
		}
	}
	var ts int64
	b.View(ctx, func(tx storage.Tx) error { ts, _ = tx.Timestamp(recs); return nil })
	if ts != last {
		t.Fatalf("list timestamp %d, want %d", ts, last)
	}
}

func testEmptyTimestamp(t *testing.T, b storage.Backend) {
	var ro, first, second int64
	b.View(ctx, func(tx storage.Tx) error { ro, _ = tx.Timestamp(recs); return nil })
	if ro != 0 {
		t.Fatalf("read-only timestamp of a never-written list: %d, want 0", ro)
	}
	update(t, b, func(tx storage.Tx) (err error) { first, err = tx.Timestamp(recs); return })
	update(t, b, func(tx storage.Tx) (err error) { second, err = tx.Timestamp(recs); return })
	if first == 0 || first != second {
		t.Fatalf("empty list timestamp not stable: %d then %d", first, second)
	}
	o := create(t, b, recs, obj(`{"id":"x"}`))
	if storage.LastModified(o) <= first {
		t.Fatalf("write did not move the timestamp forward")
	}
}

func testReplication(t *testing.T, b storage.Backend) {
	future := int64(4102444800000) // 2100-01-01
	o := create(t, b, recs, storage.Object{"id": "a", "last_modified": future})
	if storage.LastModified(o) != future {
		t.Fatalf("sent newer timestamp not kept: %v", o)
	}
	o = create(t, b, recs, storage.Object{"id": "b", "last_modified": future})
	if storage.LastModified(o) != future+1 {
		t.Fatalf("equal timestamp should be bumped by one: %v", o)
	}
	o = create(t, b, recs, storage.Object{"id": "c", "last_modified": int64(1000)})
	if storage.LastModified(o) != 1000 {
		t.Fatalf("older timestamp on create should be kept: %v", o)
	}
	var ts int64
	update(t, b, func(tx storage.Tx) (err error) {
		ts, err = tx.Timestamp(recs)
		if err != nil {
			return err
		}
		// On replace an older value is ignored.
		r, err := tx.Replace(recs, storage.Object{"id": "c", "last_modified": int64(2000)})
		if err == nil && storage.LastModified(r) <= ts {
			err = fmt.Errorf("replace with an old timestamp got %d, want > %d", storage.LastModified(r), ts)
		}
		return err
	})
	if ts <= future+1 {
		t.Fatalf("list timestamp %d did not move past %d", ts, future+1)
	}
}

func testDeleteForced(t *testing.T, b storage.Backend) {
	create(t, b, recs, obj(`{"id":"a"}`))
	create(t, b, recs, obj(`{"id":"b"}`))
	update(t, b, func(tx storage.Tx) error {
		tomb, err := tx.Delete(recs, "a", 4102444800000)
		if err == nil && storage.LastModified(tomb) != 4102444800000 {
			err = fmt.Errorf("forced tombstone timestamp ignored: %v", tomb)
		}
		if err != nil {
			return err
		}
		tomb, err = tx.Delete(recs, "b", 5)
		if err == nil && storage.LastModified(tomb) <= 4102444800000 {
			err = fmt.Errorf("old forced timestamp must be ignored: %v", tomb)
		}
		return err
	})
}
