package resource

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Reads wait for their user's write of the same path under way.
//
// A client may send a write and, without waiting for its answer, a read
// of the same object: Kinto Admin 6.3 creates a group this way (it sends
// PUT /buckets/b/groups/g and at once GET /buckets/b/groups/g). The two
// requests race on two connections, and the read that overtakes the
// write answers 404, which the Admin shows as "Unable to load group"
// with an empty form. A read that arrives while the same user's write of
// its exact path is being served on this instance therefore waits for
// that write to end (at most inflightWait), so that it answers what the
// client wrote first.
//
// Only an authenticated user's own writes count: another caller can
// neither slow a user's reads nor learn from their timing that an
// object it may not read is being written. Writes count once their body
// has arrived and their caller is authenticated, so a slow upload holds
// nobody, and a read waits inflightWait at most, whatever writes keep
// coming. Nothing waits inside a batch: a batch's own reads see its
// writes, and a batch holding the writer must not wait for a request
// that waits for it.

// inflightWait bounds how long a read waits for a write of its path.
const inflightWait = time.Second

// inflightWrites is the set of paths being written on this instance,
// keyed by user and path.
type inflightWrites struct {
	count atomic.Int64 // writes under way; reads skip the map when 0
	mu    sync.Mutex
	paths map[string]*inflightPath
}

// inflightPath is one path's writes under way; done closes when the last
// of them ends.
type inflightPath struct {
	writers int
	done    chan struct{}
}

// begin records a write of key and returns the function that ends it.
func (w *inflightWrites) begin(key string) func() {
	w.count.Add(1)
	w.mu.Lock()
	if w.paths == nil {
		w.paths = map[string]*inflightPath{}
	}
	p := w.paths[key]
	if p == nil {
		p = &inflightPath{done: make(chan struct{})}
		w.paths[key] = p
	}
	p.writers++
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		if p.writers--; p.writers == 0 {
			close(p.done)
			delete(w.paths, key)
		}
		w.mu.Unlock()
		w.count.Add(-1)
	}
}

// wait returns once no write of key that was under way when it was
// called is still running, after inflightWait at most, or when ctx ends.
func (w *inflightWrites) wait(ctx context.Context, key string) {
	if w.count.Load() == 0 {
		return
	}
	w.mu.Lock()
	p := w.paths[key]
	w.mu.Unlock()
	if p == nil {
		return
	}
	t := time.NewTimer(inflightWait)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
	case <-ctx.Done():
	}
}

// Flush waits for the requests that arrived before it.
//
// A client may send a write and, without waiting for its answer, flush
// the server from another connection: kinto-http.js's own test suite
// does (a test's unawaited DELETE, then the next test's POST
// /__flush__). A write that arrived first but authenticates against the
// database (accounts on PostgreSQL) would then run after the flush, on
// the next test's data. Flush therefore waits, flushWait at most, until
// the requests that were being served when it arrived have ended.
// Requests are counted in two epochs: a request counts in the epoch
// current when it starts; a flush opens the next epoch and waits for the
// previous one to empty. Change streams, which never end, are not
// counted once they are streams. Two requests sent at once on two
// connections reach the handlers in either order, so the flush first
// lets flushGrace pass: a request that left the client just before it
// is counted by then.

// flushWait bounds how long a flush waits for earlier requests.
const flushWait = 2 * time.Second

// flushGrace is how long a flush lets requests sent with it start.
const flushGrace = 10 * time.Millisecond

// requestEpochs counts the requests being served, by epoch.
type requestEpochs struct {
	epoch  atomic.Uint64
	counts [2]atomic.Int64
	flush  sync.Mutex // one flush waits at a time
}

// start counts a request in the current epoch and returns the function
// that ends it (idempotent: a request that turns into a stream ends its
// count early).
func (e *requestEpochs) start() func() {
	slot := &e.counts[e.epoch.Load()&1]
	slot.Add(1)
	var once sync.Once
	return func() { once.Do(func() { slot.Add(-1) }) }
}

// waitEarlier opens a new epoch (after flushGrace, when grace) and waits
// until the requests of the previous one, but for self (the flush
// request, counted there), have ended, flushWait at most.
func (e *requestEpochs) waitEarlier(ctx context.Context, self int64, grace bool) {
	e.flush.Lock()
	defer e.flush.Unlock()
	if grace {
		time.Sleep(flushGrace)
	}
	slot := &e.counts[(e.epoch.Add(1)-1)&1]
	deadline := time.Now().Add(flushWait)
	for slot.Load() > self && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
}
