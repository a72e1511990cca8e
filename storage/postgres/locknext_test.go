package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

// TestListsLockedTogether checks the guessed list locks (locknext.go): a
// call that locked a record list and then its bucket's history list makes
// the next call on the record list take both at once; a call that then
// leaves the history list alone drops the guess; and a list locked on a
// guess is stamped after what another instance wrote to it meanwhile.
func TestListsLockedTogether(t *testing.T) {
	url := pgtest.Start(t).NewDatabase(t)
	b, other := open(t, url), open(t, url)
	ctx := context.Background()
	records := storage.Ref{Resource: "record", Parent: "/buckets/b/collections/c"}
	history := storage.Ref{Resource: "history", Parent: "/buckets/b"}
	probe, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close(ctx)
	// historyLocked tells whether some transaction holds the history
	// list's advisory lock (the key lockKey gives it).
	historyLocked := func() bool {
		t.Helper()
		var got bool
		if err := probe.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 7))`, history.Parent+" "+history.Resource).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got {
			if _, err := probe.Exec(ctx, `SELECT pg_advisory_unlock(hashtextextended($1, 7))`, history.Parent+" "+history.Resource); err != nil {
				t.Fatal(err)
			}
		}
		return !got
	}
	create := func(tx storage.Tx, ref storage.Ref, id string) storage.Object {
		t.Helper()
		o, err := tx.Create(ref, storage.Object{"id": id})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	update := func(backend storage.Backend, fn func(tx storage.Tx)) {
		t.Helper()
		if err := backend.Update(ctx, func(tx storage.Tx) error { fn(tx); return nil }); err != nil {
			t.Fatal(err)
		}
	}

	steps := []struct {
		name       string
		id         string
		withEntry  bool
		wantLocked bool
	}{
		{"nothing learnt yet", "r1", true, false},
		{"learnt: history locked with the records", "r2", false, true},
		{"guess dropped by the call before", "r3", false, false},
		{"learnt again", "r4", true, false},
		{"locked together again", "r5", true, true},
	}
	for _, s := range steps {
		update(b, func(tx storage.Tx) {
			create(tx, records, s.id)
			if got := historyLocked(); got != s.wantLocked {
				t.Errorf("%s: history list locked after the record's write: %v, want %v", s.name, got, s.wantLocked)
			}
			if s.withEntry {
				create(tx, history, "h-"+s.id)
			}
		})
	}

	// Another instance writes the history list; the guessed lock's
	// timestamp must come after it.
	var theirs, ours storage.Object
	update(other, func(tx storage.Tx) { theirs = create(tx, history, "h-other") })
	update(b, func(tx storage.Tx) {
		create(tx, records, "r6")
		if !historyLocked() {
			t.Error("the history list was not locked with the records")
		}
		ours = create(tx, history, "h-r6")
	})
	if storage.LastModified(ours) <= storage.LastModified(theirs) {
		t.Errorf("entry stamped %d, not after the other instance's %d", storage.LastModified(ours), storage.LastModified(theirs))
	}
	ts := view(t, b, func(tx storage.Tx) (int64, error) { return tx.Timestamp(history) })
	if ts != storage.LastModified(ours) {
		t.Errorf("history list timestamp %d, want the last entry's %d", ts, storage.LastModified(ours))
	}
}
