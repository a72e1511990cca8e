package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

// TestCacheListenerLost kills the listening connections (as a restart of
// PostgreSQL's side of them, or a proxy dropping them, would) while
// readers on one instance follow the writes of another: no read may be
// older than the last acknowledged write, the reads go on while the
// listener is away (from the database), and the cache comes back.
func TestCacheListenerLost(t *testing.T) {
	pg := pgtest.Start(t)
	url := pg.NewDatabase(t)
	a, b := open(t, url), open(t, url)
	admin, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	// The listeners are the sessions whose last statement is the check
	// listenOnce runs before it reads the connection itself.
	kill := func() int {
		var n int
		err := admin.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		  WHERE datname = current_database() AND pid <> pg_backend_pid() AND query = 'SELECT pg_backend_pid()'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	var mu sync.Mutex
	acked := -1
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	reads := make([]int, 4)
	for r := range reads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				want := acked
				mu.Unlock()
				n := -1
				err := b.View(context.Background(), func(tx storage.Tx) error {
					o, err := tx.Get(recs, "r")
					if err == storage.ErrNotFound {
						return nil
					}
					if err != nil {
						return err
					}
					v, _ := storage.Int(o["n"])
					n = int(v)
					return nil
				})
				if err == nil && n < want {
					err = fmt.Errorf("read n=%d after n=%d was acknowledged", n, want)
				}
				if err != nil {
					errs <- err
					return
				}
				reads[r]++
			}
		}()
	}
	write := func(i int) {
		update(t, a, func(tx storage.Tx) error {
			_, err := tx.Replace(recs, storage.Object{"id": "r", "n": i})
			return err
		})
		mu.Lock()
		acked = i
		mu.Unlock()
	}
	i := 0
	for round := 0; round < 3; round++ {
		if n := kill(); n < 2 {
			t.Fatalf("round %d: %d listeners killed, want both instances'", round, n)
		}
		// Writes go on while the listeners are away and come back.
		deadline := time.Now().Add(300 * time.Millisecond)
		for time.Now().Before(deadline) {
			write(i)
			i++
		}
		pgtest.WaitCache(t, b)
		pgtest.WaitCache(t, a)
		for k := 0; k < 20; k++ {
			write(i)
			i++
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for r, n := range reads {
		if n == 0 {
			t.Errorf("reader %d read nothing", r)
		}
	}
}
