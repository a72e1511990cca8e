package openid

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/nimbus-server/nimbus/storage"
)

// Login states are stored (any instance may receive the provider's
// redirect) by anonymous requests, and live for state_ttl_seconds (an
// hour by default) unless their login ends. Removing the expired ones
// read every state, and ran on every login: a flood of logins made each
// one slower than the last (240 logins a second, then 60 with 6,000
// states waiting), each holding bolt's only writer meanwhile. So the
// expired ones go at most every purgeEvery, and at most maxPendingLogins
// states wait at once: past it, a login is refused (503) until some end
// or expire (and are purged). Kinto keeps them in its cache, which drops
// what does not fit.
const (
	purgeEvery       = 30 * time.Second
	maxPendingLogins = 20000
)

// errTooManyLogins is a login refused because maxPendingLogins states
// are waiting.
var errTooManyLogins = errors.New("openid: too many logins in progress")

// stateKeeper makes room for the states of new logins. max is
// maxPendingLogins unless a test sets it.
type stateKeeper struct {
	lastPurge atomic.Int64 // unix milliseconds
	lastWarn  atomic.Int64 // unix milliseconds
	max       int
}

// warnDue tells whether a refusal should be logged: once a minute at most.
func (k *stateKeeper) warnDue(now time.Time) bool {
	last := k.lastWarn.Load()
	return now.UnixMilli()-last >= time.Minute.Milliseconds() && k.lastWarn.CompareAndSwap(last, now.UnixMilli())
}

// add stores a login's state, unless the bound refuses it
// (errTooManyLogins): read first, so that a refusal takes no write
// transaction.
func (k *stateKeeper) add(view, update func(func(storage.Tx) error) error, now time.Time, state storage.Object) error {
	err := view(func(tx storage.Tx) error {
		refused, err := k.refuses(tx, now)
		if err == nil && refused {
			return errTooManyLogins
		}
		return err
	})
	if err != nil {
		return err
	}
	return update(func(tx storage.Tx) error {
		if err := k.makeRoom(tx, now); err != nil {
			return err
		}
		_, err := tx.Create(stateRef, state)
		return err
	})
}

// makeRoom removes the expired states when they were last removed
// purgeEvery ago or more; errTooManyLogins when the states waiting then
// reach the bound. A refused login purges nothing before purgeEvery
// either: at the bound, each one reading every state would hold the
// writer as long as the flood that filled it.
func (k *stateKeeper) makeRoom(tx storage.Tx, now time.Time) error {
	if k.purgeDue(now) {
		if err := purgeStates(tx, now); err != nil {
			return err
		}
		// Noted now: the transaction may still fail, and the next
		// login past purgeEvery purges again.
		k.lastPurge.Store(now.UnixMilli())
	}
	full, err := k.full(tx)
	if err == nil && full {
		return errTooManyLogins
	}
	return err
}

// refuses tells, from a read, whether a login would be refused: the
// bound is reached and no purge is due (a refusal then takes no write
// transaction).
func (k *stateKeeper) refuses(tx storage.Tx, now time.Time) (bool, error) {
	if k.purgeDue(now) {
		return false, nil
	}
	return k.full(tx)
}

func (k *stateKeeper) purgeDue(now time.Time) bool {
	return now.UnixMilli()-k.lastPurge.Load() >= purgeEvery.Milliseconds()
}

// full tells whether the states waiting reach the bound.
func (k *stateKeeper) full(tx storage.Tx) (bool, error) {
	limit := k.max
	if limit == 0 {
		limit = maxPendingLogins
	}
	n, err := tx.Count(stateRef, nil, false)
	return n >= limit, err
}

// purgeStates removes the states expired at now, and their tombstones.
func purgeStates(tx storage.Tx, now time.Time) error {
	if _, err := tx.DeleteMany(stateRef, storage.Query{Filters: []storage.Filter{{Field: "expires", Op: storage.OpLt, Value: now.UnixMilli()}}}); err != nil {
		return err
	}
	_, err := tx.PurgeDeleted(stateRef, 0, 0)
	return err
}
