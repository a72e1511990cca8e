package resource

import (
	"context"
	"io"
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
// size from a budget (request_body_budget_bytes): a request whose body
// reaches budgetFloor bytes stops reading it until it holds its share
// (its announced length, all at once), and gives it back once answered.
// Smaller bodies, nearly every request, do not count. A request that
// waits longer than request_body_wait_seconds is answered 503 with
// Retry-After, as when the backend is overloaded. Bodies waiting for
// their share hold no more than the floor each: when they were read
// whole before waiting, 48 bodies of 8 MB sent at once held their 384 MB
// (and the process peaked at 5.8 GB, against 3.7 GB now).

// budgetFloor is the smallest body (or answer, answerbudget.go) that
// counts against its budget.
const budgetFloor = 64 << 10

// byteBudget bounds the bytes of the large bodies, or of the large
// answers, being served at once.
type byteBudget struct {
	sem  *semaphore.Weighted
	size int64
	wait time.Duration
	// what the budget bounds, for the server's log.
	what string
}

func newByteBudget(what string, size int64, wait time.Duration) *byteBudget {
	if size <= 0 {
		return nil
	}
	return &byteBudget{sem: semaphore.NewWeighted(size), size: size, wait: wait, what: what}
}

// overBudget is the 503 of a request that waited too long for its share:
// the server is busy, not its storage, and its log says which.
type overBudget struct {
	e    *Error
	what string
}

func (o overBudget) Error() string { return o.e.Error() }
func (o overBudget) Unwrap() error { return o.e }

// take waits for n bytes of the budget (all of it when n is larger), as a
// share of its own, and returns the function that gives them back (one
// that does nothing when n does not count).
func (b *byteBudget) take(ctx context.Context, n int64) (func(), error) {
	if b == nil || n < budgetFloor {
		return noRelease, nil
	}
	s := &budgetShare{b: b, ctx: ctx}
	if err := s.growTo(n); err != nil {
		return nil, err
	}
	return s.release, nil
}

// admitBody reads r's body, a request of its own (outer: a sub-request's
// body is a part of its batch's) taking its share of the budget once
// budgetFloor bytes have arrived (chargedReader): a client that
// announces a large body and sends less than that holds nothing. The
// returned function, never nil, gives the share back once the request has
// been answered.
func (a *App) admitBody(r *Request, outer bool) (func(), error) {
	var s *budgetShare
	if req := r.c.Request(); outer && a.bodies != nil && req.Body != nil && req.Body != http.NoBody &&
		(req.ContentLength < 0 || req.ContentLength >= budgetFloor) {
		// Only a body that may reach the floor needs a share: most
		// requests have none, or a small one.
		s = &budgetShare{b: a.bodies, ctx: r.Ctx()}
	}
	if err := a.readBody(r, s); err != nil {
		s.release()
		r.body = nil
		return noRelease, err
	}
	if s == nil {
		return noRelease, nil
	}
	return s.release, nil
}

// noRelease is the release of a request that holds no share.
func noRelease() {}

// budgetShare is what one request holds of a budget. For a body: nothing
// while it is under budgetFloor, then at least what has arrived, taken
// before it is read, so that a body in memory past the floor is always
// counted. Its waits share one deadline, the budget's wait from the
// first.
type budgetShare struct {
	b        *byteBudget
	ctx      context.Context
	held     int64
	deadline time.Time
	// waited runs after a wait, so that the body's own time limit does
	// not count the time spent waiting for the budget.
	waited func()
}

// growTo makes the share n bytes (at most the whole budget).
func (s *budgetShare) growTo(n int64) error {
	n = min(n, s.b.size)
	if n <= s.held {
		return nil
	}
	more := n - s.held
	if !s.b.sem.TryAcquire(more) {
		if s.deadline.IsZero() {
			s.deadline = time.Now().Add(s.b.wait)
		}
		wctx, cancel := context.WithDeadline(s.ctx, s.deadline)
		err := s.b.sem.Acquire(wctx, more)
		cancel()
		if err != nil {
			if s.ctx.Err() != nil {
				return ClientClosed()
			}
			return overBudget{Unavailable(), s.b.what}
		}
		if s.waited != nil {
			s.waited()
		}
	}
	s.held = n
	return nil
}

// release gives the share back; a nil share holds nothing.
func (s *budgetShare) release() {
	if s != nil && s.held > 0 {
		s.b.sem.Release(s.held)
		s.held = 0
	}
}

// chargedReader reads a body, taking its share once budgetFloor bytes
// have arrived (the first ones are counted then): the whole announced
// length at once, so that bodies waiting for the budget never hold parts
// of it (many large bodies each holding a part would wait for each other
// until all were refused); a body of unknown length (chunked) doubles its
// share as it grows.
type chargedReader struct {
	r      io.Reader
	s      *budgetShare
	length int64 // announced, -1 when unknown
	read   int64
}

func (c *chargedReader) Read(p []byte) (int, error) {
	if c.read >= budgetFloor {
		if len(p) > chargeStep {
			p = p[:chargeStep]
		}
		need := c.read + int64(len(p))
		if c.length >= 0 {
			need = min(need, c.length)
		}
		if need > c.s.held {
			want := max(need, 2*c.read)
			if c.length >= 0 {
				want = c.length
			}
			if err := c.s.growTo(want); err != nil {
				return 0, err
			}
			if need > c.s.held && c.s.held > c.read {
				// Read no more than the share holds (a chunked body's
				// share grows again on the next read). A share of the
				// whole budget is read past: such a body runs alone.
				p = p[:c.s.held-c.read]
			}
		}
	} else if rest := budgetFloor - c.read; int64(len(p)) > rest {
		// Up to the floor, uncounted; past it, counted first.
		p = p[:rest]
	}
	n, err := c.r.Read(p)
	c.read += int64(n)
	return n, err
}

// chargeStep is the most of a body of unknown length read under one
// growth of its share.
const chargeStep = 256 << 10
