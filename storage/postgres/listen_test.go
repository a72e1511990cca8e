package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

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
	r := followReads(b, 4)
	i := 0
	for round := 0; round < 3; round++ {
		if n := kill(); n < 2 {
			t.Fatalf("round %d: %d listeners killed, want both instances'", round, n)
		}
		// Writes go on while the listeners are away and come back.
		deadline := time.Now().Add(300 * time.Millisecond)
		for time.Now().Before(deadline) {
			r.write(t, a, i)
			i++
		}
		pgtest.WaitCache(t, b)
		pgtest.WaitCache(t, a)
		for k := 0; k < 20; k++ {
			r.write(t, a, i)
			i++
		}
	}
	r.stop(t)
}
