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
// page starts as a page in the list's order is (listInOrder). When they
// fill the page, the page is theirs; when the run ends first, the page
// crosses into the next key and is read as before.

// maxEpoch bounds the last_modified a page may start after in SQL
// (from_epoch's TIMESTAMP ends in the year 294276); beyond, the page is
// read as before.
const maxEpoch = 1e15

// pageInTies reads the page of q from the rows of the previous page's
// last key (q.After's) that come after it; ok is false when it could not
// (the key does not settle the order, the sort has more fields, or the
// run ends before the page is full), and listByKey reads the page.
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
	// The run's rows come newest first after q.After's (listorder.go),
	// in queries of the page's limit where SQL cannot apply it.
	var cut bool
	qq := q
	qq.Cut = &cut
	objs, raw, err := t.listInOrder(ref, qq, true, keep, rows, base, args, q.Limit)
	if err != nil {
		return nil, nil, false, err
	}
	if len(objs) < q.Limit && !cut {
		// The run ended before the page was full, or right after a page
		// ended by its bytes: what follows is of the next key.
		return nil, nil, false, nil
	}
	if q.Cut != nil {
		*q.Cut = cut
	}
	return objs, raw, true, nil
}
