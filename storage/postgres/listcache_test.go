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
