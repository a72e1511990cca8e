package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nimbus-server/nimbus/storage"
)

// Write combining: concurrent Update calls of one instance share a
// transaction and its commit, the way bbolt's Batch shares a commit on the
// bolt backend. A list's writers hold its advisory lock until they commit
// (that is what keeps timestamps increasing in commit order), so without
// this the writes to one list run one commit at a time; combined, a group
// of them holds the lock once and pays for one commit.
//
// Each call (a member) runs in a savepoint of the group's transaction: a
// member that fails is rolled back to it and gets its own error, the
// others are not touched. A member is acknowledged only once the group
// has committed.
//
// Deadlocks: the first member of a group takes its list locks waiting, as
// a lone transaction does. Later members only try them: a member that
// would wait for a lock while the group holds the locks of earlier
// members is rolled back to its savepoint, the group commits what it has,
// and the member runs again at the head of the next group. A group
// therefore never waits for a lock while holding one another group may
// want.

// maxGroup bounds how many calls share one transaction.
const maxGroup = 64

// maxAttempts is how many times a call that lost a deadlock or a
// serialization race is run before its error is returned.
const maxAttempts = 3

// errLockBusy is a later member's try of a list lock that another
// transaction holds.
var errLockBusy = errors.New("postgres: list lock busy")

// call is one Update waiting for, or in, a group.
type call struct {
	ctx      context.Context
	fn       func(storage.Tx) error
	attempts int
	// alone asks for a group of its own (after its group failed to
	// commit for a reason of another member).
	alone bool
	err   error
	// panicked holds what fn panicked with, raised again in the caller.
	panicked any
	done     chan struct{}
	// lead hands the caller the leadership while it waits.
	lead chan struct{}
}

// combiner queues the Update calls of a backend and elects the callers
// that run groups (leaders), at most max at once.
type combiner struct {
	mu      sync.Mutex
	queue   []*call
	leaders int
	max     int
}

// update runs fn in a group transaction and returns once that group has
// committed (or fn failed).
func (b *Backend) update(ctx context.Context, fn func(storage.Tx) error) error {
	c := b.comb
	k := &call{ctx: ctx, fn: fn, done: make(chan struct{}), lead: make(chan struct{}, 1)}
	c.mu.Lock()
	c.queue = append(c.queue, k)
	lead := c.leaders < c.max
	if lead {
		c.leaders++
	}
	c.mu.Unlock()
	if lead {
		b.leadUntil(k)
	}
	for {
		select {
		case <-k.done:
			// A leadership handed over while the call was being run
			// must be passed on, or the queue would stall.
			select {
			case <-k.lead:
				b.leadUntil(k)
			default:
			}
			if k.panicked != nil {
				panic(k.panicked)
			}
			return k.err
		case <-k.lead:
			b.leadUntil(k)
		}
	}
}

// leadUntil runs groups from the queue until the leader's own call is
// done; it then hands the leadership to the next queued caller, or gives
// it up when nothing waits.
func (b *Backend) leadUntil(own *call) {
	c := b.comb
	for {
		c.mu.Lock()
		if len(c.queue) == 0 {
			c.leaders--
			c.mu.Unlock()
			return
		}
		if isDone(own) {
			select {
			case c.queue[0].lead <- struct{}{}:
				c.mu.Unlock()
				return
			default:
				// Another leader (WriteGroups > 1) handed it over to that
				// caller already: this one keeps leading.
			}
		}
		n := 1
		if !c.queue[0].alone {
			for n < len(c.queue) && n < maxGroup && !c.queue[n].alone {
				n++
			}
		}
		group := append([]*call(nil), c.queue[:n]...)
		c.queue = c.queue[n:]
		c.mu.Unlock()
		b.runGroup(group)
	}
}

func isDone(k *call) bool {
	select {
	case <-k.done:
		return true
	default:
		return false
	}
}

// requeue puts calls back at the head of the queue, in order.
func (b *Backend) requeue(calls []*call) {
	if len(calls) == 0 {
		return
	}
	c := b.comb
	c.mu.Lock()
	c.queue = append(append([]*call(nil), calls...), c.queue...)
	c.mu.Unlock()
}

func finish(k *call, err error) {
	k.err = err
	close(k.done)
}

// runGroup runs calls in one transaction and finishes each of them, or
// puts back at the head of the queue those to run again.
func (b *Backend) runGroup(group []*call) {
	bctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	pc, err := b.acq.acquire(bctx)
	cancel()
	if err != nil {
		err = wrap("begin", err)
		for _, k := range group {
			finish(k, err)
		}
		return
	}
	conn := groupConn{pc}
	defer conn.end()
	// BEGIN goes with the first round trip (groupconn.go).
	t := &pgTx{layouts: b.layouts, write: true, cache: b.cache, next: &b.nextLocks, queued: []stmt{beginStmt, stampedStmt}}
	t.tx = spTx{t: t, tx: conn}
	// Runs before conn.end: the connection is busy until then.
	defer t.settle() //nolint:errcheck // the group is over; its outcome is known
	var ok []*call
	var again []*call
	// held are calls that failed after others of the group succeeded.
	var held []*call
	broken := false
	started := time.Now()
	for i := 0; ; i++ {
		if i == len(group) {
			// Calls that arrived meanwhile join the running group.
			if group = b.extend(group, started); i == len(group) {
				break
			}
		}
		k := group[i]
		if err := k.ctx.Err(); err != nil {
			finish(k, err)
			continue
		}
		stop := t.startMember(k.ctx, b.timeout, len(ok) > 0)
		sp := t.Savepoint()
		queued := len(t.queued)
		err := runMember(t, k)
		t.endCall()
		if i == 0 {
			// The group holds its first call's locks from now on: the
			// calls that queued while it waited for them (another
			// instance's group held them) join it.
			started = time.Now()
		}
		if t.poisoned {
			// A round trip of this call failed on what an earlier one
			// queued: every call of the group runs again on its own.
			stop()
			t.busy = false
			broken = true
			k.alone = true
			again = append(again, group[i:]...)
			break
		}
		if err == nil && conn.status() == 'E' {
			// The function swallowed a database error: what it wrote
			// cannot commit.
			err = &storage.BackendError{Op: "postgres write", Err: errors.New("the transaction failed on an error its function ignored")}
		}
		if err == nil && !t.busy {
			// What the call queued goes with the next round trip, or the
			// commit's.
			stop()
			ok = append(ok, k)
			if !group[0].alone && t.sendEarly(len(t.queued)-queued, b.timeout) != nil {
				// An early send failed (early.go): every call runs
				// again on its own.
				broken = true
				again = append(again, group[i+1:]...)
				break
			}
			continue
		}
		busy := t.busy
		t.busy = false
		rerr := t.RollbackTo(sp)
		stop()
		if rerr != nil {
			// The transaction is lost: the calls that succeeded in it run
			// again on their own, the rest of the group after them.
			broken = true
			if err == nil {
				err = rerr
			}
			finish(k, err)
			again = append(again, group[i+1:]...)
			break
		}
		switch {
		case busy:
			again = append(again, group[i:]...)
		case errors.Is(err, storage.ErrConflict) && k.attempts+1 < maxAttempts && k.panicked == nil:
			k.attempts++
			again = append(again, k)
			continue
		case len(ok) > 0 && k.panicked == nil:
			// Its failure may rest on what earlier calls wrote (an id
			// they created): it is answered once that is committed, or
			// runs again alone if it is not (held).
			k.err, k.alone = err, true
			held = append(held, k)
			continue
		default:
			finish(k, err)
			continue
		}
		break
	}
	if !broken && len(ok) > 0 && t.settle() != nil {
		broken = true
	}
	if broken || len(ok) == 0 {
		t.settle() //nolint:errcheck // rolled back whatever it says
		conn.rollback()
		b.cache.invalidate(&t.tc)
		if broken {
			for _, k := range ok {
				k.alone = true
			}
			b.requeue(append(append(ok, held...), again...))
			return
		}
		b.requeue(again)
		return
	}
	cctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	t.ctx = cctx
	t.tryLocks = false
	// What the group touched stays out of the cache until the commit is
	// over (committing.go).
	committed := b.cache.committing(&t.tc)
	flushErr, err := t.flushCommit(conn, !group[0].alone)
	if flushErr != nil {
		conn.rollback()
		err = pgx.ErrTxCommitRollback
	}
	cancel()
	// Whatever the outcome, what the transaction touched must not be
	// served from the cache.
	committed()
	switch {
	case err == nil:
		b.wrote(len(t.tc.objects.list) - t.bulkRows)
		b.groups.Add(1)
		b.groupCalls.Add(int64(len(ok)))
		for _, k := range ok {
			finish(k, nil)
		}
		for _, k := range held {
			finish(k, k.err)
		}
		held = nil
	case errors.Is(flushErr, errFusedConflict):
		// A creation found its id live: the calls run again alone and
		// unfused, where the one it belongs to gets its UnicityError.
		for _, k := range ok {
			k.alone = true
		}
		again = append(append(ok, held...), again...)
		held = nil
	case errors.Is(err, pgx.ErrTxCommitRollback) && len(ok) > 1:
		// The server rolled the group back: each call runs again alone,
		// so that one member's fault is its own.
		for _, k := range ok {
			k.alone = true
		}
		again = append(append(ok, held...), again...)
		held = nil
	case len(ok) == 1 && errors.Is(flushErr, storage.ErrConflict) && ok[0].attempts+1 < maxAttempts:
		// A lone call that lost a deadlock in its last round trip runs
		// again, as one that lost it earlier does.
		ok[0].attempts++
		again = append(append(ok, held...), again...)
		held = nil
	default:
		if flushErr != nil {
			// A lone call's own error, from its last round trip.
			err = flushErr
		} else {
			err = wrap("commit", err)
		}
		for _, k := range ok {
			finish(k, err)
		}
	}
	// What the failed calls saw was not committed: they run again.
	b.requeue(append(held, again...))
}

// maxExtend is how long after its first call ran a group still takes
// calls that arrived meanwhile.
const maxExtend = 10 * time.Millisecond

// extend adds to a running group the calls queued since it began, within
// maxGroup and maxExtend: they wait for the group's commit instead of the
// next group's (which, on a list another instance writes too, would also
// wait for that instance's group).
func (b *Backend) extend(group []*call, started time.Time) []*call {
	if group[0].alone || len(group) >= maxGroup || time.Since(started) > maxExtend {
		return group
	}
	c := b.comb
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for n < len(c.queue) && len(group)+n < maxGroup && !c.queue[n].alone {
		n++
	}
	group = append(group, c.queue[:n]...)
	c.queue = c.queue[n:]
	return group
}

// runMember runs one call's function, turning a panic into an error
// raised again in the caller's goroutine.
func runMember(t *pgTx, k *call) (err error) {
	defer func() {
		if p := recover(); p != nil {
			k.panicked = p
			err = fmt.Errorf("postgres: write function panicked: %v", p)
		}
	}()
	err = k.fn(t)
	var fe fnError
	if errors.As(err, &fe) {
		err = fe.err
	}
	return err
}

// startMember prepares the group's transaction for its next call: that
// call's context (its queries get a deadline of their own, but the
// caller going away does not break the group), a fresh cache barrier,
// and, after calls that may hold locks, locks that are only tried. The
// function returned ends the call's deadline.
func (t *pgTx) startMember(ctx context.Context, timeout time.Duration, tryLocks bool) context.CancelFunc {
	t.reqCtx = ctx
	var cancel context.CancelFunc
	t.ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), timeout)
	t.synced = 0
	t.tryLocks = tryLocks
	t.busy = false
	// The statements that begin the group's transaction are no call's.
	t.carried = t.queuedWrites()
	return cancel
}
