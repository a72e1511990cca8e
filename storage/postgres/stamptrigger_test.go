package postgres_test

import (
	"context"
	"testing"

	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

// TestStampTriggerRunsForOthersOnly: Kinto's stamping trigger, as
// "nimbus migrate" installs it, calls bump_timestamp only for the rows
// that need it. A row written by a Nimbus transaction with its timestamp
// skips the function; a row from any other writer, or without a
// timestamp, is stamped by it as Kinto expects.
func TestStampTriggerRunsForOthersOnly(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Start(t).NewDatabase(t)
	sql := connect(t, url)
	if _, err := sql.Exec(ctx, `SET track_functions = 'pl'`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		stamped bool
		ts      string // the row's last_modified as written
		calls   int
	}{
		{"Nimbus's row, stamped", true, "from_epoch(1000)", 0},
		{"Nimbus's transaction, a row without timestamp", true, "NULL", 1},
		{"another writer's row with a timestamp", false, "from_epoch(1000)", 1},
		{"another writer's row without timestamp (Kinto)", false, "NULL", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			tx, err := sql.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx) //nolint:errcheck // nothing is kept
			if c.stamped {
				if _, err := tx.Exec(ctx, `SELECT set_config('nimbus.stamped', 'on', true)`); err != nil {
					t.Fatal(err)
				}
			}
			count := func() int {
				var n int
				if err := tx.QueryRow(ctx, `SELECT coalesce(sum(calls), 0) FROM pg_stat_xact_user_functions
				  WHERE funcname = 'bump_timestamp'`).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			before := count()
			var stamp int64
			err = tx.QueryRow(ctx, `INSERT INTO objects (id, parent_id, resource_name, data, last_modified, deleted)
			  VALUES ('b', '', 'bucket', '{}', `+c.ts+`, FALSE) RETURNING as_epoch(last_modified)`).Scan(&stamp)
			if err != nil {
				t.Fatal(err)
			}
			if calls := count() - before; calls != c.calls {
				t.Errorf("bump_timestamp ran %d times, want %d", calls, c.calls)
			}
			if c.ts == "NULL" && stamp <= 1000 {
				t.Errorf("a row without timestamp was stamped %d", stamp)
			}
			if c.stamped && c.ts != "NULL" && stamp != 1000 {
				t.Errorf("Nimbus's stamp became %d", stamp)
			}
		})
	}
}
