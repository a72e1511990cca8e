package changes_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

// pausingBackend holds, once armed, the next read of a list's changes (a
// List of what changed after a timestamp, as a hub reads) until it is
// released: the moment a stream may join the hub between its taking of
// the streams and its read of the page.
type pausingBackend struct {
	storage.Backend
	mu      sync.Mutex
	armed   bool
	paused  chan struct{}
	release chan struct{}
}

func (b *pausingBackend) arm() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.armed, b.paused, b.release = true, make(chan struct{}), make(chan struct{})
}

// take tells whether q is the read to hold, disarming.
func (b *pausingBackend) take(q storage.Query) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.armed || len(q.Filters) != 1 || q.Filters[0].Field != "last_modified" || q.Filters[0].Op != storage.OpGt {
		return false
	}
	b.armed = false
	return true
}

func (b *pausingBackend) View(ctx context.Context, fn func(storage.Tx) error) error {
	return b.Backend.View(ctx, func(tx storage.Tx) error { return fn(pausingTx{Tx: tx, b: b}) })
}

type pausingTx struct {
	storage.Tx
	b *pausingBackend
}

func (t pausingTx) List(ref storage.Ref, q storage.Query) ([]storage.Object, error) {
	if t.b.take(q) {
		close(t.b.paused)
		<-t.b.release
	}
	return t.Tx.List(ref, q)
}

// TestStreamJoiningDuringAHubRead: a stream that joins a list's hub while
// the hub reads a page (after the stream's snapshot, a change commits
// that the page holds) gets that change. The backend is wrapped, so the
// hub is woken by this instance's commits, not by notifications.
func TestStreamJoiningDuringAHubRead(t *testing.T) {
	// PostgreSQL: its reads see what committed before each statement
	// (on bolt the page would be the read's older snapshot, without the
	// change), and a held read keeps no writer out.
	b := &pausingBackend{Backend: openPG(t, pgtest.Start(t).NewDatabase(t))}
	s := apitest.NewWithBackend(t, b, settings(nil))
	seed(t, s)
	early := follow(t, s, records, alice, nil)
	early.next(t) // ready
	b.arm()
	put(t, s, "x", `{"data":{}}`) // wakes the hub, whose read is held
	select {
	case <-b.paused:
	case <-time.After(10 * time.Second):
		t.Fatal("the hub did not read")
	}
	late := follow(t, s, records, alice, nil)
	if ev := late.next(t); ev.Name != "ready" {
		t.Fatalf("late stream: %v", ev)
	}
	put(t, s, "y", `{"data":{}}`)
	close(b.release)
	for name, c := range map[string]*client{"early": early, "late": late} {
		want := []string{"x", "y"}
		if name == "late" {
			want = want[1:] // x is before its snapshot
		}
		for _, id := range want {
			if ev := c.next(t); ev.Name != "create" || ev.obj()["id"] != id {
				t.Fatalf("%s stream: %v, want the creation of %s", name, ev, id)
			}
		}
	}
}
