package permissionsendpoint_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/memory"
)

// pausingBackend is a memory backend whose write transactions can be
// held open (holding the backend's lock, as a batch's does) until the
// test lets them go on; it counts the read transactions asked for.
type pausingBackend struct {
	storage.Backend
	mu      sync.Mutex
	pause   chan struct{} // while set, an Update waits on it with its lock held
	holding chan struct{} // closed once an Update holds the lock
	views   chan struct{} // one send per View asked for
}

func (b *pausingBackend) Update(ctx context.Context, fn func(storage.Tx) error) error {
	return b.Backend.Update(ctx, func(tx storage.Tx) error {
		b.mu.Lock()
		pause, holding := b.pause, b.holding
		b.pause = nil
		b.mu.Unlock()
		if pause != nil {
			close(holding)
			<-pause
		}
		return fn(tx)
	})
}

func (b *pausingBackend) View(ctx context.Context, fn func(storage.Tx) error) error {
	select {
	case b.views <- struct{}{}:
	default:
	}
	return b.Backend.View(ctx, fn)
}

// TestPermissionsInABatchNeverWaitForASlot: a batch's sub-requests run in
// the batch's transaction, which on memory holds the backend's lock. A
// /permissions sub-request that waited there for a slot, while the
// requests holding every slot waited for that lock to read, would hang
// them all.
func TestPermissionsInABatchNeverWaitForASlot(t *testing.T) {
	b := &pausingBackend{Backend: memory.New(), views: make(chan struct{}, 100)}
	s := apitest.NewWithBackend(t, b, map[string]string{"experimental_permissions_endpoint": "true"})
	s.Do(R{Method: "PUT", Path: "/v1/buckets/blog", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
	pause, holding := make(chan struct{}), make(chan struct{})
	b.mu.Lock()
	b.pause, b.holding = pause, holding
	b.mu.Unlock()
	done := make(chan string, 16)
	go func() {
		r := s.Do(R{Method: "POST", Path: "/v1/batch", Auth: alice, Body: `{"requests":[
			{"method":"PUT","path":"/buckets/blog/collections/c","body":{}},
			{"method":"GET","path":"/permissions"}]}`})
		done <- "batch " + string(r.Raw)
	}()
	<-holding
	// Readers that take every slot, then wait for the batch's lock.
	for len(b.views) > 0 {
		<-b.views
	}
	const readers = 8
	for i := 0; i < readers; i++ {
		go func() {
			r := s.Do(R{Method: "GET", Path: "/v1/permissions", Auth: alice})
			done <- "reader " + string(r.Raw)
		}()
	}
	for i := 0; i < 2; i++ {
		select {
		case <-b.views:
		case <-time.After(10 * time.Second):
			t.Fatal("the readers never asked to read")
		}
	}
	close(pause)
	for i := 0; i < readers+1; i++ {
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("%d of %d requests still waiting: the batch waits for a slot that readers waiting for its lock hold", readers+1-i, readers+1)
		}
	}
}
