package postgres

import (
	"sync"

	"github.com/nimbus-server/nimbus/storage"
)

// Lists locked together. A write usually locks a second list right after
// its first: a record's creation writes its bucket's history entry too.
// Each lock was a round trip of its own, both while the group holding
// them keeps every other writer of the lists waiting. The backend learns
// which list a call locks right after another (nextLocks), and the call
// that takes its locks waiting (a group's first, or a lone transaction)
// takes the next one, and reads its timestamp, in the same round trip as
// the first: in the order the call would have taken them, so no new
// deadlock. A wrong guess holds a lock the transaction does not use until
// it ends, and is forgotten when the call that took it ends without
// wanting that list (endCall); a list the call then writes needs no round
// trip of its own to be locked and stamped.

// maxNextLocks bounds what a backend remembers; past it, it starts over.
const maxNextLocks = 4096

// nextLocks maps a list's lock key to the list locked after it last time.
// Every write transaction carries its backend's (pgTx.next).
type nextLocks struct {
	mu sync.Mutex
	m  map[string]storage.Ref
}

func (n *nextLocks) get(key string) (storage.Ref, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	ref, ok := n.m[key]
	return ref, ok
}

func (n *nextLocks) set(key string, next storage.Ref) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if old, ok := n.m[key]; ok && old == next {
		return
	}
	if n.m == nil || len(n.m) >= maxNextLocks {
		n.m = map[string]storage.Ref{}
	}
	n.m[key] = next
}

// del forgets that next follows key, unless something else does now.
func (n *nextLocks) del(key string, next storage.Ref) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.m[key] == next {
		delete(n.m, key)
	}
}

// guess is a lock taken ahead of a call's wanting it.
type guess struct {
	after  string
	next   storage.Ref
	wanted bool
}

// learnLock notes that the call wants ref's lock after the one it wanted
// before.
func (t *pgTx) learnLock(ref storage.Ref) {
	key := lockKey(ref)
	if t.prevLock != "" && t.prevLock != key {
		t.next.set(t.prevLock, ref)
	}
	t.prevLock = key
	for i := range t.guesses {
		if t.guesses[i].next == ref {
			t.guesses[i].wanted = true
		}
	}
}

// endCall forgets the guesses the call did not confirm: the lists it
// locks no longer go together.
func (t *pgTx) endCall() {
	for _, g := range t.guesses {
		if !g.wanted {
			t.next.del(g.after, g.next)
		}
	}
	t.guesses = t.guesses[:0]
	t.prevLock = ""
}

// lockNext returns the statements locking, and reading the timestamp of,
// the list expected to be locked after ref, when the call takes its locks
// waiting and does not hold that one yet.
func (t *pgTx) lockNext(ref storage.Ref) []stmt {
	if t.tryLocks {
		return nil
	}
	next, ok := t.next.get(lockKey(ref))
	if !ok {
		return nil
	}
	st, need := t.takeLockStmt(next)
	if !need {
		return nil
	}
	// The timestamp is kept as the held lock's (knownTS), as
	// lockAndRead's is.
	var ts int64
	tsSt := t.listTSStmt(next, &ts)
	t.markLocked(next)
	t.guesses = append(t.guesses, guess{after: lockKey(ref), next: next})
	return []stmt{st, tsSt}
}
