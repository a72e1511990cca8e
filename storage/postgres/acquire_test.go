package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/postgres"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

// TestRefusedConnectionsWait: when PostgreSQL grants fewer connections
// than the pool may open (here a role limited to three: the listener
// and two), requests wait for the pool's connections instead of failing
// on the refusal (SQLSTATE 53300), reads and writes alike.
func TestRefusedConnectionsWait(t *testing.T) {
	ctx := context.Background()
	srv := pgtest.Start(t)
	url := srv.NewDatabase(t)
	admin := connect(t, url)
	db := url[strings.LastIndex(url, "/")+1:]
	role := "limited_" + db[:strings.Index(db+"?", "?")] // roles are the cluster's: one per database
	for _, stmt := range []string{
		`DROP ROLE IF EXISTS ` + role,
		`CREATE ROLE ` + role + ` LOGIN CONNECTION LIMIT 3`,
		`GRANT ALL ON ALL TABLES IN SCHEMA public TO ` + role,
		`GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO ` + role,
	} {
		if _, err := admin.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { admin.Exec(context.Background(), `DROP OWNED BY `+role) }) //nolint:errcheck // best effort
	limited := strings.Replace(url, "postgres@", role+"@", 1)
	b, err := postgres.Open(ctx, limited, postgres.Options{MaxConns: 16})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	update(t, b, func(tx storage.Tx) error {
		_, err := tx.Create(recs, storage.Object{"id": "seed"})
		return err
	})
	const workers, rounds = 16, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				if w%2 == 0 {
					errs <- b.View(ctx, func(tx storage.Tx) error {
						// A filter the cache has not seen: a query, so a
						// connection.
						_, err := tx.List(recs, storage.Query{Filters: []storage.Filter{{Field: "w", Op: storage.OpEq, Value: fmt.Sprint(w, "-", i)}}})
						return err
					})
				} else {
					errs <- b.Update(ctx, func(tx storage.Tx) error {
						_, err := tx.Create(recs, storage.Object{"id": fmt.Sprint("r", w, "-", i)})
						return err
					})
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			if failed == 0 {
				t.Errorf("a request failed: %v", err)
			}
			failed++
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d requests failed", failed, workers*rounds)
	}
}
