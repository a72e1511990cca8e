package permissionsendpoint_test

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/memory"
)

// countingBackend is a memory backend whose Accessible, which only
// /permissions calls here, takes a while and records how many run at
// once.
type countingBackend struct {
	storage.Backend
	running, most atomic.Int64
}

func (b *countingBackend) View(ctx context.Context, fn func(storage.Tx) error) error {
	return b.Backend.View(ctx, func(tx storage.Tx) error { return fn(countingTx{tx, b}) })
}

type countingTx struct {
	storage.Tx
	b *countingBackend
}

func (t countingTx) Accessible(principals []string, prefix string) (map[string][]string, error) {
	n := t.b.running.Add(1)
	defer t.b.running.Add(-1)
	for m := t.b.most.Load(); n > m && !t.b.most.CompareAndSwap(m, n); m = t.b.most.Load() {
	}
	time.Sleep(30 * time.Millisecond)
	return t.Tx.Accessible(principals, prefix)
}

// TestPermissionsComputedAFewAtOnce: an answer of /permissions can cost
// a gigabyte for a user who owns many objects, so no more are computed
// at once than there are cores (two at least); the others wait, and are
// all answered.
func TestPermissionsComputedAFewAtOnce(t *testing.T) {
	b := &countingBackend{Backend: memory.New()}
	s := apitest.NewWithBackend(t, b, map[string]string{"experimental_permissions_endpoint": "true"})
	const clients = 12
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Do(R{Method: "GET", Path: "/v1/permissions", Auth: alice}).Expect(t, 200, 0)
		}()
	}
	wg.Wait()
	slots := int64(max(2, runtime.GOMAXPROCS(0)))
	if most := b.most.Load(); most > slots || most < 1 {
		t.Errorf("%d computed at once, at most %d expected", most, slots)
	}
}
