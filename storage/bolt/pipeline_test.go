package bolt

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/storage"
)

var ref = storage.Ref{Resource: "record", Parent: "/buckets/b/collections/c"}

func open(t *testing.T) *Backend {
	t.Helper()
	b, err := Open(filepath.Join(t.TempDir(), "p.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func create(b *Backend, id string) error {
	return b.Update(context.Background(), func(tx storage.Tx) error {
		_, err := tx.Create(ref, storage.Object{"id": id})
		return err
	})
}

func exists(t *testing.T, b *Backend, id string) bool {
	t.Helper()
	var ok bool
	if err := b.View(context.Background(), func(tx storage.Tx) (err error) { ok, err = tx.Exists(ref, id); return }); err != nil {
		t.Fatal(err)
	}
	return ok
}

// TestFailedFlush: when a commit fails, its writers get an error, nothing
// of it is kept, and later writes work.
func TestFailedFlush(t *testing.T) {
	b := open(t)
	boom := errors.New("disk full")
	b.pipe.mu.Lock()
	b.pipe.failApply = func() error { return boom }
	b.pipe.mu.Unlock()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = create(b, string(rune('a'+i))) }()
	}
	wg.Wait()
	for i, err := range errs {
		var be *storage.BackendError
		if !errors.As(err, &be) || !errors.Is(err, boom) {
			t.Errorf("writer %d: %v, want the commit's error", i, err)
		}
		if exists(t, b, string(rune('a'+i))) {
			t.Errorf("writer %d: its object was kept", i)
		}
	}
	b.pipe.mu.Lock()
	b.pipe.failApply = nil
	b.pipe.mu.Unlock()
	if err := create(b, "after"); err != nil || !exists(t, b, "after") {
		t.Fatalf("write after a failed commit: %v", err)
	}
	// The list timestamp the failed writers computed was not kept either:
	// a write reads the committed state again.
	if err := create(b, "a"); err != nil {
		t.Fatal(err)
	}
}

// TestPanicInTransaction: a panicking function leaves nothing behind and
// releases the pipeline.
func TestPanicInTransaction(t *testing.T) {
	b := open(t)
	func() {
		defer func() { recover() }()
		b.Update(context.Background(), func(tx storage.Tx) error {
			tx.Create(ref, storage.Object{"id": "ghost"})
			panic("handler bug")
		})
	}()
	done := make(chan error, 1)
	go func() { done <- create(b, "real") }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the pipeline stayed locked after a panic")
	}
	if exists(t, b, "ghost") || !exists(t, b, "real") {
		t.Fatal("a panicking transaction left its write")
	}
}

// TestReadsSeePendingWrites: a write transaction sees what earlier
// transactions wrote even while their commit is still running, and a
// failing transaction's writes vanish.
func TestReadsSeePendingWrites(t *testing.T) {
	b := open(t)
	const n = 200
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := b.Update(context.Background(), func(tx storage.Tx) error {
				c, err := tx.Count(ref, nil, false)
				if err != nil {
					return err
				}
				if _, err := tx.Create(ref, storage.Object{"id": "n" + string(rune('A'+c%26)) + string(rune('A'+c/26))}); err != nil {
					return err
				}
				if i%7 == 0 {
					return errors.New("changed my mind")
				}
				return nil
			})
			if err != nil && err.Error() != "changed my mind" {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	var count int
	b.View(context.Background(), func(tx storage.Tx) (err error) { count, err = tx.Count(ref, nil, false); return })
	if want := n - (n+6)/7; count != want {
		t.Fatalf("%d objects, want %d (each transaction counted the ones before it)", count, want)
	}
}

// TestBadKeyFailsAlone: a write bbolt would refuse fails its own
// transaction at once, not the commit it would have shared with others.
func TestBadKeyFailsAlone(t *testing.T) {
	b := open(t)
	var wg sync.WaitGroup
	errs := make([]error, 12)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprint("ok", i)
			if i == 5 {
				id = strings.Repeat("x", 40000)
			}
			errs[i] = create(b, id)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if (i == 5) != (err != nil) {
			t.Errorf("writer %d: %v", i, err)
		}
	}
}

// TestBulkUpdateBetweenPipelinedWrites: a bulk transaction (BulkUpdate)
// sees every pipelined write acknowledged before it started, none of
// the pipelined writes running meanwhile is lost or sees half of it, and
// a failing bulk transaction leaves nothing.
func TestBulkUpdateBetweenPipelinedWrites(t *testing.T) {
	b := open(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	stop := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := create(b, fmt.Sprintf("w%d-%d", w, i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	const pages, perPage = 20, 50
	boom := errors.New("boom")
	for p := range pages {
		// What was acknowledged before the bulk transaction is in it.
		if err := create(b, fmt.Sprintf("before-%d", p)); err != nil {
			t.Fatal(err)
		}
		err := b.BulkUpdate(ctx, func(tx storage.Tx) error {
			if ok, err := tx.Exists(ref, fmt.Sprintf("before-%d", p)); err != nil || !ok {
				return fmt.Errorf("an acknowledged write is missing from the bulk transaction: %v %v", ok, err)
			}
			objs := make([]storage.BulkObject, perPage)
			for i := range objs {
				objs[i] = storage.BulkObject{Object: storage.Object{"id": fmt.Sprintf("bulk%d-%d", p, i)}}
			}
			if err := tx.(storage.BulkWriter).WriteMany(ref, objs, func(id string) string { return id }); err != nil {
				return err
			}
			if p%5 == 4 {
				return boom
			}
			return nil
		})
		if p%5 == 4 {
			if !errors.Is(err, boom) {
				t.Fatalf("page %d: %v", p, err)
			}
		} else if err != nil {
			t.Fatalf("page %d: %v", p, err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var n, counted int
	var all []storage.Object
	if err := b.View(ctx, func(tx storage.Tx) (err error) {
		if n, err = tx.Count(ref, []storage.Filter{{Field: "id", Op: storage.OpLike, Value: "bulk*"}}, false); err != nil {
			return err
		}
		if counted, err = tx.Count(ref, nil, false); err != nil {
			return err
		}
		all, err = tx.List(ref, storage.Query{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// The list's count is kept apart from its objects: a pipelined write
	// applied over a bulk one would have lost the bulk one's.
	if counted != len(all) {
		t.Errorf("the list counts %d objects, holds %d", counted, len(all))
	}
	if want := (pages - pages/5) * perPage; n != want {
		t.Errorf("%d objects of bulk pages stored, want %d", n, want)
	}
}
