package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/nimbus-server/nimbus/storage/postgres"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

// TestConcurrentMigrates: instances started together on a fresh database
// (containers that run migrate before serve) all succeed, one creating
// the schema and the others finding it up to date; without the migrate
// lock all but one failed on the functions another had just created.
func TestConcurrentMigrates(t *testing.T) {
	srv := pgtest.Start(t)
	ctx := context.Background()
	admin := connect(t, srv.URL("postgres"))
	for round := range 3 {
		name := fmt.Sprintf("nimbus_migrate_race_%d", round)
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			t.Fatal(err)
		}
		const n = 4
		msgs := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				msgs[i], errs[i] = postgres.Migrate(ctx, srv.URL(name))
			}()
		}
		wg.Wait()
		created := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("round %d: migrate %d: %v", round, i, errs[i])
			}
			if strings.HasPrefix(msgs[i], "schema created") {
				created++
			}
		}
		if created != 1 {
			t.Errorf("round %d: %d migrates created the schema, want 1: %q", round, created, msgs)
		}
		open(t, srv.URL(name)) // the schema serves
	}
}
