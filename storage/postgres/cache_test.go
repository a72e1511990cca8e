package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/postgres"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

var recs = storage.Ref{Resource: "record", Parent: "/buckets/b/collections/c"}

func open(t *testing.T, url string) *postgres.Backend {
	t.Helper()
	b, err := postgres.Open(context.Background(), url, postgres.Options{MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	pgtest.WaitCache(t, b)
	return b
}

// connect opens a plain connection to the database at url, closed when
// the test ends: what a test writes or reads around the backend.
func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func view[T any](t *testing.T, b storage.Backend, fn func(storage.Tx) (T, error)) T {
	t.Helper()
	var out T
	if err := b.View(context.Background(), func(tx storage.Tx) error {
		var err error
		out, err = fn(tx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func update(t *testing.T, b storage.Backend, fn func(storage.Tx) error) {
	t.Helper()
	if err := b.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

// TestCacheAcrossInstances checks that what one instance (or any other
// writer of the database) commits is never served stale by another
// instance's cache, not even by a read that starts right after the commit.
func TestCacheAcrossInstances(t *testing.T) {
	pg := pgtest.Start(t)
	url := pg.NewDatabase(t)
	a, b := open(t, url), open(t, url)
	sql, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer sql.Close(context.Background())

	getV := func(be storage.Backend) any {
		o := view(t, be, func(tx storage.Tx) (storage.Object, error) {
			o, err := tx.Get(recs, "r")
			if err == storage.ErrNotFound {
				return nil, nil
			}
			return o, err
		})
		if o == nil {
			return nil
		}
		return o["v"]
	}
	for i := 0; i < 100; i++ {
		getV(b) // warm B's cache with the previous value
		update(t, a, func(tx storage.Tx) error {
			_, err := tx.Replace(recs, storage.Object{"id": "r", "v": fmt.Sprint(i)})
			return err
		})
		if got := getV(b); got != fmt.Sprint(i) {
			t.Fatalf("round %d: B read %v after A committed %d", i, got, i)
		}
	}
	hits, misses := b.CacheStats()
	if hits == 0 || misses == 0 {
		t.Errorf("B's cache was not exercised: %d hits, %d misses", hits, misses)
	}

	// List counts (Total-Records) follow creations and deletions.
	count := func(be storage.Backend) int {
		return view(t, be, func(tx storage.Tx) (int, error) { return tx.Count(recs, nil, false) })
	}
	tagged := []storage.Filter{{Field: "tag", Op: storage.OpEq, Value: "x"}}
	countTagged := func(be storage.Backend) int {
		return view(t, be, func(tx storage.Tx) (int, error) { return tx.Count(recs, tagged, false) })
	}
	for i := 0; i < 10; i++ {
		before, beforeTagged := count(b), countTagged(b)
		update(t, a, func(tx storage.Tx) error {
			_, err := tx.Create(recs, storage.Object{"id": fmt.Sprint("c", i), "tag": []string{"x", "y"}[i%2]})
			return err
		})
		if got := count(b); got != before+1 {
			t.Fatalf("round %d: B counts %d after a creation on A, had %d", i, got, before)
		}
		if got, want := countTagged(b), beforeTagged+1-i%2; got != want {
			t.Fatalf("round %d: B counts %d tagged objects, want %d", i, got, want)
		}
	}

	// The list timestamp (the ETag of its pages) follows too, also when a
	// write only stamps the list.
	stamp := func(be storage.Backend) int64 {
		return view(t, be, func(tx storage.Tx) (int64, error) { return tx.Timestamp(recs) })
	}
	empty := storage.Ref{Resource: "record", Parent: "/buckets/b/collections/empty"}
	if ts := view(t, b, func(tx storage.Tx) (int64, error) { return tx.Timestamp(empty) }); ts != 0 {
		t.Fatalf("an empty list has timestamp %d", ts)
	}
	var stamped int64
	update(t, a, func(tx storage.Tx) (err error) { stamped, err = tx.Timestamp(empty); return })
	if ts := view(t, b, func(tx storage.Tx) (int64, error) { return tx.Timestamp(empty) }); ts != stamped || ts == 0 {
		t.Fatalf("B reads timestamp %d of the stamped empty list, want %d", ts, stamped)
	}
	for i := 0; i < 10; i++ {
		before := stamp(b)
		var o storage.Object
		update(t, a, func(tx storage.Tx) (err error) {
			o, err = tx.Replace(recs, storage.Object{"id": "stamped"})
			return
		})
		if got := stamp(b); got != storage.LastModified(o) || got <= before {
			t.Fatalf("round %d: B reads list timestamp %d, want %d", i, got, storage.LastModified(o))
		}
	}

	// Deletion, ACLs and memberships.
	update(t, a, func(tx storage.Tx) error { _, err := tx.Delete(recs, "r", 0); return err })
	if got := getV(b); got != nil {
		t.Fatalf("B still reads a deleted object: %v", got)
	}
	for i := 0; i < 20; i++ {
		who := fmt.Sprintf("account:u%d", i)
		view(t, b, func(tx storage.Tx) (storage.ACL, error) { return tx.GetACL("/buckets/b") })
		view(t, b, func(tx storage.Tx) ([]string, error) { return tx.UserPrincipals([]string{who}) })
		update(t, a, func(tx storage.Tx) error {
			if err := tx.SetACL("/buckets/b", storage.ACL{"write": {who}}); err != nil {
				return err
			}
			return tx.AddUserPrincipal(who, "/buckets/b/groups/g")
		})
		acl := view(t, b, func(tx storage.Tx) (storage.ACL, error) { return tx.GetACL("/buckets/b") })
		if fmt.Sprint(acl["write"]) != "["+who+"]" {
			t.Fatalf("round %d: B read ACL %v", i, acl)
		}
		ps := view(t, b, func(tx storage.Tx) ([]string, error) { return tx.UserPrincipals([]string{who}) })
		if fmt.Sprint(ps) != "[/buckets/b/groups/g]" {
			t.Fatalf("round %d: B read principals %v", i, ps)
		}
	}

	// A writer that is not Nimbus (Kinto on the same database) is heard
	// through the triggers.
	for i := 0; i < 20; i++ {
		getV(b)
		if _, err := sql.Exec(context.Background(), `INSERT INTO objects (id, parent_id, resource_name, data, last_modified, deleted)
		  VALUES ('r', $1, 'record', $2, NOW(), FALSE)
		  ON CONFLICT (id, parent_id, resource_name) DO UPDATE SET data = EXCLUDED.data, deleted = FALSE`,
			recs.Parent, fmt.Sprintf(`{"v":"sql%d"}`, i)); err != nil {
			t.Fatal(err)
		}
		if got := getV(b); got != fmt.Sprintf("sql%d", i) {
			t.Fatalf("round %d: B read %v after an outside write", i, got)
		}
	}
	if _, err := sql.Exec(context.Background(), `TRUNCATE objects`); err != nil {
		t.Fatal(err)
	}
	if got := getV(b); got != nil {
		t.Fatalf("B still reads %v after TRUNCATE", got)
	}
}

// TestCacheConcurrentReaders runs readers against a writer on the other
// instance: a reader that starts after a write was acknowledged sees it.
func TestCacheConcurrentReaders(t *testing.T) {
	pg := pgtest.Start(t)
	url := pg.NewDatabase(t)
	a, b := open(t, url), open(t, url)
	r := followReads(b, 4)
	for i := 0; i < 200; i++ {
		r.write(t, a, i)
	}
	r.stop(t)
}

// readers read record r of recs on one backend, from several goroutines
// at once, until stopped, checking that none reads n older than the last
// write acknowledged (write).
type readers struct {
	mu    sync.Mutex
	acked int
	quit  chan struct{}
	wg    sync.WaitGroup
	errs  chan error
	reads []int
}

func followReads(b storage.Backend, n int) *readers {
	r := &readers{acked: -1, quit: make(chan struct{}), errs: make(chan error, n), reads: make([]int, n)}
	for k := 0; k < n; k++ {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for {
				select {
				case <-r.quit:
					return
				default:
				}
				r.mu.Lock()
				want := r.acked
				r.mu.Unlock()
				got := -1
				err := b.View(context.Background(), func(tx storage.Tx) error {
					o, err := tx.Get(recs, "r")
					if err == storage.ErrNotFound {
						return nil
					}
					if err != nil {
						return err
					}
					v, _ := storage.Int(o["n"])
					got = int(v)
					return nil
				})
				if err == nil && got < want {
					err = fmt.Errorf("read n=%d after n=%d was acknowledged", got, want)
				}
				if err != nil {
					r.errs <- err
					return
				}
				r.reads[k]++
			}
		}()
	}
	return r
}

// write replaces r with n = i on a, then counts it acknowledged.
func (r *readers) write(t *testing.T, a storage.Backend, i int) {
	t.Helper()
	update(t, a, func(tx storage.Tx) error {
		_, err := tx.Replace(recs, storage.Object{"id": "r", "n": i})
		return err
	})
	r.mu.Lock()
	r.acked = i
	r.mu.Unlock()
}

// stop ends the readers and reports what they found.
func (r *readers) stop(t *testing.T) {
	t.Helper()
	close(r.quit)
	r.wg.Wait()
	close(r.errs)
	for err := range r.errs {
		t.Error(err)
	}
	for k, n := range r.reads {
		if n == 0 {
			t.Errorf("reader %d read nothing", k)
		}
	}
}

// TestCacheNeedsTriggers: a database without the notification triggers
// (say, one only Kinto has migrated) is served without the cache.
func TestCacheNeedsTriggers(t *testing.T) {
	pg := pgtest.Start(t)
	url := pg.NewDatabase(t)
	sql, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer sql.Close(context.Background())
	if _, err := sql.Exec(context.Background(), `DROP TRIGGER nimbus_cache_objects ON objects`); err != nil {
		t.Fatal(err)
	}
	b, err := postgres.Open(context.Background(), url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	update(t, b, func(tx storage.Tx) error {
		_, err := tx.Create(recs, storage.Object{"id": "r", "v": "1"})
		return err
	})
	for i := 0; i < 3; i++ {
		if o := view(t, b, func(tx storage.Tx) (storage.Object, error) { return tx.Get(recs, "r") }); o["v"] != "1" {
			t.Fatal(o)
		}
	}
	if hits, misses := b.CacheStats(); b.CacheReady() || hits+misses != 0 {
		t.Errorf("cache in use without triggers: ready=%v hits=%d misses=%d", b.CacheReady(), hits, misses)
	}
	if msg, err := postgres.Migrate(context.Background(), url); err != nil || msg == "" {
		t.Fatal(msg, err)
	}
	b2 := open(t, url)
	view(t, b2, func(tx storage.Tx) (storage.Object, error) { return tx.Get(recs, "r") })
	view(t, b2, func(tx storage.Tx) (storage.Object, error) { return tx.Get(recs, "r") })
	if hits, _ := b2.CacheStats(); hits == 0 {
		t.Error("nimbus migrate did not put the triggers back")
	}
}

// TestCacheInWriteTransactions: a write transaction reads through the
// cache only what it has not written itself.
func TestCacheInWriteTransactions(t *testing.T) {
	pg := pgtest.Start(t)
	b := open(t, pg.NewDatabase(t))
	cols := storage.Ref{Resource: "collection", Parent: "/buckets/b"}
	// Cache "absent" for the collection, an empty ACL and no principals.
	view(t, b, func(tx storage.Tx) (bool, error) { return tx.Exists(cols, "c") })
	view(t, b, func(tx storage.Tx) (storage.ACL, error) { return tx.GetACL("/buckets/b/collections/c") })
	view(t, b, func(tx storage.Tx) ([]string, error) { return tx.UserPrincipals([]string{"account:x"}) })
	update(t, b, func(tx storage.Tx) error {
		if _, err := tx.Create(cols, storage.Object{"id": "c"}); err != nil {
			return err
		}
		if ok, err := tx.Exists(cols, "c"); err != nil || !ok {
			return fmt.Errorf("own creation not seen: %v %v", ok, err)
		}
		if err := tx.SetACL("/buckets/b/collections/c", storage.ACL{"write": {"account:x"}}); err != nil {
			return err
		}
		if acl, err := tx.GetACL("/buckets/b/collections/c"); err != nil || len(acl["write"]) != 1 {
			return fmt.Errorf("own ACL not seen: %v %v", acl, err)
		}
		if err := tx.AddUserPrincipal("account:x", "/buckets/b/groups/g"); err != nil {
			return err
		}
		if ps, err := tx.UserPrincipals([]string{"account:x"}); err != nil || len(ps) != 1 {
			return fmt.Errorf("own membership not seen: %v %v", ps, err)
		}
		// Many writes to one list: one lock, timestamps still increasing.
		var last int64
		for i := 0; i < 10; i++ {
			o, err := tx.Create(recs, storage.Object{"id": fmt.Sprint("r", i)})
			if err != nil {
				return err
			}
			if lm := storage.LastModified(o); lm <= last {
				return fmt.Errorf("timestamp %d after %d", lm, last)
			}
			last = storage.LastModified(o)
		}
		return nil
	})
	if ok := view(t, b, func(tx storage.Tx) (bool, error) { return tx.Exists(cols, "c") }); !ok {
		t.Error("the commit did not replace the cached absence")
	}
}

// TestCacheLeavesLargeRowsOut: with CacheBytes set, a record larger than
// a 64th of it is read from the database each time, while a small one is
// answered from the cache; both read back whole.
func TestCacheLeavesLargeRowsOut(t *testing.T) {
	pg := pgtest.Start(t)
	b, err := postgres.Open(context.Background(), pg.NewDatabase(t), postgres.Options{MaxConns: 8, CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	pgtest.WaitCache(t, b)
	large := strings.Repeat("x", 20<<10)
	update(t, b, func(tx storage.Tx) error {
		if _, err := tx.Create(recs, storage.Object{"id": "large", "text": large}); err != nil {
			return err
		}
		_, err := tx.Create(recs, storage.Object{"id": "small", "text": "x"})
		return err
	})
	for _, c := range []struct {
		id   string
		hits uint64
	}{{"large", 0}, {"small", 2}} {
		hits, _ := b.CacheStats()
		for range 3 {
			o := view(t, b, func(tx storage.Tx) (storage.Object, error) { return tx.Get(recs, c.id) })
			if o["text"] != map[string]string{"large": large, "small": "x"}[c.id] {
				t.Fatalf("%s read back as %.40v", c.id, o["text"])
			}
		}
		if after, _ := b.CacheStats(); after-hits != c.hits {
			t.Errorf("%s: %d reads of 3 from the cache, want %d", c.id, after-hits, c.hits)
		}
	}
}
