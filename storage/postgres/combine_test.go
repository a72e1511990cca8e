package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/postgres"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

// writeOutcome is what one call of the write-combining test did.
type writeOutcome struct {
	ref     storage.Ref
	id      string
	ts      int64
	ok      bool
	started time.Time
	acked   time.Time
}

// TestWriteGroups drives the write combining (combine.go) as two
// instances under load would: 24 writers on two backends sharing one
// database (one of them running three groups at once) write into three lists (two of them written together, like a
// record and its history entry), and about one call in five fails on its
// own: it returns an error after writing, writes an object PostgreSQL
// refuses (a NUL character), or panics. Afterwards, on every list:
//   - each acknowledged write is stored, and nothing of a failed one;
//   - timestamps are unique and follow real time: a write acknowledged
//     before another began has the smaller timestamp (what _since readers
//     and change streams rely on);
//   - the list timestamp is the newest object's.
//
// It also checks that calls did share transactions (fewer commits than
// calls), which is the point of combining.
func TestWriteGroups(t *testing.T) {
	pg := pgtest.Start(t)
	url := pg.NewDatabase(t)
	// One instance with the default (one group at a time), one running
	// three groups at once.
	a := open(t, url)
	b, err := postgres.Open(context.Background(), url, postgres.Options{MaxConns: 8, WriteGroups: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	pgtest.WaitCache(t, b)
	lists := []storage.Ref{
		{Resource: "record", Parent: "/buckets/b/collections/c1"},
		{Resource: "record", Parent: "/buckets/b/collections/c2"},
		{Resource: "history", Parent: "/buckets/b"},
	}
	const writers, perWriter = 24, 40
	errOwn := errors.New("the call's own failure")
	var mu sync.Mutex
	var outcomes []writeOutcome
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(w)))
			backend := []storage.Backend{a, b}[w%2]
			for i := 0; i < perWriter; i++ {
				ref := lists[rng.Intn(2)]
				id := fmt.Sprintf("w%02d-%03d", w, i)
				fail := rng.Intn(20)
				var created, entry storage.Object
				started := time.Now()
				err := func() (err error) {
					defer func() {
						if p := recover(); p != nil {
							err = fmt.Errorf("panicked: %v", p)
						}
					}()
					return backend.Update(context.Background(), func(tx storage.Tx) error {
						data := storage.Object{"id": id, "n": i}
						if fail == 1 {
							data["bad"] = "nul \u0000 character"
						}
						var err error
						if created, err = tx.Create(ref, data); err != nil {
							return err
						}
						if entry, err = tx.Create(lists[2], storage.Object{"id": "h-" + id}); err != nil {
							return err
						}
						switch fail {
						case 2, 3:
							return errOwn
						case 4:
							panic("the call's own panic")
						}
						return nil
					})
				}()
				acked := time.Now()
				mu.Lock()
				outcomes = append(outcomes,
					writeOutcome{ref: ref, id: id, ts: storage.LastModified(created), ok: err == nil, started: started, acked: acked},
					writeOutcome{ref: lists[2], id: "h-" + id, ts: storage.LastModified(entry), ok: err == nil, started: started, acked: acked})
				mu.Unlock()
				switch {
				case fail >= 1 && fail <= 4 && err == nil:
					t.Errorf("%s: a failing call (%d) was acknowledged", id, fail)
				case (fail == 0 || fail > 4) && err != nil:
					t.Errorf("%s: %v", id, err)
				}
			}
		}(w)
	}
	wg.Wait()
	// The backends count their write transactions and the calls they
	// committed (the database's own count of commits holds reads too).
	txA, writesA := writeStats(a)
	txB, writesB := writeStats(b)
	t.Logf("%.0f writes committed in %.0f write transactions", writesA+writesB, txA+txB)
	if txA+txB >= writesA+writesB {
		t.Errorf("%.0f write transactions for %.0f committed calls: no call shared a transaction", txA+txB, writesA+writesB)
	}
	for _, ref := range lists {
		stored := view(t, a, func(tx storage.Tx) ([]storage.Object, error) { return tx.List(ref, storage.Query{}) })
		got := map[string]int64{}
		for _, o := range stored {
			got[storage.ID(o)] = storage.LastModified(o)
		}
		var acked []writeOutcome
		for _, o := range outcomes {
			if o.ref != ref {
				continue
			}
			ts, present := got[o.id]
			switch {
			case o.ok && !present:
				t.Errorf("%s %s: acknowledged but not stored", ref, o.id)
			case o.ok && ts != o.ts:
				t.Errorf("%s %s: stored at %d, answered %d", ref, o.id, ts, o.ts)
			case !o.ok && present:
				t.Errorf("%s %s: failed but stored", ref, o.id)
			case o.ok:
				acked = append(acked, o)
			}
		}
		if len(acked) != len(stored) {
			t.Errorf("%s: %d stored, %d acknowledged", ref, len(stored), len(acked))
		}
		sort.Slice(acked, func(i, j int) bool { return acked[i].ts < acked[j].ts })
		for i := 1; i < len(acked); i++ {
			if acked[i].ts == acked[i-1].ts {
				t.Errorf("%s: %s and %s share timestamp %d", ref, acked[i-1].id, acked[i].id, acked[i].ts)
			}
		}
		for _, x := range acked {
			for _, y := range acked {
				if x.acked.Before(y.started) && x.ts >= y.ts {
					t.Errorf("%s: %s was acknowledged before %s began, yet its timestamp %d is not smaller than %d", ref, x.id, y.id, x.ts, y.ts)
				}
			}
		}
		lts := view(t, b, func(tx storage.Tx) (int64, error) { return tx.Timestamp(ref) })
		if len(acked) > 0 && lts != acked[len(acked)-1].ts {
			t.Errorf("%s: list timestamp %d, newest object %d", ref, lts, acked[len(acked)-1].ts)
		}
	}
}

// TestWriteGroupRollsBackOneCall checks that a call which fails after
// other calls of its group wrote, and after round trips of its own,
// leaves their writes alone and its own nowhere, and that savepoints
// inside a call (batch sub-requests) still undo only their part. With
// calls that write many objects (a batch), the writes of finished calls
// go to the server while the next calls run (early.go), and the same
// holds.
func TestWriteGroupRollsBackOneCall(t *testing.T) {
	for _, tc := range []struct {
		name string
		fill int // objects each call creates first
	}{{"small calls", 0}, {"early sends", 60}} {
		t.Run(tc.name, func(t *testing.T) {
			b := pgtest.Start(t).Open(t)
			ref := storage.Ref{Resource: "record", Parent: "/buckets/b/collections/c"}
			results := queuedCalls(b, 6, func(i int, tx storage.Tx) error {
				sp := tx.(storage.Savepointer)
				for j := 0; j < tc.fill; j++ {
					if _, err := tx.Create(ref, storage.Object{"id": fmt.Sprintf("fill-%d-%d", i, j)}); err != nil {
						return err
					}
				}
				if _, err := tx.Create(ref, storage.Object{"id": fmt.Sprintf("keep-%d", i)}); err != nil {
					return err
				}
				mark := sp.Savepoint()
				if _, err := tx.Create(ref, storage.Object{"id": fmt.Sprintf("undone-%d", i)}); err != nil {
					return err
				}
				if _, err := tx.Get(ref, fmt.Sprintf("undone-%d", i)); err != nil { // a round trip
					return err
				}
				if err := sp.RollbackTo(mark); err != nil {
					return err
				}
				if i%2 == 1 {
					if err := tx.SetACL(ref.Parent+"/records/keep-"+fmt.Sprint(i), storage.ACL{"write": {"x"}}); err != nil {
						return err
					}
					if _, err := tx.Get(ref, fmt.Sprintf("keep-%d", i)); err != nil {
						return err
					}
					return errors.New("odd calls fail")
				}
				return nil
			})
			stored := view(t, b, func(tx storage.Tx) ([]storage.Object, error) { return tx.List(ref, storage.Query{}) })
			var ids []string
			fills := map[string]int{}
			for _, o := range stored {
				if id := storage.ID(o); strings.HasPrefix(id, "fill-") {
					fills[strings.Split(id, "-")[1]]++
				} else {
					ids = append(ids, id)
				}
			}
			sort.Strings(ids)
			if want := "[keep-0 keep-2 keep-4]"; fmt.Sprint(ids) != want {
				t.Errorf("stored %v, want %s", ids, want)
			}
			if tc.fill > 0 {
				if want := map[string]int{"0": tc.fill, "2": tc.fill, "4": tc.fill}; fmt.Sprint(fills) != fmt.Sprint(want) {
					t.Errorf("stored fill objects per call %v, want %v", fills, want)
				}
			}
			for i, err := range results {
				if (i%2 == 1) != (err != nil) {
					t.Errorf("call %d: %v", i, err)
				}
			}
			acls := view(t, b, func(tx storage.Tx) (map[string]storage.ACL, error) {
				return tx.GetACLs([]string{ref.Parent + "/records/keep-1", ref.Parent + "/records/keep-3"})
			})
			for uri, acl := range acls {
				if len(acl) > 0 {
					t.Errorf("%s: ACL %v of a failed call stored", uri, acl)
				}
			}
		})
	}
}

// TestQueuedCreationConflict checks that creations queued under a held
// lock (and merged into one statement before the commit) still report an
// id taken behind the lock's back, by a writer that ignores it (Kinto),
// as the UnicityError with the stored object, and write nothing.
func TestQueuedCreationConflict(t *testing.T) {
	url := pgtest.Start(t).NewDatabase(t)
	b := open(t, url)
	ref := storage.Ref{Resource: "record", Parent: "/buckets/b/collections/c"}
	takeBehindLock(t, url, ref, "taken")
	err := b.Update(context.Background(), func(tx storage.Tx) error {
		for _, id := range []string{"first", "second", "taken", "third"} {
			if _, err := tx.Create(ref, storage.Object{"id": id}); err != nil {
				return err
			}
		}
		return nil
	})
	var ue *storage.UnicityError
	if !errors.As(err, &ue) || storage.ID(ue.Existing) != "taken" || ue.Existing["by"] != "kinto" {
		t.Fatalf("got %v, want the UnicityError of the taken id", err)
	}
	stored := view(t, b, func(tx storage.Tx) ([]storage.Object, error) { return tx.List(ref, storage.Query{}) })
	if len(stored) != 1 {
		t.Errorf("the failed call wrote: %v", stored)
	}
}

// TestConflictInAGroup: a creation conflict found in a write group's
// merged statements (an id taken behind the list lock's back) belongs to
// one call of the group: that call alone gets the UnicityError and writes
// nothing, the others are acknowledged with all their writes, also those
// whose own round trips carried the conflicting statement.
func TestConflictInAGroup(t *testing.T) {
	// With 12 objects a call, the group's writes go in its last round
	// trip; with 60, each call's go early, while the next calls run
	// (early.go), and the conflict is found there.
	for _, each := range []int{12, 60} {
		t.Run(fmt.Sprint(each, " objects a call"), func(t *testing.T) {
			conflictInAGroup(t, each)
		})
	}
}

func conflictInAGroup(t *testing.T, each int) {
	url := pgtest.Start(t).NewDatabase(t)
	b := open(t, url)
	ref := storage.Ref{Resource: "record", Parent: "/buckets/b/collections/c"}
	takeBehindLock(t, url, ref, "taken")
	const calls = 6
	results := queuedCalls(b, calls, func(i int, tx storage.Tx) error {
		for j := 0; j < each; j++ {
			id := fmt.Sprintf("c%d-%d", i, j)
			if i == 2 && j == each/2 {
				id = "taken"
			}
			if _, err := tx.Create(ref, storage.Object{"id": id}); err != nil {
				return err
			}
			if err := tx.SetACL(ref.Parent+"/records/"+id, storage.ACL{"write": {"account:x"}}); err != nil {
				return err
			}
			if j == 0 {
				// A round trip of this call's own, which carries
				// what earlier calls queued.
				if _, err := tx.Get(ref, id); err != nil {
					return err
				}
			}
		}
		return nil
	})
	for i, err := range results {
		var ue *storage.UnicityError
		switch {
		case i == 2 && (!errors.As(err, &ue) || storage.ID(ue.Existing) != "taken"):
			t.Errorf("call 2: got %v, want the UnicityError of the taken id", err)
		case i != 2 && err != nil:
			t.Errorf("call %d: %v", i, err)
		}
	}
	stored := view(t, b, func(tx storage.Tx) ([]storage.Object, error) { return tx.List(ref, storage.Query{}) })
	if want := (calls-1)*each + 1; len(stored) != want {
		t.Errorf("stored %d objects, want %d", len(stored), want)
	}
	for _, o := range stored {
		if strings.HasPrefix(storage.ID(o), "c2-") {
			t.Errorf("the failed call wrote %s", storage.ID(o))
		}
	}
	acls := view(t, b, func(tx storage.Tx) (map[string]storage.ACL, error) {
		return tx.GetACLs([]string{ref.Parent + "/records/c1-0", ref.Parent + "/records/c2-0", ref.Parent + "/records/c5-11"})
	})
	if len(acls[ref.Parent+"/records/c1-0"]) == 0 || len(acls[ref.Parent+"/records/c5-11"]) == 0 || len(acls[ref.Parent+"/records/c2-0"]) != 0 {
		t.Errorf("ACLs stored: %v", acls)
	}
}

// queuedCalls runs n write calls at once, the others queued while the
// first one waits (so that they join its group), and returns their
// errors. A call may run more than once (its group rolled back).
func queuedCalls(b storage.Backend, n int, fn func(i int, tx storage.Tx) error) []error {
	hold := make(chan struct{})
	first := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	results := make([]error, n)
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if i > 0 {
				<-first
			}
			results[i] = b.Update(context.Background(), func(tx storage.Tx) error {
				if i == 0 {
					once.Do(func() { close(first) })
					<-hold
				}
				return fn(i, tx)
			})
		}(i)
	}
	<-first
	time.Sleep(100 * time.Millisecond)
	close(hold)
	wg.Wait()
	return results
}

// takeBehindLock stores a live object of ref as Kinto would, without the
// list lock Nimbus's writers take.
func takeBehindLock(t *testing.T, url string, ref storage.Ref, id string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `INSERT INTO objects (id, parent_id, resource_name, data, last_modified, deleted)
	  VALUES ($1, $2, $3, '{"by": "kinto"}', NULL, FALSE)`, id, ref.Parent, ref.Resource); err != nil {
		t.Fatal(err)
	}
}

// writeStats reads a backend's counts of committed write transactions
// and of the calls they held.
func writeStats(b *postgres.Backend) (transactions, writes float64) {
	for _, st := range b.Stats() {
		switch st.Name {
		case "write_transactions_total":
			transactions = st.Value
		case "writes_total":
			writes = st.Value
		}
	}
	return transactions, writes
}
