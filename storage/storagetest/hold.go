package storagetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/storage"
)

// testHoldParents checks storage.HoldParents (a backend's ParentHolder,
// or the fallback to Exists): which parents it reports live, top down,
// within one transaction as it deletes them and across a savepoint; and
// that a deletion of a parent running while a write under it is held
// leaves nothing under the deleted parent.
func testHoldParents(t *testing.T, b storage.Backend) {
	buckets := storage.Ref{Resource: "bucket"}
	cols := storage.Ref{Resource: "collection", Parent: "/buckets/b"}
	create(t, b, buckets, obj(`{"id":"b"}`))
	create(t, b, cols, obj(`{"id":"c"}`))
	chain := func(bucket, col string) []storage.Held {
		return []storage.Held{{List: buckets, ID: bucket}, {List: storage.Ref{Resource: "collection", Parent: "/buckets/" + bucket}, ID: col}}
	}
	hold := func(tx storage.Tx, want string, objs []storage.Held) error {
		live, err := storage.HoldParents(tx, objs, storage.Ref{Resource: "record", Parent: "/buckets/" + objs[0].ID + "/collections/" + objs[1].ID})
		if err != nil {
			return err
		}
		if got := fmt.Sprint(live); got != want {
			return fmt.Errorf("HoldParents(%v) = %s, want %s", objs, got, want)
		}
		return nil
	}
	update(t, b, func(tx storage.Tx) error {
		for _, c := range []struct {
			want string
			objs []storage.Held
		}{
			{"[true true]", chain("b", "c")},
			{"[true false]", chain("b", "x")},
			{"[false false]", chain("x", "c")},
			{"[true true]", chain("b", "c")},
		} {
			if err := hold(tx, c.want, c.objs); err != nil {
				return err
			}
		}
		if _, err := tx.Create(recs, obj(`{"id":"r"}`)); err != nil {
			return err
		}
		// Rolled back: the collection is there again.
		sp, ok := tx.(storage.Savepointer)
		if ok {
			n := sp.Savepoint()
			if _, err := tx.Delete(cols, "c", 0); err != nil {
				return err
			}
			if err := hold(tx, "[true false]", chain("b", "c")); err != nil {
				return fmt.Errorf("after its deletion in the transaction: %w", err)
			}
			if err := sp.RollbackTo(n); err != nil {
				return err
			}
			if err := hold(tx, "[true true]", chain("b", "c")); err != nil {
				return fmt.Errorf("after the deletion was rolled back: %w", err)
			}
		}
		// Deleted for good: held before, missing now.
		if _, err := tx.Delete(cols, "c", 0); err != nil {
			return err
		}
		if err := tx.DeleteTree("/buckets/b/collections/c"); err != nil {
			return err
		}
		return hold(tx, "[true false]", chain("b", "c"))
	})
	eqIDs(t, "records of the deleted collection", list(t, b, recs, storage.Query{IncludeDeleted: true}))

	// A write holding the collection, and its deletion started meanwhile:
	// whichever order the backend runs them in, nothing is left under a
	// deleted collection.
	create(t, b, cols, obj(`{"id":"c2"}`))
	c2recs := storage.Ref{Resource: "record", Parent: "/buckets/b/collections/c2"}
	held, release := make(chan struct{}), make(chan struct{})
	writer := make(chan error, 1)
	go func() {
		writer <- b.Update(ctx, func(tx storage.Tx) error {
			live, err := storage.HoldParents(tx, chain("b", "c2"), c2recs)
			if err != nil {
				return err
			}
			select {
			case <-held:
			default:
				close(held)
			}
			if !live[1] {
				return nil
			}
			<-release
			_, err = tx.Create(c2recs, obj(`{"id":"late"}`))
			return err
		})
	}()
	<-held
	deleter := make(chan error, 1)
	go func() {
		deleter <- b.Update(ctx, func(tx storage.Tx) error {
			if _, err := tx.Delete(cols, "c2", 0); err != nil {
				return err
			}
			return tx.DeleteTree("/buckets/b/collections/c2")
		})
	}()
	time.Sleep(20 * time.Millisecond)
	close(release)
	if err := <-writer; err != nil {
		t.Fatalf("writer: %v", err)
	}
	if err := <-deleter; err != nil {
		t.Fatalf("deleter: %v", err)
	}
	eqIDs(t, "records left under the deleted collection", list(t, b, c2recs, storage.Query{}))

	// Held, then deleted with the bucket's subtree: no longer there.
	create(t, b, cols, obj(`{"id":"c3"}`))
	update(t, b, func(tx storage.Tx) error {
		if err := hold(tx, "[true true]", chain("b", "c3")); err != nil {
			return err
		}
		if err := tx.DeleteTree("/buckets/b"); err != nil {
			return err
		}
		if ok, err := tx.Exists(cols, "c3"); err != nil || ok {
			return fmt.Errorf("a collection held, then deleted with its bucket's subtree: Exists = %v, %v", ok, err)
		}
		if _, err := tx.Get(cols, "c3"); !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("a collection held, then deleted with its bucket's subtree: Get = %v", err)
		}
		return nil
	})
}
