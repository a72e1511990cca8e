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
	// list's advisory lock (the key lockKey gives it). It and the write
	// functions return their errors: they run in whichever goroutine
	// leads the write group.
	historyLocked := func() (bool, error) {
		key := history.Parent + " " + history.Resource
		var got bool
		if err := probe.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 7))`, key).Scan(&got); err != nil || !got {
			return !got, err
		}
		_, err := probe.Exec(ctx, `SELECT pg_advisory_unlock(hashtextextended($1, 7))`, key)
		return false, err
	}
	obj := func(id string) storage.Object { return storage.Object{"id": id} }
	update := func(backend storage.Backend, fn func(tx storage.Tx) error) {
		t.Helper()
		if err := backend.Update(ctx, fn); err != nil {
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
		var locked bool
		update(b, func(tx storage.Tx) (err error) {
			if _, err = tx.Create(records, obj(s.id)); err != nil {
				return err
			}
			if locked, err = historyLocked(); err != nil {
				return err
			}
			if s.withEntry {
				_, err = tx.Create(history, obj("h-"+s.id))
			}
			return err
		})
		if locked != s.wantLocked {
			t.Errorf("%s: history list locked after the record's write: %v, want %v", s.name, locked, s.wantLocked)
		}
	}

	// Another instance writes the history list; the guessed lock's
	// timestamp must come after it.
	var theirs, ours storage.Object
	update(other, func(tx storage.Tx) (err error) {
		theirs, err = tx.Create(history, obj("h-other"))
		return err
	})
	var locked bool
	update(b, func(tx storage.Tx) (err error) {
		if _, err = tx.Create(records, obj("r6")); err != nil {
			return err
		}
		if locked, err = historyLocked(); err != nil {
			return err
		}
		ours, err = tx.Create(history, obj("h-r6"))
		return err
	})
	if !locked {
		t.Error("the history list was not locked with the records")
	}
	if storage.LastModified(ours) <= storage.LastModified(theirs) {
		t.Errorf("entry stamped %d, not after the other instance's %d", storage.LastModified(ours), storage.LastModified(theirs))
	}
	ts := view(t, b, func(tx storage.Tx) (int64, error) { return tx.Timestamp(history) })
	if ts != storage.LastModified(ours) {
		t.Errorf("history list timestamp %d, want the last entry's %d", ts, storage.LastModified(ours))
	}
}
