package postgres

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/nimbus-server/nimbus/storage"
)

// The write queue and savepoints of a write transaction.
//
// Writes whose answer the caller does not need (an object's row, its ACL,
// memberships) are queued (later) and go with the next round trip, which
// reads what they wrote, or with the last one before the commit (flushAll).
// A list's timestamp row is written once per list, before the commit
// (noteStamp): a row written over and over in one transaction costs more
// each time, its versions piling up until the commit.
//
// A savepoint is virtual at first: a position in the queue. Rolling back
// to it while what followed is still queued drops that part of the queue
// and costs nothing. It becomes a real SAVEPOINT only when a round trip
// sends writes queued after it, or sends statements of its own, while the
// transaction goes on. The last round trip before the commit sends none:
// PostgreSQL keeps a transaction's first 64 subtransactions in shared
// memory and checks the rest on disk, slowing down every reader, so a
// write group of hundreds of calls must not open one each.

// savepoint is one Savepoint of a write transaction.
type savepoint struct {
	n int
	// mark is the savepoint's position in the queue while it is
	// virtual; real tells that its SAVEPOINT statement was sent.
	mark int
	real bool
	// stamps are the noted list timestamps as they were.
	stamps map[listKey]int64
}

// Savepoint implements storage.Savepointer.
func (t *pgTx) Savepoint() int {
	t.sp++
	t.open = append(t.open, savepoint{n: t.sp, mark: len(t.queued), stamps: maps.Clone(t.stamps)})
	return t.sp
}

// virtual tells whether a savepoint awaits its SAVEPOINT statement.
func (t *pgTx) virtual() bool {
	return len(t.open) > 0 && !t.open[len(t.open)-1].real
}

// RollbackTo implements storage.Savepointer.
func (t *pgTx) RollbackTo(sp int) error {
	i := slices.IndexFunc(t.open, func(s savepoint) bool { return s.n == sp })
	if i < 0 {
		return nil
	}
	s := t.open[i]
	t.open = t.open[:i+1]
	// Locks taken since the savepoint are released with it, and what it
	// wrote is undone.
	t.locked, t.ownACLs, t.prefetched = nil, nil, nil
	t.shared, t.held = nil, nil
	t.stamps = maps.Clone(s.stamps)
	if !s.real {
		t.queued = t.queued[:s.mark]
		return nil
	}
	// Whatever is queued came after the savepoint.
	t.queued = nil
	_, err := t.tx.Exec(t.ctx, fmt.Sprintf("ROLLBACK TO SAVEPOINT nimbus_sp_%d", s.n))
	return wrap("rollback to savepoint", err)
}

// outgoing empties the queue into the statements to send, with the
// SAVEPOINT statements of the virtual savepoints at their places, unless
// the transaction is about to commit (last).
func (t *pgTx) outgoing(last bool) []stmt {
	out := make([]stmt, 0, len(t.queued)+2)
	first := slices.IndexFunc(t.open, func(s savepoint) bool { return !s.real })
	if last {
		// Nothing rolls back to a savepoint after the last round trip:
		// the virtual ones are never sent.
		out = append(out, t.queued...)
		t.open = nil
		t.queued = nil
		return out
	}
	if first < 0 {
		out = append(out, t.queued...)
		for i := range t.open {
			t.open[i].mark = 0
		}
		t.queued = nil
		return out
	}
	j := first
	for i, st := range t.queued {
		for ; j < len(t.open) && t.open[j].mark == i; j++ {
			out = append(out, t.open[j].statement())
		}
		out = append(out, st)
	}
	for ; j < len(t.open); j++ {
		out = append(out, t.open[j].statement())
	}
	t.queued = nil
	return out
}

// statement makes s real and returns its SAVEPOINT statement.
func (s *savepoint) statement() stmt {
	s.real = true
	return stmt{sql: fmt.Sprintf("SAVEPOINT nimbus_sp_%d", s.n)}
}

// later queues writes whose answer the caller does not need. Their
// errors come from a later round trip of the same call.
func (t *pgTx) later(stmts ...stmt) error {
	if t.busy {
		return errLockBusy
	}
	t.queued = append(t.queued, stmts...)
	return nil
}

// queuedWrites tells whether calls' writes wait in the queue (not only
// the statements that begin the transaction).
func (t *pgTx) queuedWrites() bool {
	for _, st := range t.queued {
		if st.kind != kindSetup {
			return true
		}
	}
	return false
}

// flush sends what is queued.
func (t *pgTx) flush() error {
	if len(t.queued) == 0 {
		return nil
	}
	return t.roundTrip("write")
}

// flushAll sends what is queued and the noted list timestamps, with no
// savepoint: the last round trip before the commit.
func (t *pgTx) flushAll() error {
	t.emitStamps()
	if len(t.queued) == 0 {
		return nil
	}
	return t.roundTrip("write", coalesce(t.outgoing(true), false)...)
}

// listKey names a list's row in the timestamps table.
type listKey struct{ parent, resource string }

// noteStamp records a list's new timestamp, written before the commit.
func (t *pgTx) noteStamp(ref storage.Ref, id string, ts int64) {
	t.knownTS(ref, ts)
	k := listKey{t.rowParent(ref, id), ref.Resource}
	t.tc.stamps = append(t.tc.stamps, listID(k.resource, k.parent))
	if t.stamps == nil {
		t.stamps = map[listKey]int64{}
	}
	if ts > t.stamps[k] {
		t.stamps[k] = ts
	}
}

// emitStamps queues the noted list timestamps; flushAll alone calls it.
func (t *pgTx) emitStamps() {
	if len(t.stamps) == 0 {
		return
	}
	keys := make([]listKey, 0, len(t.stamps))
	for k := range t.stamps {
		keys = append(keys, k)
	}
	// One order for every transaction, so that two never wait on each
	// other's rows.
	slices.SortFunc(keys, func(a, b listKey) int {
		if c := strings.Compare(a.parent, b.parent); c != 0 {
			return c
		}
		return strings.Compare(a.resource, b.resource)
	})
	for _, k := range keys {
		t.queued = append(t.queued, stampStmt(k, t.stamps[k]))
	}
	t.stamps = nil
}

// dropStamps forgets the noted timestamps of the lists under uri (all for
// ""), whose rows a DeleteTree removes.
func (t *pgTx) dropStamps(uri string) {
	under := func(k listKey, _ int64) bool {
		return uri == "" || k.parent == uri || strings.HasPrefix(k.parent, uri+"/")
	}
	maps.DeleteFunc(t.stamps, under)
	for i := range t.open {
		maps.DeleteFunc(t.open[i].stamps, under)
	}
}

func stampStmt(k listKey, ts int64) stmt {
	return stmt{sql: `INSERT INTO timestamps (parent_id, resource_name, last_modified) VALUES ($1, $2, from_epoch($3))
	  ON CONFLICT (parent_id, resource_name) DO UPDATE SET last_modified = GREATEST(timestamps.last_modified, EXCLUDED.last_modified)`,
		args: []any{k.parent, k.resource, ts}, kind: kindStamp}
}
