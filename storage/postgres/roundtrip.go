package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/nimbus-server/nimbus/storage"
)

// Write plumbing: statements sent in batched round trips, lazy savepoints,
// and the per-list advisory lock with the list timestamp it protects.

func (t *pgTx) exec(op, sql string, args ...any) error {
	return t.roundTrip(op, stmt{sql: sql, args: args})
}

// spTx is a write transaction's querier: it sends a pending savepoint
// before any statement (roundTrip sends it in its own batch instead).
type spTx struct {
	t  *pgTx
	tx txConn
}

// txConn is what spTx sends statements on: a pgx transaction, or the
// connection of a write group, whose BEGIN goes with its first round trip
// (groupconn.go).
type txConn interface {
	querier
	batcher
	copier
}

func (s spTx) flush(ctx context.Context) error {
	if s.t.busy {
		return errLockBusy
	}
	return s.t.roundTrip("write")
}

// CopyFrom sends what is pending, then copies rows in (copier).
func (s spTx) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	if err := s.flush(ctx); err != nil {
		return 0, err
	}
	return s.tx.CopyFrom(ctx, table, columns, src)
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
	if err := s.t.settle(); err != nil {
		return errBatch{err}
	}
	return s.tx.SendBatch(ctx, b)
}

// lock serialises the writers of one list, across instances, until the
// transaction ends.
func (t *pgTx) lock(ref storage.Ref) error {
	if st, ok := t.lockStmt(ref); ok {
		if err := t.roundTrip("lock", st); err != nil {
			return err
		}
		t.markLocked(ref)
	}
	return nil
}

// lockKey names ref's list in advisory locks and in pgTx.locked.
func lockKey(ref storage.Ref) string { return ref.Parent + " " + ref.Resource }

// lockStmt is the statement taking ref's lock, unless it is held already,
// for a call that wants that lock now.
func (t *pgTx) lockStmt(ref storage.Ref) (stmt, bool) {
	t.learnLock(ref)
	return t.takeLockStmt(ref)
}

// takeLockStmt is lockStmt without the learning (locknext.go).
func (t *pgTx) takeLockStmt(ref storage.Ref) (stmt, bool) {
	key := lockKey(ref)
	if _, held := t.locked[key]; held {
		return stmt{}, false
	}
	if t.tryLocks {
		// A later member of a write group never waits (combine.go).
		return stmt{sql: `SELECT pg_try_advisory_xact_lock(hashtextextended($1, 7))`, args: []any{key}, scan: t.scanTry}, true
	}
	return stmt{sql: `SELECT pg_advisory_xact_lock(hashtextextended($1, 7))`, args: []any{key}}, true
}

// scanTry reads the answer of a lock's try: one another transaction holds
// makes the call busy.
func (t *pgTx) scanTry(r pgx.Row) error {
	var got bool
	if err := r.Scan(&got); err != nil {
		return err
	}
	if !got {
		t.busy = true
		return errLockBusy
	}
	return nil
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
// statement returns none). sp numbers a SAVEPOINT statement.
type stmt struct {
	sql  string
	args []any
	scan func(pgx.Row) error
	// kind and ref let the last round trip merge statements
	// (coalesce.go).
	kind stmtKind
	ref  storage.Ref
}

// batcher is a transaction that sends several statements at once.
type batcher interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// roundTrip runs statements in order, in one round trip when the
// connection allows it, and returns the first error.
func (t *pgTx) roundTrip(op string, stmts ...stmt) (err error) {
	if t.busy {
		return errLockBusy
	}
	if err := t.settle(); err != nil {
		return err
	}
	if len(t.queued) > 0 || t.virtual() {
		stmts = append(t.outgoing(false), stmts...)
	}
	if t.carried {
		t.carried = false
		defer func() {
			if err != nil && !errors.Is(err, errLockBusy) {
				t.poisoned = true
			}
		}()
	}
	if len(stmts) == 0 {
		return nil
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
				var cc *createConflict
				if errors.As(err, &cc) {
					return t.conflict(cc)
				}
				return wrap(op, err)
			}
		}
		return nil
	}
	b := &pgx.Batch{}
	for _, st := range stmts {
		b.Queue(st.sql, st.args...)
	}
	first := collect(sb.SendBatch(t.ctx, b), stmts)
	var cc *createConflict
	if errors.As(first, &cc) {
		return t.conflict(cc)
	}
	return wrap(op, first)
}

// collect reads the answers of a batch's statements in order and returns
// the first error.
func collect(br pgx.BatchResults, stmts []stmt) error {
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
	return first
}

// createConflict is a queued creation that found its id taken.
type createConflict struct {
	ref storage.Ref
	id  string
}

func (c *createConflict) Error() string { return "postgres: id " + c.id + " exists" }

// conflict turns a createConflict into the UnicityError Create returns.
func (t *pgTx) conflict(c *createConflict) error {
	existing, err := t.stored(c.ref, c.id, false)
	if err != nil {
		return err
	}
	return &storage.UnicityError{Field: "id", Existing: existing}
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
		ts, ok := lookup(t.cache, stampsOf, list)
		if !ok {
			gen := t.cache.gen.Load()
			if err := t.roundTrip("timestamp", t.listTSStmt(ref, &ts)); err != nil {
				return 0, err
			}
			keep(t.cache, stampsOf, list, ts, gen)
		}
		if t.seenTS == nil {
			t.seenTS = map[string]int64{}
		}
		t.seenTS[list] = ts
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
			if !t.selfParented(ref) {
				// A timestamp noted but not written yet counts too.
				if p := t.stamps[listKey{ref.Parent, ref.Resource}]; p > *dst {
					*dst = p
				}
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
	return stampStmt(listKey{t.rowParent(ref, id), ref.Resource}, ts)
}

// lockAndRead takes ref's lock (unless held), locks and reads the stored
// row of id and the list timestamp, in one round trip.
func (t *pgTx) lockAndRead(ref storage.Ref, id string) (storage.Object, int64, error) {
	if o, cur, ok, err := t.takePrefetched(ref, id); ok {
		return o, cur, err
	}
	if t.tryLocks {
		// The try goes alone: the row lock read below could otherwise
		// wait for the list's holder.
		if err := t.lock(ref); err != nil {
			return nil, 0, err
		}
	}
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
		stmts = append(stmts, t.lockNext(ref)...)
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
