package postgres_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/postgres"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

// TestKintoWritesTakeTheListLock checks the stamping trigger
// (bumpTimestampSQL) as Kinto meets it: a row Kinto writes into a list
// whose lock a Nimbus transaction holds waits for that transaction's
// commit and is stamped after it, so both servers' writes commit in
// timestamp order; so does the timestamps row Kinto creates for an
// empty list (lockTimestampsSQL); and a second list of the same Kinto
// transaction,
// locked by Nimbus, is not waited for beyond a short try (a wait there
// could close a deadlock), the row being written as Kinto alone would.
func TestKintoWritesTakeTheListLock(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Start(t).NewDatabase(t)
	b := open(t, url)
	history := storage.Ref{Resource: "history", Parent: "/buckets/b"}
	kinto, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer kinto.Close(ctx)
	probe, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close(ctx)

	// holdLock runs a Nimbus write of ref that keeps its transaction (and
	// the list's lock) open until release is called (at the latest when
	// the test ends, failed or not). It returns once the lock is held,
	// with the object written; done gets the transaction's outcome.
	holdLock := func(t *testing.T, ref storage.Ref, id string) (ours storage.Object, release func(), done chan error) {
		written, done := make(chan storage.Object, 1), make(chan error, 1)
		ch := make(chan struct{})
		var once sync.Once
		release = func() { once.Do(func() { close(ch) }) }
		t.Cleanup(release)
		go func() {
			done <- b.Update(ctx, func(tx storage.Tx) error {
				o, err := tx.Create(ref, storage.Object{"id": id})
				if err != nil {
					return err
				}
				// The lock is taken with the list's timestamp, before the
				// row is stamped.
				written <- o
				<-ch
				return nil
			})
		}()
		select {
		case ours = <-written:
		case err := <-done:
			t.Fatalf("Nimbus's write: %v", err)
		}
		return ours, release, done
	}
	kintoInsert := func(tx pgx.Tx, ref storage.Ref, id string) (int64, error) {
		var lm int64
		err := tx.QueryRow(ctx, `INSERT INTO objects (id, parent_id, resource_name, data, last_modified, deleted)
		  VALUES ($1, $2, $3, '{}', NULL, FALSE) RETURNING as_epoch(last_modified)`, id, ref.Parent, ref.Resource).Scan(&lm)
		return lm, err
	}
	waiting := func() bool {
		t.Helper()
		var n int
		if err := probe.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n > 0
	}
	// kintoWaits runs work in a Kinto transaction while a Nimbus write of
	// ref holds the list's lock: work must wait for that lock, and
	// complete once the Nimbus transaction has committed. It returns the
	// object Nimbus wrote.
	kintoWaits := func(t *testing.T, ref storage.Ref, what string, work func(pgx.Tx) error) storage.Object {
		t.Helper()
		ours, release, done := holdLock(t, ref, "nimbus-"+what)
		kintoDone := make(chan error, 1)
		go func() {
			tx, err := kinto.Begin(ctx)
			if err == nil {
				if err = work(tx); err == nil {
					err = tx.Commit(ctx)
				}
			}
			kintoDone <- err
		}()
		deadline := time.Now().Add(10 * time.Second)
		for !waiting() {
			if time.Now().After(deadline) {
				t.Fatalf("Kinto's %s never waited for the list's lock", what)
			}
			select {
			case err := <-kintoDone:
				t.Fatalf("Kinto's %s ran while Nimbus held the list's lock (err %v)", what, err)
			case <-time.After(10 * time.Millisecond):
			}
		}
		release()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if err := <-kintoDone; err != nil {
			t.Fatal(err)
		}
		return ours
	}

	t.Run("first list waits and is stamped after", func(t *testing.T) {
		var lm int64
		ours := kintoWaits(t, recs, "insert", func(tx pgx.Tx) (err error) {
			lm, err = kintoInsert(tx, recs, "kinto")
			return err
		})
		if lm <= storage.LastModified(ours) {
			t.Errorf("Kinto's row stamped %d, not after Nimbus's %d committed before it", lm, storage.LastModified(ours))
		}
	})

	t.Run("an empty list's timestamps row waits too", func(t *testing.T) {
		// Kinto creates the row of a list that has none when it reads the
		// list's timestamp, and may then write the list's first record.
		empty := storage.Ref{Resource: "record", Parent: "/buckets/b/collections/new"}
		kintoWaits(t, empty, "timestamps row", func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO timestamps (parent_id, resource_name, last_modified)
			  VALUES ($1, $2, clock_timestamp()::TIMESTAMP) ON CONFLICT (parent_id, resource_name) DO NOTHING`, empty.Parent, empty.Resource); err != nil {
				return err
			}
			_, err := kintoInsert(tx, empty, "kinto-first")
			return err
		})
	})

	t.Run("later list is only tried", func(t *testing.T) {
		_, release, done := holdLock(t, history, "h-nimbus")
		defer func() {
			release()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}()
		tx, err := kinto.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx) //nolint:errcheck // committed below
		if _, err := kintoInsert(tx, recs, "kinto-2"); err != nil {
			t.Fatal(err)
		}
		// The history list is Nimbus's until release: the insert must
		// give up waiting well before the deadline.
		ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, err = tx.Exec(ictx, `INSERT INTO objects (id, parent_id, resource_name, data, last_modified, deleted)
		  VALUES ('h-kinto', $1, 'history', '{}', NULL, FALSE)`, history.Parent)
		if errors.Is(err, context.DeadlineExceeded) || ictx.Err() != nil {
			t.Fatal("Kinto's write of a second list waited for the lock another transaction holds")
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// TestOldStampingTriggerWarned: a database whose stamping trigger does not
// take the list lock (Kinto's own, or an older Nimbus's) is served, with a
// warning that names the fix; "nimbus migrate" installs the new one.
func TestOldStampingTriggerWarned(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Start(t).NewDatabase(t)
	sql, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer sql.Close(ctx)
	if _, err := sql.Exec(ctx, `CREATE OR REPLACE FUNCTION bump_timestamp() RETURNS trigger AS $$ BEGIN RETURN NEW; END; $$ LANGUAGE plpgsql`); err != nil {
		t.Fatal(err)
	}
	warned := func() bool {
		t.Helper()
		var logs strings.Builder
		b, err := postgres.Open(ctx, url, postgres.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), CacheEntries: -1})
		if err != nil {
			t.Fatal(err)
		}
		b.Close()
		return strings.Contains(logs.String(), "stamping trigger") && strings.Contains(logs.String(), "nimbus migrate")
	}
	if !warned() {
		t.Error("no warning about the old stamping trigger")
	}
	if _, err := postgres.Migrate(ctx, url); err != nil {
		t.Fatal(err)
	}
	if warned() {
		t.Error("warning about the stamping trigger after nimbus migrate")
	}
}
