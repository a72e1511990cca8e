package resource

import (
	"context"
	"net/http"
	"time"

	"golang.org/x/sync/semaphore"
)

// A JSON body costs far more memory once decoded and served than its
// bytes: an 8 MB record of half a million small fields held about 300 MB
// live while it was stored (the decoded object, its copies for storage and
// history, the answer), and the collector's pace lets the heap grow past
// that. Some dozens of such requests at once, from one client, took the
// process past the machine's memory. So the bodies being served take their
// size from a budget (request_body_budget_bytes): a request whose body is
// at least bodyBudgetFloor bytes waits for its share before its body is
// read (when it announces a Content-Length) or right after, and gives it
// back once answered. Smaller bodies, nearly every request, do not count.
// A request that waits longer than request_body_wait_seconds is answered
// 503 with Retry-After, as when the backend is overloaded.

// bodyBudgetFloor is the smallest body that counts against the budget.
const bodyBudgetFloor = 64 << 10

type bodyBudget struct {
	sem  *semaphore.Weighted
	size int64
	wait time.Duration
}

func newBodyBudget(size int64, wait time.Duration) *bodyBudget {
	if size <= 0 {
		return nil
	}
	return &bodyBudget{sem: semaphore.NewWeighted(size), size: size, wait: wait}
}

// take waits for n bytes of the budget (all of it when n is larger) and
// returns the function that gives them back; nil when n need not count.
func (b *bodyBudget) take(ctx context.Context, n int64) (func(), error) {
	if b == nil || n < bodyBudgetFloor {
		return nil, nil
	}
	n = min(n, b.size)
	if !b.sem.TryAcquire(n) {
		wctx, cancel := context.WithTimeout(ctx, b.wait)
		err := b.sem.Acquire(wctx, n)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				// The client went away while it waited.
				return nil, &Error{Status: 499, Errno: ErrnoUndefined, Message: "The client closed the request."}
			}
			return nil, Unavailable()
		}
	}
	return func() { b.sem.Release(n) }, nil
}

// admitBody reads r's body within the budget. The returned function,
// never nil, gives the request's share back once it has been answered.
func (a *App) admitBody(r *Request) (func(), error) {
	req := r.c.Request()
	outer := req.Context().Value(batchKey{}) == nil
	noop := func() {}
	if !outer || a.bodies == nil || req.Body == nil || req.Body == http.NoBody {
		return noop, a.readBody(r)
	}
	var release func()
	if req.ContentLength >= bodyBudgetFloor && req.ContentLength <= a.opts.maxBody {
		var err error
		if release, err = a.bodies.take(req.Context(), req.ContentLength); err != nil {
			return noop, err
		}
	}
	if err := a.readBody(r); err != nil {
		if release != nil {
			release()
		}
		return noop, err
	}
	if release == nil {
		// A body sent without its length counts once it has been read.
		var err error
		if release, err = a.bodies.take(req.Context(), int64(len(r.body))); err != nil {
			r.body = nil
			return noop, err
		}
	}
	if release == nil {
		return noop, nil
	}
	return release, nil
}
