package postgres

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nimbus-server/nimbus/storage"
)

// A write group's transaction begins and ends in round trips that carry
// its other statements: BEGIN is queued ahead of everything and goes with
// the group's first round trip, and COMMIT goes at the end of its last
// one (fused commit). That is two round trips fewer per group, and both
// were on a list lock's path: the lock is taken in the first round trip
// and held until the commit, so the next group to write the list waited
// for the commit's round trip too.
//
// A fused commit is safe only when every statement before it fails on
// the server if it fails at all: PostgreSQL then skips the rest of the
// round trip, COMMIT included, and leaves the transaction aborted.
// Merged creations therefore fail on the server when an id is live
// (conflictRaiseSQL), and a round trip with a creation that tells its
// conflict in its row (createStmt) commits apart. A group whose fused
// round trip failed on a conflict runs again, each call alone and
// without fusion, so that the call the id belongs to gets its
// UnicityError as it would otherwise.
//
// When the connection fails during a fused round trip the outcome is
// unknown (the COMMIT may have run), as for a commit sent alone: the calls
// get the commit's error and are never run again.

// beginStmt opens a write group's transaction; it is queued first.
var beginStmt = stmt{sql: `BEGIN READ WRITE`, kind: kindSetup}

// commitStmt ends a fused round trip.
var commitStmt = stmt{sql: `COMMIT`}

// errFusedConflict is a fused round trip that failed on a creation whose
// id is live.
var errFusedConflict = errors.New("postgres: a creation of the group found its id live")

// groupConn is the pooled connection a write group runs on.
type groupConn struct{ c *pgxpool.Conn }

func (g groupConn) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return g.c.Exec(ctx, sql, args...)
}

func (g groupConn) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return g.c.Query(ctx, sql, args...)
}

func (g groupConn) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return g.c.QueryRow(ctx, sql, args...)
}

func (g groupConn) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	return g.c.SendBatch(ctx, b)
}

func (g groupConn) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	return g.c.CopyFrom(ctx, table, columns, src)
}

func (g groupConn) status() byte { return g.c.Conn().PgConn().TxStatus() }

func (g groupConn) closed() bool { return g.c.Conn().IsClosed() }

// rollback ends what is still open (and releases its locks).
func (g groupConn) rollback() {
	if !g.closed() && g.status() != 'I' {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		g.Exec(ctx, "ROLLBACK") //nolint:errcheck // a failed rollback leaves the connection to be dropped
		cancel()
	}
}

// end rolls back what is still open and gives the connection back; the
// pool drops one that is broken or still in a transaction.
func (g groupConn) end() {
	g.rollback()
	g.c.Release()
}

// commit sends COMMIT on its own.
func (g groupConn) commit(ctx context.Context) error {
	tag, err := g.Exec(ctx, "COMMIT")
	if err != nil {
		return err
	}
	if tag.String() == "ROLLBACK" {
		return pgx.ErrTxCommitRollback
	}
	return nil
}

// flushCommit sends what the group queued and commits, in one round trip
// when fuse allows it. flushErr is a statement's failure (nothing
// committed, the transaction is to be rolled back), commitErr the
// commit's (an unknown outcome when the connection failed).
func (t *pgTx) flushCommit(conn groupConn, fuse bool) (flushErr, commitErr error) {
	if !fuse {
		if err := t.flushAll(); err != nil {
			return err, nil
		}
		return nil, conn.commit(t.ctx)
	}
	t.emitStamps()
	stmts := coalesce(t.outgoing(true), true)
	for _, st := range stmts {
		if st.kind == kindCreate {
			// Its conflict is seen by Go after the server went on.
			if err := t.roundTrip("write", stmts...); err != nil {
				return err, nil
			}
			return nil, conn.commit(t.ctx)
		}
	}
	err := t.roundTrip("commit", append(stmts, commitStmt)...)
	if err == nil {
		return nil, nil
	}
	var pe *pgconn.PgError
	refused := errors.As(err, &pe) || errors.Is(err, storage.ErrConflict)
	if conn.closed() || !refused {
		// The connection failed, or Go failed a statement's answer
		// after the server went on to the COMMIT.
		return nil, err
	}
	// The server refused a statement (it skipped the COMMIT) or the
	// commit itself: nothing is committed.
	if pe != nil && strings.Contains(pe.Message, conflictMarker) {
		return errFusedConflict, nil
	}
	return err, nil
}
