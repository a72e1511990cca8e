package postgres

import (
	"fmt"

	"github.com/nimbus-server/nimbus/storage"
)

// firstChunk is how many rows the first query of a page in the list's
// order reads when the page is bounded in bytes (Query.MaxBytes) and may
// be long; each next query reads four times more, from the last row read.
// A page that stops before its query's last row leaves pgx to read and
// drop the rest of the rows sent: with one query of storage_max_fetch_size
// rows, a page of three 7 MB records drained the fifty-seven after them
// (1.3 s a page, where the page itself took 0.3 s).
const firstChunk = 4

// listInOrder reads a page in last_modified order (desc or not) from
// base, the list's query without its order, in queries of growing size
// when the page is bounded in bytes and may be long, or in one query of
// the page's limit. chunk, when not 0, is the first query's size where
// the page's limit cannot be SQL's (filters SQL cannot apply): the next
// ones read four times more.
//
// Within one list last_modified is unique (a unique index says so), so
// it orders the list alone and the plan is the index's order cut by the
// limit, whatever the planner's statistics (none yet right after a bulk
// write). Self-parented rows are lists of one each and need the id too.
// A read-only transaction's queries each see the database as it is (no
// snapshot across them), so a page read in several queries is as
// consistent as two pages are.
func (t *pgTx) listInOrder(ref storage.Ref, q storage.Query, desc bool, keep func(storage.Object) bool, rows bool, base string, args []any, chunk int) ([]storage.Object, []pageRow, error) {
	dir, cmp := "ASC", ">"
	if desc {
		dir, cmp = "DESC", "<"
	}
	unique := !t.selfParented(ref)
	var afterTS int64
	var afterID string
	hasAfter := false
	if q.After != nil {
		if ts, ok := storage.Int(q.After["last_modified"]); ok {
			afterTS, afterID, hasAfter = ts, storage.ID(q.After), true
		}
	}
	// limit is the SQL limit of the page (0: none, filters SQL cannot
	// apply are checked here).
	limit := 0
	if q.Limit > 0 && exactInSQL(q) {
		limit = q.Limit
	}
	if q.MaxBytes > 0 && (q.Limit <= 0 || q.Limit > 4*firstChunk) {
		chunk = firstChunk
	}
	var out []storage.Object
	var raw []pageRow
	pb, more := q.PageBytes(), false
	for {
		sql, qargs := base, args
		if hasAfter {
			if unique {
				qargs = append(qargs[:len(qargs):len(qargs)], afterTS)
				sql += fmt.Sprintf(` AND last_modified %s from_epoch($%d)`, cmp, len(qargs))
			} else {
				qargs = append(qargs[:len(qargs):len(qargs)], afterTS, afterID)
				sql += fmt.Sprintf(` AND (last_modified, id) %s (from_epoch($%d), $%d)`, cmp, len(qargs)-1, len(qargs))
			}
		}
		if unique {
			sql += ` ORDER BY last_modified ` + dir
		} else {
			sql += fmt.Sprintf(` ORDER BY last_modified %s, id %s`, dir, dir)
		}
		n := limit
		if limit > 0 {
			// Rows already kept count towards the page's limit.
			n = limit - len(out)
		}
		if chunk > 0 && (n == 0 || chunk < n) {
			n = chunk
		}
		if n > 0 {
			sql += fmt.Sprintf(` LIMIT %d`, n)
		}
		scanned, stopped := 0, false
		err := t.scan(sql, qargs, func(o storage.Object, r pageRow) bool {
			scanned++
			afterTS, afterID, hasAfter = r.lm, r.id, true
			if keep(o) {
				if more = pb.Full(); more {
					stopped = true
					return false
				}
				out = append(out, o)
				if rows {
					raw = append(raw, r)
				}
				pb.Add(len(r.data))
			}
			if q.Limit > 0 && len(out) >= q.Limit {
				stopped = true
				return false
			}
			return true
		})
		if err != nil {
			return nil, nil, err
		}
		if stopped || chunk == 0 || scanned < n {
			break
		}
		chunk *= 4
	}
	pb.Report(q, len(out), more)
	return out, raw, nil
}
