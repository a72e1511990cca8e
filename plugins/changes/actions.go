package changes

import (
	"sync"
	"time"

	"github.com/nimbus-server/nimbus/storage"
)

// actions remembers, for a few minutes, what recent changes were (create,
// update or delete), from this instance's commits and the backend's
// notifications. Storage keeps no such thing: a change read from storage
// that is not remembered (one from before the stream, or from a writer
// that does not say) is a "delete" for a tombstone and an "update"
// otherwise.
type actions struct {
	mu   sync.Mutex
	cur  map[actionKey]string
	prev map[actionKey]string
	swap time.Time
}

type actionKey struct {
	list, id string
	ts       int64
}

// keep is how long an action is remembered at least.
const keep = 2 * time.Minute

func newActions() *actions {
	return &actions{cur: map[actionKey]string{}, prev: map[actionKey]string{}, swap: time.Now()}
}

func listKey(ref storage.Ref) string { return ref.Resource + "\x1f" + ref.Parent }

// note remembers one change.
func (a *actions) note(ref storage.Ref, id string, ts int64, action string) {
	if action == "" || ts == 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if time.Since(a.swap) > keep {
		a.prev, a.cur, a.swap = a.cur, map[actionKey]string{}, time.Now()
	}
	a.cur[actionKey{listKey(ref), id, ts}] = action
}

// of returns what a change read from storage was.
func (a *actions) of(ref storage.Ref, obj storage.Object) string {
	k := actionKey{listKey(ref), storage.ID(obj), storage.LastModified(obj)}
	a.mu.Lock()
	act, ok := a.cur[k]
	if !ok {
		act, ok = a.prev[k]
	}
	a.mu.Unlock()
	switch {
	case storage.IsDeleted(obj):
		return "delete"
	case ok:
		return act
	}
	return "update"
}
