package postgres

import (
	"fmt"

	"github.com/nimbus-server/nimbus/storage"
)

// Deep pages within a run of ties. A list sorted by a field of few values
// (a boolean, a status, a field most records lack) holds long runs of rows
// of one key. listByKey finds a page after the previous one's last row by
// reading from the first row of that row's key, Go dropping those before
// it, so a client paging through 10,000 ties re-read the run from its
// start on every page (the 60th page of 100 took five times the first).
//
// When the key settles the order (coarseKey.settles) and the sort has one
// field, its next criterion is last_modified, newest first, unique within
// a list: the rows after the previous page's last within its key are the
// rows of that key with an older last_modified, one range of the key's
// index (the key's columns, then last_modified DESC), read from where the
// page starts. When they fill the page, the page is theirs; when the run
// ends first, the page crosses into the next key and is read as before.

// maxEpoch bounds the last_modified a page may start after in SQL
// (from_epoch's TIMESTAMP ends in the year 294276); beyond, the page is
// read as before.
const maxEpoch = 1e15

// pageInTies reads the page of q from the rows of the previous page's
// last key (q.After's) that come after it; ok is false when it could not
// (the key does not settle the order, the sort has more fields, the run
// ends before the page is full, or the page is ended by its bytes), and
// listByKey reads the page.
func (t *pgTx) pageInTies(ref storage.Ref, q storage.Query, sorts []storage.Sort, keep func(storage.Object) bool, rows bool) (_ []storage.Object, _ []pageRow, ok bool, _ error) {
	if q.After == nil || q.Limit <= 0 || len(sorts) < 2 || sorts[1].Field != "last_modified" || !sorts[1].Desc {
		return nil, nil, false, nil
	}
	field := q.Sort[0].Field
	a := coarseOf(q.After, field)
	afterTS, hasTS := storage.Int(q.After["last_modified"])
	if !a.settles() || !hasTS || afterTS <= 0 || afterTS > maxEpoch {
		return nil, nil, false, nil
	}
	expr, _ := fieldExpr(field, nil)
	k := sortKeySQL(expr)
	args := []any{ref.Parent, ref.Resource}
	base := `SELECT id, data, as_epoch(last_modified), deleted FROM objects WHERE ` + t.listCond(ref) + pushdown(q, &args)
	// The key's columns are compared to the values SQL gives a value of
	// a's kind (sortKeySQL): 0 for a number column of a string, and so on.
	var f float64
	var s string
	var b bool
	switch a.rank {
	case 1:
		s = a.s
	case 2:
		f = a.f
	case 3:
		b = a.b
	}
	args = append(args, a.rank, f, s, b)
	n := len(args)
	base += fmt.Sprintf(` AND %s = $%d AND %s = $%d::FLOAT8 AND %s = $%d AND %s = $%d`, k[0], n-3, k[1], n-2, k[2], n-1, k[3], n)
	args = append(args, afterTS)
	from := len(args)
	// A page bounded in bytes reads a few rows first, then four times
	// more, as listInOrder does: pgx drains what a stopped query sent.
	chunk := q.Limit
	if q.MaxBytes > 0 && chunk > 2*firstChunk {
		chunk = 2 * firstChunk
	}
	var all []listed
	held := 0
	for {
		sql := base + fmt.Sprintf(` AND last_modified < from_epoch($%d) ORDER BY last_modified DESC LIMIT %d`, from, chunk)
		read, complete, large := 0, false, false
		err := t.scan(sql, args, func(o storage.Object, r pageRow) bool {
			read++
			args[from-1] = r.lm
			if !keep(o) {
				return true // a filter SQL could not apply
			}
			l := listed{o: o, size: len(r.data)}
			if rows {
				l.r = r
			}
			all = append(all, l)
			held += l.size
			complete = len(all) == q.Limit
			// A page ended by its bytes must know whether a row follows
			// its last (Query.Cut), which may be of the next key.
			large = q.MaxBytes > 0 && held >= q.MaxBytes
			return !complete && !large
		})
		if err != nil || large {
			return nil, nil, false, err
		}
		if complete {
			// These are the first rows after q.After, in order; more may
			// follow them.
			out, raw := page(all, sorts, q, rows, true)
			return out, raw, true, nil
		}
		if read < chunk {
			return nil, nil, false, nil // the run ends within the page
		}
		if chunk *= 4; chunk > q.Limit {
			chunk = q.Limit
		}
	}
}
