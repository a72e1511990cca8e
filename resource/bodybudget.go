package resource

import (
	"context"
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
// at least bodyBudgetFloor bytes waits for its share once its body has
// been read, and gives it back once answered. Smaller bodies, nearly
// every request, do not count. A request that waits longer than
// request_body_wait_seconds is answered 503 with Retry-After, as when the
// backend is overloaded.

// bodyBudgetFloor is the smallest body that counts against the budget.
const bodyBudgetFloor = 64 << 10

type bodyBudget struct {
	sem  *semaphore.Weighted
	size int64
	wait time.Duration
	// what the budget bounds, for the server's log.
	what string
}

func newBodyBudget(what string, size int64, wait time.Duration) *bodyBudget {
	if size <= 0 {
		return nil
	}
	return &bodyBudget{sem: semaphore.NewWeighted(size), size: size, wait: wait, what: what}
}

// overBudget is the 503 of a request that waited too long for its share:
// the server is busy, not its storage, and its log says which.
type overBudget struct {
	e    *Error
	what string
}

func (o overBudget) Error() string { return o.e.Error() }
func (o overBudget) Unwrap() error { return o.e }

// take waits for n bytes of the budget (all of it when n is larger) and
// returns the function that gives them back (one that does nothing when
// n does not count).
func (b *bodyBudget) take(ctx context.Context, n int64) (func(), error) {
	if b == nil || n < bodyBudgetFloor {
		return func() {}, nil
	}
	n = min(n, b.size)
	if !b.sem.TryAcquire(n) {
		wctx, cancel := context.WithTimeout(ctx, b.wait)
		err := b.sem.Acquire(wctx, n)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				// The client went away while it waited.
				return nil, ClientClosed()
			}
			return nil, overBudget{Unavailable(), b.what}
		}
	}
	return func() { b.sem.Release(n) }, nil
}

// admitBody reads r's body, then waits for its share of the budget (a
// request of its own, outer: a sub-request's body is a part of its
// batch's). The body is read first so that a client that announces a
// large body and sends it slowly, or never, holds no share: only bodies
// that arrived wait for their turn. The returned function, never nil,
// gives the share back once the request has been answered.
func (a *App) admitBody(r *Request, outer bool) (func(), error) {
	noop := func() {}
	if err := a.readBody(r); err != nil || !outer {
		return noop, err
	}
	release, err := a.bodies.take(r.Ctx(), int64(len(r.body)))
	if err != nil {
		r.body = nil
		return noop, err
	}
	return release, nil
}
