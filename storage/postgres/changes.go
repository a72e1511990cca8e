package postgres

import (
	"strconv"
	"strings"
	"sync"

	"github.com/nimbus-server/nimbus/storage"
)

var _ storage.ChangeWatcher = (*Backend)(nil)

// watchers are the functions that hear of object changes from the
// notification channel the read cache listens on (ChangeWatcher).
type watchers struct {
	layouts *layouts
	mu      sync.RWMutex
	next    int
	fns     map[int]func(storage.Change)
}

// WatchChanges implements storage.ChangeWatcher: the notifications are
// those the cache listens to, so they need the cache and its triggers.
func (b *Backend) WatchChanges(fn func(storage.Change)) (cancel func(), ok bool) {
	if b.cache == nil {
		return func() {}, false
	}
	w := b.cache.watch
	w.mu.Lock()
	id := w.next
	w.next++
	w.fns[id] = fn
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		delete(w.fns, id)
		w.mu.Unlock()
	}, true
}

// report tells the watchers of one notification payload: an object
// change, or "*" (anything may have changed).
func (c *cache) report(payload string) {
	w := c.watch
	if w == nil {
		return
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if len(w.fns) == 0 {
		return
	}
	ch, ok := w.parse(payload)
	if !ok {
		return
	}
	for _, fn := range w.fns {
		fn(ch)
	}
}

// parse reads an object notification: resource, parent_id and id, then
// (from triggers that know it) the action and the timestamp. Rows of a
// resource stored under their own id are reported on their list.
func (w *watchers) parse(payload string) (storage.Change, bool) {
	if payload == "" || payload == "*" {
		return storage.Change{All: true}, true
	}
	if payload[0] != 'o' {
		return storage.Change{}, false
	}
	parts := strings.SplitN(payload[1:], "\x1f", 5)
	if len(parts) < 3 {
		return storage.Change{All: true}, true
	}
	ch := storage.Change{Ref: storage.Ref{Resource: parts[0], Parent: parts[1]}, ID: parts[2]}
	if ch.Ref.Parent == ch.ID && w.layouts.get(ch.Ref.Resource) == storage.UnderOwnID {
		ch.Ref.Parent = ""
	}
	if len(parts) == 5 {
		ch.Action = parts[3]
		ch.Timestamp, _ = strconv.ParseInt(parts[4], 10, 64)
	}
	return ch, true
}
