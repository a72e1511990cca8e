package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/nimbus-server/nimbus/storage"
)

// Write plumbing: statements sent in batched round trips, lazy savepoints,
// and the per-list advisory lock with the list timestamp it protects.

func (t *pgTx) exec(op, sql string, args ...any) error {
	return t.roundTrip(op, stmt{sql: sql, args: args})
}

// Savepoint implements storage.Savepointer.
// The SAVEPOINT statement is sent with the first write that follows, in
// the same round trip: a sub-request that writes nothing costs none.
func (t *pgTx) Savepoint() int {
	t.sp++
	t.pendingSP = t.sp
	return t.sp
}

// spTx is a write transaction's querier: it sends a pending savepoint
// before any statement (roundTrip sends it in its own batch instead).
type spTx struct {
	t  *pgTx
	tx pgx.Tx
}

func (s spTx) flush(ctx context.Context) error {
	for _, st := range s.t.savepointStmts() {
		if _, err := s.tx.Exec(ctx, st.sql); err != nil {
			return err
		}
	}
	return nil
}

func (s spTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := s.flush(ctx); err != nil {
		return pgconn.CommandTag{}, err
	}
	return s.tx.Exec(ctx, sql, args...)
}

func (s spTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := s.flush(ctx); err != nil {
		return nil, err
	}
	return s.tx.Query(ctx, sql, args...)
}

func (s spTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if err := s.flush(ctx); err != nil {
		return errRow{err}
	}
	return s.tx.QueryRow(ctx, sql, args...)
}

func (s spTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	return s.tx.SendBatch(ctx, b)
}

// savepointStmts is the pending SAVEPOINT, if any, to send first.
func (t *pgTx) savepointStmts() []stmt {
	if t.pendingSP == 0 {
		return nil
	}
	if t.sentSP == nil {
		t.sentSP = map[int]bool{}
	}
	t.sentSP[t.pendingSP] = true
	st := stmt{sql: fmt.Sprintf("SAVEPOINT nimbus_sp_%d", t.pendingSP)}
	t.pendingSP = 0
	return []stmt{st}
}

// RollbackTo implements storage.Savepointer.
func (t *pgTx) RollbackTo(sp int) error {
	if sp <= 0 {
		return nil
	}
	if t.pendingSP >= sp {
		t.pendingSP = 0
	}
	// A savepoint never sent had no write after it until the next one
	// that was sent: rolling back to that one is the same.
	target := 0
	for n := range t.sentSP {
		if n >= sp && (target == 0 || n < target) {
			target = n
		}
	}
	if target == 0 {
		return nil // nothing was written since sp
	}
	for n := range t.sentSP {
		if n > target {
			delete(t.sentSP, n)
		}
	}
	// Locks taken since the savepoint are released with it, and what it
	// wrote is undone.
	t.locked, t.ownACLs = nil, nil
	_, err := t.tx.Exec(t.ctx, fmt.Sprintf("ROLLBACK TO SAVEPOINT nimbus_sp_%d", target))
	return wrap("rollback to savepoint", err)
}

// lock serialises the writers of one list, across instances, until the
// transaction ends.
func (t *pgTx) lock(ref storage.Ref) error {
	if st, ok := t.lockStmt(ref); ok {
		if err := t.exec("lock", st.sql, st.args...); err != nil {
			return err
		}
		t.markLocked(ref)
	}
	return nil
}

// lockKey names ref's list in advisory locks and in pgTx.locked.
func lockKey(ref storage.Ref) string { return ref.Parent + " " + ref.Resource }

// lockStmt is the statement taking ref's lock, unless it is held already.
func (t *pgTx) lockStmt(ref storage.Ref) (stmt, bool) {
	key := lockKey(ref)
	if _, held := t.locked[key]; held {
		return stmt{}, false
	}
	return stmt{sql: `SELECT pg_advisory_xact_lock(hashtextextended($1, 7))`, args: []any{key}}, true
}

func (t *pgTx) markLocked(ref storage.Ref) {
	key := lockKey(ref)
	if _, held := t.locked[key]; held {
		return
	}
	if t.locked == nil {
		t.locked = map[string]*int64{}
	}
	t.locked[key] = nil
}

// stmt is one statement of a round trip; scan reads its row (nil: the
// statement returns none).
type stmt struct {
	sql  string
	args []any
	scan func(pgx.Row) error
}

// batcher is a transaction that sends several statements at once.
type batcher interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// roundTrip runs statements in order, in one round trip when the
// connection allows it, and returns the first error.
func (t *pgTx) roundTrip(op string, stmts ...stmt) error {
	if t.pendingSP != 0 {
		stmts = append(t.savepointStmts(), stmts...)
	}
	sb, ok := t.tx.(batcher)
	if !ok || len(stmts) == 1 {
		for _, st := range stmts {
			var err error
			if st.scan != nil {
				err = st.scan(t.tx.QueryRow(t.ctx, st.sql, st.args...))
			} else {
				_, err = t.tx.Exec(t.ctx, st.sql, st.args...)
			}
			if err != nil {
				return wrap(op, err)
			}
		}
		return nil
	}
	b := &pgx.Batch{}
	for _, st := range stmts {
		b.Queue(st.sql, st.args...)
	}
	br := sb.SendBatch(t.ctx, b)
	var first error
	for _, st := range stmts {
		if st.scan != nil {
			first = st.scan(br.QueryRow())
		} else {
			_, first = br.Exec()
		}
		if first != nil {
			break
		}
	}
	if err := br.Close(); first == nil {
		first = err
	}
	return wrap(op, first)
}

// knownTS remembers the timestamp of a locked list.
func (t *pgTx) knownTS(ref storage.Ref, ts int64) {
	key := lockKey(ref)
	if _, held := t.locked[key]; held {
		t.locked[key] = &ts
	}
}

// listTS returns the list's current timestamp (0 when it never had one).
func (t *pgTx) listTS(ref storage.Ref) (int64, error) {
	if known := t.locked[lockKey(ref)]; known != nil {
		return *known, nil
	}
	if !t.write && !t.selfParented(ref) && t.cached() {
		// Read-only transactions take the list timestamp (ETag of every
		// page) from the cache; writers always read it under the lock.
		list := listID(ref.Resource, ref.Parent)
		if ts, ok := lookup(t.cache, stampsOf, list); ok {
			return ts, nil
		}
		gen := t.cache.gen.Load()
		var ts int64
		if err := t.roundTrip("timestamp", t.listTSStmt(ref, &ts)); err != nil {
			return 0, err
		}
		keep(t.cache, stampsOf, list, ts, gen)
		return ts, nil
	}
	var ts int64
	if err := t.roundTrip("timestamp", t.listTSStmt(ref, &ts)); err != nil {
		return 0, err
	}
	return ts, nil
}

// listTSStmt reads the list's current timestamp into dst (0 when it never
// had one), remembering it while the list is locked.
func (t *pgTx) listTSStmt(ref storage.Ref, dst *int64) stmt {
	tsCond := `parent_id = $1 AND resource_name = $2`
	if t.selfParented(ref) {
		tsCond = `$1::TEXT = '' AND resource_name = $2`
	}
	return stmt{sql: `SELECT GREATEST(
	    (SELECT as_epoch(last_modified) FROM objects WHERE ` + t.listCond(ref) + ` ORDER BY last_modified DESC LIMIT 1),
	    (SELECT MAX(as_epoch(last_modified)) FROM timestamps WHERE ` + tsCond + `))`, args: []any{ref.Parent, ref.Resource},
		scan: func(r pgx.Row) error {
			var ts *int64
			if err := r.Scan(&ts); err != nil {
				return err
			}
			*dst = 0
			if ts != nil {
				*dst = *ts
			}
			t.knownTS(ref, *dst)
			return nil
		}}
}

// setListTS records the list timestamp; id names the object written, whose
// row parent holds the timestamp of a self-parented list ("" for none).
func (t *pgTx) setListTS(ref storage.Ref, id string, ts int64) error {
	return t.roundTrip("timestamp", t.setListTSStmt(ref, id, ts))
}

func (t *pgTx) setListTSStmt(ref storage.Ref, id string, ts int64) stmt {
	t.knownTS(ref, ts)
	t.tc.stamps = append(t.tc.stamps, listID(ref.Resource, t.rowParent(ref, id)))
	return stmt{sql: `INSERT INTO timestamps (parent_id, resource_name, last_modified) VALUES ($1, $2, from_epoch($3))
	  ON CONFLICT (parent_id, resource_name) DO UPDATE SET last_modified = GREATEST(timestamps.last_modified, EXCLUDED.last_modified)`,
		args: []any{t.rowParent(ref, id), ref.Resource, ts}}
}

// lockAndRead takes ref's lock (unless held), locks and reads the stored
// row of id and the list timestamp, in one round trip.
func (t *pgTx) lockAndRead(ref storage.Ref, id string) (storage.Object, int64, error) {
	var stmts []stmt
	lockSt, needLock := t.lockStmt(ref)
	if needLock {
		stmts = append(stmts, lockSt)
	}
	var r cachedRow
	stmts = append(stmts, stmt{sql: `SELECT data, as_epoch(last_modified), deleted FROM objects WHERE id = $1 AND parent_id = $2 AND resource_name = $3 FOR UPDATE`,
		args: []any{id, t.rowParent(ref, id), ref.Resource},
		scan: func(row pgx.Row) error {
			err := row.Scan(&r.data, &r.lm, &r.deleted)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			r.found = err == nil
			return err
		}})
	var cur int64
	known := t.locked[lockKey(ref)]
	if known != nil {
		cur = *known
	} else {
		stmts = append(stmts, t.listTSStmt(ref, &cur))
	}
	if needLock {
		// listTSStmt remembers the timestamp only for a held lock.
		t.markLocked(ref)
	}
	if err := t.roundTrip("write", stmts...); err != nil {
		return nil, 0, err
	}
	if !r.found {
		return nil, cur, nil
	}
	o, err := row(id, r.data, r.lm, r.deleted)
	return o, cur, err
}
