package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

// TestHeldParentsReadAlike: once HoldParents found a parent in the
// database, the transaction's later reads of it answer the same, even
// where the cache is older (it is as fresh as the request's barrier; a
// parent another instance created after it may still be absent there).
// A record's schema validation read its collection through the cache
// right after HoldParents had found it, and got 404. The cache is made
// stale here by a write whose notification is silenced.
func TestHeldParentsReadAlike(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Start(t).NewDatabase(t)
	b := open(t, url)
	buckets := storage.Ref{Resource: "bucket"}
	cols := storage.Ref{Resource: "collection", Parent: "/buckets/b"}
	update(t, b, func(tx storage.Tx) error {
		_, err := tx.Create(buckets, storage.Object{"id": "b"})
		return err
	})
	before := time.Now()
	// The cache learns that the collection is absent.
	if view(t, b, func(tx storage.Tx) (bool, error) { return tx.Exists(cols, "c") }) {
		t.Fatal("collection c exists before its creation")
	}
	sql := connect(t, url)
	if _, err := sql.Exec(ctx, `BEGIN; SET LOCAL nimbus.quiet = 'on'; SET LOCAL nimbus.stamped = 'on';
		INSERT INTO objects (id, parent_id, resource_name, data, last_modified, deleted)
		VALUES ('c', '/buckets/b', 'collection', '{"title":"new"}', now(), FALSE); COMMIT`); err != nil {
		t.Fatal(err)
	}
	if view(t, b, func(tx storage.Tx) (bool, error) { return tx.Exists(cols, "c") }) {
		t.Skip("the cache heard of the silenced write: nothing stale to test")
	}
	// A write of the request that read before: its cache is usable.
	wctx := storage.WithReadAfter(ctx, before)
	err := b.Update(wctx, func(tx storage.Tx) error {
		live, err := storage.HoldParents(tx, []storage.Held{{List: buckets, ID: "b"}, {List: cols, ID: "c"}}, recs)
		if err != nil {
			return err
		}
		if !live[0] || !live[1] {
			return errors.New("HoldParents did not find the collection in the database")
		}
		col, err := tx.Get(cols, "c")
		if err != nil {
			return errors.New("the collection HoldParents found reads as " + err.Error())
		}
		if col["title"] != "new" {
			t.Errorf("collection read as %v", col)
		}
		if ok, err := tx.Exists(cols, "c"); err != nil || !ok {
			t.Errorf("Exists after HoldParents: %v, %v", ok, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
