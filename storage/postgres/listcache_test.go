package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/postgres"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

// TestPageCacheFollowsEveryWriter checks that list pages kept by one
// instance (listcache.go) follow what any writer commits: another
// instance, plain SQL as Kinto writes it, deletions, a subtree deleted,
// tombstones purged. After each write, instance B reads the same pages
// (newest first, a filter, a custom sort, the second page of a cursor) and
// must get what a read of the database gives.
func TestPageCacheFollowsEveryWriter(t *testing.T) {
	pg := pgtest.Start(t)
	url := pg.NewDatabase(t)
	a, b := open(t, url), open(t, url)
	uncached, err := postgres.Open(context.Background(), url, postgres.Options{MaxConns: 2, CacheEntries: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer uncached.Close()
	sql, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer sql.Close(context.Background())
	for i := 0; i < 30; i++ {
		update(t, a, func(tx storage.Tx) error {
			_, err := tx.Create(recs, storage.Object{"id": fmt.Sprintf("r%02d", i), "n": i, "status": []string{"active", "done"}[i%2]})
			return err
		})
	}
	queries := []storage.Query{
		{Limit: 5},
		{Limit: 5, Filters: []storage.Filter{{Field: "status", Op: storage.OpEq, Value: "active"}}},
		{Limit: 5, Sort: []storage.Sort{{Field: "n"}}},
		{Limit: 5, Sort: []storage.Sort{{Field: "n"}}, After: storage.Object{"n": 4, "last_modified": int64(1 << 62), "id": "r04"}},
		{Limit: 5, IncludeDeleted: true},
	}
	page := func(be storage.Backend, q storage.Query) string {
		objs := view(t, be, func(tx storage.Tx) ([]storage.Object, error) { return tx.List(recs, q) })
		out := ""
		for _, o := range objs {
			out += fmt.Sprintf("%s:%v:%v:%d ", storage.ID(o), o["n"], storage.IsDeleted(o), storage.LastModified(o))
		}
		return out
	}
	check := func(step string) {
		t.Helper()
		for i, q := range queries {
			// Twice: the second read comes from B's cache.
			page(b, q)
			got := page(b, q)
			// Through an instance whose cache is dropped before each read.
			if want := page(uncached, q); got != want {
				t.Errorf("%s, query %d: B answers\n  %s\nthe database\n  %s", step, i, got, want)
			}
		}
	}
	check("start")
	hits, _ := b.CacheStats()
	if hits == 0 {
		t.Fatal("B's page cache was not used")
	}
	update(t, a, func(tx storage.Tx) error {
		_, err := tx.Replace(recs, storage.Object{"id": "r03", "n": -1, "status": "active"})
		return err
	})
	check("replaced on A")
	update(t, a, func(tx storage.Tx) error { _, err := tx.Delete(recs, "r29", 0); return err })
	check("deleted on A")
	if _, err := sql.Exec(context.Background(), `INSERT INTO objects (id, parent_id, resource_name, data, last_modified, deleted)
	  VALUES ('kinto', $1, 'record', '{"n": -5, "status": "active"}', NULL, FALSE)`, recs.Parent); err != nil {
		t.Fatal(err)
	}
	check("written by plain SQL")
	update(t, a, func(tx storage.Tx) error { _, err := tx.PurgeDeleted(recs, 0, 0); return err })
	check("tombstones purged")
	update(t, a, func(tx storage.Tx) error { return tx.DeleteTree("/buckets/b") })
	check("subtree deleted")
}

// TestPageNotOlderThanItsTimestamp: a read-only transaction that returns
// a list timestamp (a list response's ETag) is never served a kept page
// older than it. The cache can hold a newer timestamp than its pages:
// here a record is written without notifications (as if B had not heard
// of it yet) and only the list's timestamps row is announced, which drops
// B's timestamp but not its pages. A page without that record sent with
// an ETag that covers it would make a client syncing from the ETag miss
// the record for good.
func TestPageNotOlderThanItsTimestamp(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Start(t).NewDatabase(t)
	b := open(t, url)
	update(t, b, func(tx storage.Tx) error {
		_, err := tx.Create(recs, storage.Object{"id": "r1"})
		return err
	})
	read := func() (ts int64, ids string) {
		t.Helper()
		objs := view(t, b, func(tx storage.Tx) (objs []storage.Object, err error) {
			if ts, err = tx.Timestamp(recs); err != nil {
				return nil, err
			}
			return tx.List(recs, storage.Query{Limit: 5})
		})
		for _, o := range objs {
			ids += storage.ID(o) + " "
		}
		return ts, ids
	}
	ts0, _ := read()
	if ts, ids := read(); ts != ts0 || ids != "r1 " {
		t.Fatalf("cached read: %d %q, want %d \"r1 \"", ts, ids, ts0)
	}
	sql, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer sql.Close(ctx)
	ts1 := ts0 + 1000
	tx, err := sql.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`SELECT set_config('nimbus.quiet', 'on', true)`,
		`INSERT INTO objects (id, parent_id, resource_name, data, last_modified, deleted) VALUES ('unheard', $1, 'record', '{}', from_epoch($2), FALSE)`} {
		args := []any{recs.Parent, ts1}
		if q[0] == 'S' {
			args = nil
		}
		if _, err := tx.Exec(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := sql.Exec(ctx, `INSERT INTO timestamps (parent_id, resource_name, last_modified) VALUES ($1, 'record', from_epoch($2))
	  ON CONFLICT (parent_id, resource_name) DO UPDATE SET last_modified = EXCLUDED.last_modified`, recs.Parent, ts1); err != nil {
		t.Fatal(err)
	}
	ts, ids := read()
	if ts != ts1 {
		t.Fatalf("timestamp %d after the timestamps row moved, want %d", ts, ts1)
	}
	if ids != "unheard r1 " {
		t.Errorf("page %q sent with timestamp %d, want the record stamped %d in it", ids, ts, ts1)
	}
}
