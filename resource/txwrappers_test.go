package resource

import (
	"context"
	"testing"

	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/memory"
)

// existingCounter is a transaction that checks many ids at once
// (storage.ExistenceChecker), counting how often it was asked.
type existingCounter struct {
	storage.Tx
	calls int
}

func (e *existingCounter) ExistingIDs(ref storage.Ref, ids []string) (map[string]bool, error) {
	e.calls++
	return map[string]bool{}, nil
}

// TestWrappersKeepExistenceChecks: the engine's transaction wrappers
// (reads remembered, writes noted, batches of reads) hand
// storage.ExistingIDs to the backend's ability, instead of hiding it and
// leaving one Exists an id (one round trip each on PostgreSQL: 35 s for
// half a million ids, where the ability takes about three).
func TestWrappersKeepExistenceChecks(t *testing.T) {
	wrappers := map[string]func(storage.Tx) storage.Tx{
		"remembered reads": memo,
		"noted writes": func(tx storage.Tx) storage.Tx {
			var changes []storage.Change
			return touching(tx, &changes)
		},
		"batch of reads": func(tx storage.Tx) storage.Tx {
			wrote := false
			return readBatchTx{Tx: tx, wrote: &wrote}
		},
		"noted writes, remembered reads": func(tx storage.Tx) storage.Tx {
			var changes []storage.Change
			return memo(touching(tx, &changes))
		},
	}
	for name, wrap := range wrappers {
		t.Run(name, func(t *testing.T) {
			err := memory.New().View(context.Background(), func(tx storage.Tx) error {
				inner := &existingCounter{Tx: tx}
				if _, err := storage.ExistingIDs(wrap(inner), storage.Ref{Resource: "record", Parent: "/buckets/b/collections/c"}, []string{"a", "b"}); err != nil {
					return err
				}
				if inner.calls != 1 {
					t.Errorf("the backend's check was asked %d times, want 1", inner.calls)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
