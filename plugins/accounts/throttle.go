package accounts

import (
	"context"
	"sync"
	"time"

	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// throttle counts failed password checks per (username, client IP) in
// storage, so counters survive restarts and are shared by every instance
// on one database (ACC-X-THR).
type throttle struct {
	max    int
	window time.Duration
	// local, on a backend no other instance writes, holds the pairs whose
	// counter may be stored: every other pair is known clean without a
	// read (the common case: a correct password, on every request).
	local *pairSet
	// queued counts each pair's failures not written yet: a batch's
	// sub-requests count theirs once the batch is over, and its next
	// sub-requests must see them meanwhile.
	queued *queuedFailures
}

// queuedFailures counts failures by throttle record id.
type queuedFailures struct {
	mu sync.Mutex
	n  map[string]int
}

func (q *queuedFailures) add(id string, d int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == nil {
		q.n = map[string]int{}
	}
	if q.n[id] += d; q.n[id] <= 0 {
		delete(q.n, id)
	}
}

func (q *queuedFailures) get(id string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n[id]
}

// pairSet is a set of throttle record ids.
type pairSet struct {
	mu  sync.Mutex
	ids map[string]bool
}

func (s *pairSet) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ids[id]
}

func (s *pairSet) set(id string, in bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in {
		s.ids[id] = true
	} else {
		delete(s.ids, id)
	}
}

// loadPairs reads the ids of the stored counters (at start-up, on a
// backend this instance alone writes).
func loadPairs(ctx context.Context, b storage.Backend) (*pairSet, error) {
	s := &pairSet{ids: map[string]bool{}}
	err := b.View(ctx, func(tx storage.Tx) error {
		objs, err := tx.List(throttleRef, storage.Query{})
		for _, o := range objs {
			s.ids[storage.ID(o)] = true
		}
		return err
	})
	return s, err
}

// clientIP is the address failures are counted for: the TCP peer, or
// behind a proxy listed in trusted_proxies, the client it reports.
func clientIP(r *resource.Request) string { return r.RealIP() }

func throttleID(user, ip string) string { return digest(user + "\x00" + ip) }

// retryAfter returns the seconds to wait when the pair is throttled, or 0.
// An error is the storage's: the counter could not be read, and the
// password must not be checked (a client that made the read fail, by
// half-closing its connection, would otherwise learn a throttled pair's
// verdict).
func (t throttle) retryAfter(r *resource.Request, user string) (int, error) {
	return t.retryAfterWith(r, user, nil)
}

// retryAfterWith is retryAfter, running also in the transaction that
// reads the pair's counter, when it reads one (authBasic reads the
// account there: one transaction per request instead of two).
func (t throttle) retryAfterWith(r *resource.Request, user string, also func(storage.Tx) error) (int, error) {
	if t.max <= 0 {
		return 0, nil
	}
	id := throttleID(user, clientIP(r))
	if t.local != nil && !t.local.has(id) {
		return 0, nil
	}
	var o storage.Object
	read := false
	err := r.View(func(tx storage.Tx) (err error) {
		if o, err = getOrNil(tx, throttleRef, id); err != nil {
			return err
		}
		read = true
		if also == nil {
			return nil
		}
		return also(tx)
	})
	if !read {
		// What also read is read again later, and its failure told then.
		return 0, err
	}
	count, _ := storage.Int(o["count"])
	start, _ := storage.Int(o["start"])
	if o == nil || start+t.window.Milliseconds() <= now() {
		count, start = 0, now()
	}
	count += int64(t.queued.get(id))
	end := start + t.window.Milliseconds()
	if int(count) < t.max || end <= now() {
		return 0, nil
	}
	secs := int((end - now() + 999) / 1000)
	if secs < 1 {
		secs = 1
	}
	return secs, nil
}

// failureWriteTimeout bounds the write that counts a failure.
const failureWriteTimeout = 10 * time.Second

// fail records a failed attempt.
func (t throttle) fail(r *resource.Request, user string) {
	if t.max <= 0 {
		return
	}
	id := throttleID(user, clientIP(r))
	// Counted even when the client went away (or half-closed its
	// connection, which cancels the request but still lets it read the
	// verdict).
	t.queued.add(id, 1)
	// Its outcome goes to the last function.
	_ = r.UpdateDetached(failureWriteTimeout, func(tx storage.Tx) error {
		o, err := getOrNil(tx, throttleRef, id)
		if err != nil {
			return err
		}
		count, _ := storage.Int(o["count"])
		start, _ := storage.Int(o["start"])
		if o == nil || start+t.window.Milliseconds() <= now() {
			count, start = 0, now()
		}
		_, err = tx.Replace(throttleRef, storage.Object{"id": id, "count": count + 1, "start": start})
		return err
	}, func(err error) {
		t.queued.add(id, -1)
		if err != nil {
			r.Logger().Warn("login failure could not be counted", "error", err)
		}
	})
	if t.local != nil {
		t.local.set(id, true)
	}
}

// succeed clears the counter of the pair, if any.
func (t throttle) succeed(r *resource.Request, user string) {
	if t.max <= 0 {
		return
	}
	id := throttleID(user, clientIP(r))
	if t.local != nil && !t.local.has(id) {
		return
	}
	var exists bool
	if err := r.View(func(tx storage.Tx) (err error) { exists, err = tx.Exists(throttleRef, id); return }); err != nil {
		return // the pair stays known: its counter is read next time
	}
	if exists {
		err := r.Update(func(tx storage.Tx) error {
			if _, err := tx.Delete(throttleRef, id, 0); err != nil && err != storage.ErrNotFound {
				return err
			}
			_, err := tx.PurgeDeleted(throttleRef, 0, 0)
			return err
		})
		if err != nil {
			return
		}
	}
	if t.local != nil {
		t.local.set(id, false) // only once the counter is gone
	}
}

// tooMany is the 429 of a throttled pair.
func tooMany(secs int) *resource.Error {
	return &resource.Error{Status: 429, Errno: resource.ErrnoTooManyRequests,
		Message: "Too many failed login attempts; retry later.", Headers: map[string]string{"Retry-After": itoa(secs)}}
}

func itoa(n int) string {
	b, _ := resource.EncodeJSON(n)
	return string(b)
}
