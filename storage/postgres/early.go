package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Early sends: a write group whose finished calls queued many writes
// (batches of dozens of records) sends them while its next calls still
// run in Go, instead of all at once in its last round trip. The group
// holds its list locks from its first call to its commit, and before
// this that time was the sum of the Go work of every call and the
// server's work for all of their writes; now the server writes what the
// first calls queued while Go runs the next ones, so the lock is held for
// little more than the larger of the two.
//
// Only writes of finished calls are sent: no savepoint is needed (a call
// is never rolled back once it finished; its savepoint is dropped, as in
// the last round trip), and the statements are merged as in the last
// round trip, creations raising on the server when an id is live. The
// answers are read (settle) before the connection's next use: the next
// round trip of a call, the last round trip, a rollback. A failure found
// there cannot be pinned on one call: the group is rolled back and every
// call runs again alone, as when a round trip fails on what an earlier
// call queued (combine.go). One early send is in flight at a time.

// earlyMin is how many statements a call must have queued for the group
// to send them early. A POST queues about six (its row, its history
// entry, their ACLs): a group of single writes keeps them for its last
// round trip, since an early send would add a round trip to wait for
// before the commit and leave little Go work to overlap. A batch of 25
// queues about 150.
const earlyMin = 50

// earlyBatch is an early send whose answers are not read yet.
type earlyBatch struct {
	br     pgx.BatchResults
	stmts  []stmt
	cancel context.CancelFunc
}

// sendEarly sends what the group's finished calls queued when the call
// that just finished queued many statements (added), after reading the
// answers of the previous early send. An error is that send's failure:
// the group must run again, each call alone.
func (t *pgTx) sendEarly(added int, timeout time.Duration) error {
	if added < earlyMin {
		return nil
	}
	if err := t.settle(); err != nil {
		return err
	}
	sb, ok := t.tx.(batcher)
	if !ok {
		return nil
	}
	stmts := coalesce(t.outgoing(true), true)
	b := &pgx.Batch{}
	for _, st := range stmts {
		b.Queue(st.sql, st.args...)
	}
	// Not the call's context: its end must not cancel the statements.
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.early = &earlyBatch{br: sb.SendBatch(ctx, b), stmts: stmts, cancel: cancel}
	return nil
}

// settle reads the answers of the early send in flight, if any. Its
// failure poisons the transaction (the calls it carried are finished).
func (t *pgTx) settle() error {
	e := t.early
	if e == nil {
		return nil
	}
	t.early = nil
	err := collect(e.br, e.stmts)
	e.cancel()
	if err != nil {
		t.poisoned = true
		return wrap("write", err)
	}
	return nil
}

// errBatch is a pgx.BatchResults that fails with err.
type errBatch struct{ err error }

func (e errBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, e.err }
func (e errBatch) Query() (pgx.Rows, error)         { return nil, e.err }
func (e errBatch) QueryRow() pgx.Row                { return errRow{e.err} }
func (e errBatch) Close() error                     { return e.err }
func (e errBatch) Tx() pgx.Tx                       { return nil }
