package postgres

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/nimbus-server/nimbus/storage"
)

// scan runs a query returning (id, data, epoch, deleted) rows and hands
// each object to fn until it returns false.
func (t *pgTx) scan(sql string, args []any, fn func(storage.Object, pageRow) bool) error {
	rows, err := t.tx.Query(t.ctx, sql, oneOff(sql, args)...)
	if err != nil {
		return wrap("list", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var data []byte
		var lm int64
		var deleted bool
		if err := rows.Scan(&id, &data, &lm, &deleted); err != nil {
			return wrap("list", err)
		}
		o, err := row(id, data, lm, deleted)
		if err != nil {
			return err
		}
		if !fn(o, pageRow{id: id, cachedRow: cachedRow{found: true, data: data, lm: lm, deleted: deleted}}) {
			break
		}
	}
	return wrap("list", rows.Err())
}

// maxPreparedSQL is the longest list statement kept prepared. pgx
// prepares each statement it is given and keeps it on its connection
// (512 a connection), and PostgreSQL keeps the statement's plan in the
// backend's memory, about thirty times the statement's text: a list
// statement is shaped by its query (filters on dotted paths write long
// expressions), so clients choosing their queries could fill every
// backend with plans of megabytes. A longer statement is sent once,
// unnamed, and nothing of it is kept on either side.
const maxPreparedSQL = 4096

// oneOff returns the arguments of a list statement: with pgx's mode for
// statements not kept when the statement is longer than maxPreparedSQL
// (the parameters' types then follow their Go types, which the
// statements cast where it matters).
func oneOff(sql string, args []any) []any {
	if len(sql) <= maxPreparedSQL {
		return args
	}
	return append([]any{pgx.QueryExecModeExec}, args...)
}

// exactInSQL tells whether pushdown answers every filter exactly, so
// that SQL can apply the limit itself.
func exactInSQL(q storage.Query) bool {
	fields := 0
	for _, f := range q.Filters {
		switch {
		case f.Field == "last_modified" && (f.Op == storage.OpGt || f.Op == storage.OpLt || f.Op == storage.OpMin || f.Op == storage.OpMax):
			if _, ok := storage.Int(f.Value); !ok {
				return false
			}
		case f.Op == storage.OpEq && !strings.Contains(f.Field, ".") && f.Field != "id" && f.Field != "last_modified" && f.Field != "deleted":
			if fields++; fields > maxPushed {
				return false
			}
			switch f.Value.(type) {
			case string, bool:
			default:
				return false
			}
		default:
			return false
		}
	}
	return true
}

// plainField matches the field names written into SQL as literals (the
// expression of a declared index, which the planner matches as written);
// others are sent as parameters. plainPath adds the dots of nested
// fields.
var (
	plainField = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)
	plainPath  = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
)

// maxSQLSegments is the deepest dotted path written as SQL. lookupExpr
// writes out every way storage.Lookup may walk a path, about twice as
// many for each segment more: 1.2 kB for four segments, 14 MB for
// sixteen (a query string of 31 characters), so a deeper path is left to
// storage.Match, which walks one way.
const maxSQLSegments = 4

// sqlPath tells whether a field has an SQL expression holding no
// parameter, so that it can have a declared index and a coarse-key
// order: a plain path of at most 256 characters and maxSQLSegments
// segments.
func sqlPath(field string) bool {
	return len(field) <= 256 && strings.Count(field, ".") < maxSQLSegments && plainPath.MatchString(field)
}

// fieldExpr is the SQL of a field's JSON value, SQL NULL when the object
// has none: a top-level field's, or a dotted path's as storage.Lookup
// finds it (lookupExpr). A path that is not plain has no expression
// (ok false): its filters are left to storage.Match. A top-level name
// that is not plain is sent as a parameter through add; without add (an
// index's definition holds no parameter) it has no expression either.
func fieldExpr(field string, add func(any) string) (string, bool) {
	switch {
	case plainField.MatchString(field):
		return "data -> '" + field + "'", true
	case !strings.Contains(field, ".") && add != nil:
		return "data -> " + add(field), true
	case sqlPath(field):
		return lookupExpr("data", field), true
	}
	return "", false
}

// lookupExpr is the SQL of storage.Lookup(base, path) for a dotted path:
// a key holding the whole path first, then the longest prefix that is a
// key, walked into when it holds an object (and nothing otherwise, with
// no shorter prefix tried). One expression, so that a declared index can
// be built on it and the planner finds it in a query's conditions.
func lookupExpr(base, path string) string {
	sql := "CASE WHEN " + base + " ? '" + path + "' THEN " + base + " -> '" + path + "'"
	for i := len(path) - 1; i > 0; i-- {
		if path[i] != '.' {
			continue
		}
		sub := "(" + base + " -> '" + path[:i] + "')"
		sql += " WHEN " + base + " ? '" + path[:i] + "' THEN CASE WHEN jsonb_typeof(" + sub + ") = 'object' THEN " +
			lookupExpr(sub, path[i+1:]) + " END"
	}
	return sql + " END"
}

// Index entries of declared fields are bounded: PostgreSQL refuses a
// B-tree entry over 2,704 bytes, and the index of a field covers every
// row (a record of any collection, a history entry whose target is a
// whole record), so a large value there would make that row unwritable.
// A value whose JSON text is over indexedChars bytes (its binary form is
// at most about six times that, for an array of small numbers) is
// indexed as largeValue, an object, which no scalar a filter compares
// equals: equality and in_ of small values (paramChars of JSON text at
// most, and no exponent, which PostgreSQL writes out in full) read the
// bounded expression exactly; other values read the value itself (no
// index); numeric ranges also take the rows indexed as largeValue, which
// storage.Match then checks. Missing fields stay NULL.
const (
	indexedChars = 256
	paramChars   = 200
	largeValue   = `'{"nimbus": "a value too large for an index"}'::JSONB`
)

// boundedExpr is the expression of a declared field's index.
func boundedExpr(expr string) string {
	return "(CASE WHEN octet_length((" + expr + ")::TEXT) > " + fmt.Sprint(indexedChars) + " THEN " + largeValue + " ELSE " + expr + " END)"
}

// smallJSON tells whether PostgreSQL indexes a scalar's JSON text j as
// itself (boundedExpr): a number written with an exponent is written out
// in full by PostgreSQL.
func smallJSON(j string) bool {
	if len(j) > paramChars {
		return false
	}
	return strings.HasPrefix(j, `"`) || j == "true" || j == "false" || j == "null" || !strings.ContainsAny(j, "eE")
}

// scalarJSON returns the JSON of a string, number, boolean or null.
func scalarJSON(v any) (string, bool) {
	switch v.(type) {
	case nil, string, bool, json.Number, float64, int64, int:
		b, err := storage.AppendJSON(nil, v)
		return string(b), err == nil
	}
	return "", false
}

// maxPushed bounds the filters on fields that pushdown writes into a
// statement; the others are left to storage.Match. A statement's plan
// takes the server's memory in proportion to its text (about 18 kB for
// each range condition), and pgx keeps a prepared statement for each
// query shape on every connection: 2,000 range filters held 36 MB of a
// backend's memory for each distinct query, which clients choosing the
// field names could repeat until the server ran out. The first few
// filters narrow the rows as well as all of them would, in practice.
const maxPushed = 8

// pushdown turns filters on top-level fields into conditions SQL can use
// (with a declared index, QRY-14): equality and in_ of strings, numbers,
// booleans and null, numeric ranges (jsonb orders types as storage
// does: null, strings, numbers, booleans, arrays, objects), and time
// bounds. Rows are still checked by storage.Match: a condition narrows,
// the rules decide (exactInSQL says when SQL alone is exact).
func pushdown(q storage.Query, args *[]any) string {
	var conds []string
	add := func(v any) string { *args = append(*args, v); return fmt.Sprintf("$%d", len(*args)) }
	lo, hi := storage.TimeBounds(q.Filters)
	if lo > 0 {
		conds = append(conds, "last_modified >= from_epoch("+add(lo)+")")
	}
	if hi < math.MaxInt64 {
		conds = append(conds, "last_modified <= from_epoch("+add(hi)+")")
	}
	pushed := 0
	for _, f := range q.Filters {
		if f.Field == "id" || f.Field == "last_modified" || f.Field == "deleted" {
			continue
		}
		if pushed++; pushed > maxPushed {
			break
		}
		// A field name sent as a parameter is taken back when the
		// filter adds no condition: PostgreSQL refuses a statement with
		// a parameter it does not use.
		mark, n := len(*args), len(conds)
		if expr, ok := fieldExpr(f.Field, add); ok {
			conds = fieldCond(conds, f, expr, add)
		}
		if len(conds) == n {
			*args = (*args)[:mark]
		}
	}
	if !q.IncludeDeleted {
		conds = append(conds, "NOT deleted")
	}
	if len(conds) == 0 {
		return ""
	}
	return " AND " + strings.Join(conds, " AND ")
}

// fieldCond appends the condition, if any, that narrows the rows to
// those f may match, expr being the field's value.
func fieldCond(conds []string, f storage.Filter, expr string, add func(any) string) []string {
	switch f.Op {
	case storage.OpEq:
		if j, ok := scalarJSON(f.Value); ok {
			e := expr
			if smallJSON(j) {
				e = boundedExpr(expr)
			}
			conds = append(conds, e+" = "+add(j)+"::JSONB")
		}
	case storage.OpIn:
		list, _ := f.Value.([]any)
		var js []string
		e := boundedExpr(expr)
		for _, v := range list {
			if j, ok := scalarJSON(v); ok {
				js = append(js, j)
				if !smallJSON(j) {
					e = expr
				}
			} else {
				js = nil
				break
			}
		}
		if len(js) > 0 {
			conds = append(conds, e+" = ANY("+add(js)+"::JSONB[])")
		}
	case storage.OpMin, storage.OpMax, storage.OpLt, storage.OpGt:
		if _, isNum := storage.Int(f.Value); !isNum {
			return conds // strings compare by collation in SQL, floats round: left to Match
		}
		j, _ := scalarJSON(f.Value)
		op := map[storage.Op]string{storage.OpMin: ">=", storage.OpMax: "<=", storage.OpLt: "<", storage.OpGt: ">"}[f.Op]
		e := boundedExpr(expr)
		cond := "(" + e + " " + op + " " + add(j) + "::JSONB OR " + e + " = " + largeValue
		if f.Op == storage.OpMin || f.Op == storage.OpGt {
			// jsonb sorts an empty top-level array before null (for
			// historical reasons), storage after every number; a
			// missing field comes after every value.
			cond += " OR " + e + " = '[]'::JSONB OR " + e + " IS NULL"
		}
		cond += ")"
		conds = append(conds, cond)
	}
	return conds
}

// List answers a page of a read-only transaction from the cache when it
// can (listcache.go), else from the database.
func (t *pgTx) List(ref storage.Ref, q storage.Query) ([]storage.Object, error) {
	if t.pageCached(ref, q) {
		return t.cachedList(ref, q)
	}
	objs, _, err := t.listNow(ref, q, false)
	return objs, err
}

// listNow reads a page from the database; with rows, it also returns the
// stored rows of the page, in its order.
func (t *pgTx) listNow(ref storage.Ref, q storage.Query, rows bool) ([]storage.Object, []pageRow, error) {
	sorts := storage.FullSort(q.Sort)
	keep := func(o storage.Object) bool {
		if storage.IsDeleted(o) && !q.IncludeDeleted {
			return false
		}
		return storage.Match(o, q.Filters) && (q.After == nil || storage.Compare(o, q.After, sorts) > 0)
	}
	if t.keyedSort(ref, q) {
		return t.listByKey(ref, q, sorts, keep, rows)
	}
	args := []any{ref.Parent, ref.Resource}
	base := `SELECT id, data, as_epoch(last_modified), deleted FROM objects WHERE ` + t.listCond(ref)
	if q.IDs != nil {
		args = append(args, q.IDs)
		base += ` AND id = ANY($3)`
	}
	base += pushdown(q, &args)
	indexOrder := len(sorts) == 2 && sorts[0].Field == "last_modified" && sorts[1].Field == "id" && sorts[0].Desc == sorts[1].Desc
	if indexOrder && q.IDs == nil {
		return t.listInOrder(ref, q, sorts[0].Desc, keep, rows, base, args, 0)
	}
	var all []listed
	held, dropped := 0, false
	err := t.scan(base, args, func(o storage.Object, r pageRow) bool {
		if keep(o) {
			l := listed{o: o, size: len(r.data)}
			if rows {
				l.r = r
			}
			all = append(all, l)
			held += l.size
			if q.Limit > 0 && len(all) > 4*q.Limit+256 || q.MaxBytes > 0 && held >= 2*q.MaxBytes {
				all, held = prune(all, sorts, q, &dropped)
			}
		}
		return true
	})
	out, raw := page(all, sorts, q, rows, dropped)
	return out, raw, err
}

// page sorts listed objects with storage's rules and cuts them to the
// limit and to q.MaxBytes; with rows, it also returns their stored rows,
// in that order. more tells that objects after them were left out
// already.
func page(all []listed, sorts []storage.Sort, q storage.Query, rows, more bool) ([]storage.Object, []pageRow) {
	all, dropped := topK(all, sorts, q)
	// topK has ended the page at the bound already: CutPage reports it.
	q.CutPage(len(all), func(i int) int { return all[i].size }, more || dropped)
	out := make([]storage.Object, len(all))
	var raw []pageRow
	for i, l := range all {
		out[i] = l.o
		if rows {
			raw = append(raw, l.r)
		}
	}
	return out, raw
}

// listed is an object of a page with its stored row.
type listed struct {
	o storage.Object
	r pageRow
	// size is the stored JSON's, counted against Query.MaxBytes.
	size int
}

// prune keeps of all what a page of q may hold (topK), noting in dropped
// that objects after it were left out, and returns their stored bytes.
func prune(all []listed, sorts []storage.Sort, q storage.Query, dropped *bool) ([]listed, int) {
	all, more := topK(all, sorts, q)
	*dropped = *dropped || more
	held := 0
	for _, l := range all {
		held += l.size
	}
	return all, held
}

// topK sorts objects with storage's rules and keeps those a page of q
// may hold: the first q.Limit, and of those the first whose stored bytes
// reach q.MaxBytes (a list of large objects sorted by a field would
// otherwise be held whole while it sorts); dropped tells whether any was
// left out for the bytes.
func topK(objs []listed, sorts []storage.Sort, q storage.Query) (_ []listed, dropped bool) {
	return storage.TopPage(objs, sorts, q, func(l listed) storage.Object { return l.o }, func(l listed) int { return l.size })
}

func (t *pgTx) Count(ref storage.Ref, filters []storage.Filter, includeDeleted bool) (int, error) {
	if t.selfParented(ref) || t.tc.touchesList(ref) || !t.cached() {
		return t.countNow(ref, filters, includeDeleted)
	}
	// Counts (Total-Records of every page) are cached per list and filter
	// set; any change of a row of the list drops them all.
	list, key := listID(ref.Resource, ref.Parent), countKey(filters, includeDeleted)
	if n, ok := t.cache.count(list, key); ok {
		return n, nil
	}
	gen := t.cache.gen.Load()
	n, err := t.countNow(ref, filters, includeDeleted)
	if err == nil {
		t.cache.keepCount(list, key, n, gen)
	}
	return n, err
}

// countKey names a filter set within a list's counts.
func countKey(filters []storage.Filter, includeDeleted bool) string {
	b := []byte{'0'}
	if includeDeleted {
		b[0] = '1'
	}
	for _, f := range filters {
		b = append(b, 0)
		b = append(b, f.Field...)
		b = append(b, 0)
		b = append(b, fmt.Sprint(f.Op)...)
		b = append(b, 0)
		b, _ = storage.AppendJSON(b, f.Value)
	}
	return string(b)
}

func (t *pgTx) countNow(ref storage.Ref, filters []storage.Filter, includeDeleted bool) (int, error) {
	q := storage.Query{Filters: filters, IncludeDeleted: includeDeleted}
	if exactInSQL(q) {
		// Every filter is answered in SQL (none at all, say): count there.
		var n int
		args := []any{ref.Parent, ref.Resource}
		sql := `SELECT COUNT(*) FROM objects WHERE ` + t.listCond(ref) + pushdown(q, &args)
		err := t.tx.QueryRow(t.ctx, sql, oneOff(sql, args)...).Scan(&n)
		return n, wrap("count", err)
	}
	// Some filter is left to storage.Match: count the rows it keeps as
	// they arrive. Reading them as a list would hold every match in
	// memory at once (a HEAD of 50,000 records of 2 kB held about
	// 170 MB; sixteen at once took the process to 2.9 GB).
	args := []any{ref.Parent, ref.Resource}
	sql := `SELECT id, data, as_epoch(last_modified), deleted FROM objects WHERE ` + t.listCond(ref) + pushdown(q, &args)
	n := 0
	err := t.scan(sql, args, func(o storage.Object, _ pageRow) bool {
		if (includeDeleted || !storage.IsDeleted(o)) && storage.Match(o, filters) {
			n++
		}
		return true
	})
	return n, err
}
