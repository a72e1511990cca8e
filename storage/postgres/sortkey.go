package postgres

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/nimbus-server/nimbus/storage"
)

// Sorting by a field in SQL (QRY-14: a sort on a declared index is
// answered from the index).
//
// jsonb's own order is not storage's (strings by the database's
// collation, arrays and objects by size first, an empty top-level array
// before null), so a page is not cut by ORDER BY on the field's jsonb
// value. It is ordered instead by a coarse key that storage's order never
// contradicts: the type's rank (null, strings, numbers, booleans, arrays,
// objects, missing, as storage.CompareValues), the number as a float8,
// the string compared byte by byte (COLLATE "C") and the boolean. When
// two rows' keys differ, storage orders them the same way; when they are
// equal (two arrays, two objects, numbers beyond float8's precision, or
// simply equal values), storage decides. So the rows are read in key
// order until the page is full and the key of its last row is passed,
// then the page is sorted and cut with storage's rules: the result is
// exactly the scan's. A declared field gets an index on that key
// (DeclareIndexes), which the same ORDER BY reads in order in both
// directions; without one PostgreSQL sorts the list's keys itself, which
// still spares shipping and decoding every row.

// sortKeySQL is the coarse key of the JSON value expression e, as index
// columns / ORDER BY terms. The number is clamped where float8 would
// fail (beyond its range, or too small to be told from zero), which only
// makes more keys equal.
func sortKeySQL(e string) [4]string {
	typ := "jsonb_typeof(" + e + ")"
	num := "(" + e + ")::NUMERIC"
	return [4]string{
		"(CASE " + typ + " WHEN 'null' THEN 0 WHEN 'string' THEN 1 WHEN 'number' THEN 2 WHEN 'boolean' THEN 3" +
			" WHEN 'array' THEN 4 WHEN 'object' THEN 5 ELSE 6 END)",
		"(CASE WHEN " + typ + " = 'number' THEN CASE WHEN " + num + " > 1e308 THEN 'Infinity'::FLOAT8" +
			" WHEN " + num + " < -1e308 THEN '-Infinity'::FLOAT8 WHEN abs(" + num + ") < 1e-300 THEN 0::FLOAT8" +
			" ELSE " + num + "::FLOAT8 END ELSE 0::FLOAT8 END)",
		"(CASE WHEN " + typ + " = 'string' THEN left((" + e + ") #>> '{}', " + fmt.Sprint(keyChars) + ") ELSE '' END) COLLATE \"C\"",
		"(CASE WHEN " + typ + " = 'boolean' THEN (" + e + ")::BOOLEAN ELSE FALSE END)",
	}
}

// sortIndexName is the name of the coarse-key index of a field; it
// names the index's definition too, so that a build whose key differs
// makes an index of its own (and the old one is dropped as unused).
func sortIndexName(field string) string {
	sum := sha256.Sum256([]byte(sortIndexColumns(field)))
	return "nimbus_sort_" + hex.EncodeToString(sum[:6])
}

// sortIndexColumns are the columns of a field's coarse-key index.
func sortIndexColumns(field string) string {
	expr, _ := fieldExpr(field, nil)
	k := sortKeySQL(expr)
	return `parent_id, resource_name, ` + k[0] + `, ` + k[1] + `, ` + k[2] + `, ` + k[3] + `, last_modified DESC`
}

// sortIndexSQL creates the coarse-key index of a plain path.
func sortIndexSQL(field string) string {
	return `CREATE INDEX CONCURRENTLY IF NOT EXISTS ` + sortIndexName(field) + ` ON objects (` + sortIndexColumns(field) + `)`
}

// keyChars bounds the string of a coarse key: its index entry must stay
// under PostgreSQL's 2,704 bytes (4 bytes a character at most, besides the
// parent's id). A prefix never contradicts the strings' order; two keys
// with equal prefixes leave the order to storage (settles).
const keyChars = 200

// coarseKey is a value's coarse key as Go sees it; cut tells that its
// string is the value's first keyChars characters only.
type coarseKey struct {
	rank int
	f    float64
	s    string
	b    bool
	cut  bool
}

func coarseOf(o storage.Object, field string) coarseKey {
	v, present := storage.Lookup(o, field)
	k := coarseKey{rank: storage.TypeRank(v, present)}
	switch k.rank {
	case 1:
		k.s = v.(string)
		if utf8.RuneCountInString(k.s) > keyChars {
			n := 0
			for i := range k.s {
				if n == keyChars {
					k.s, k.cut = k.s[:i], true
					break
				}
				n++
			}
		}
	case 2:
		k.f = storage.NumberFloat(v)
	case 3:
		k.b = v.(bool)
	}
	return k
}

// exactFloat tells whether SQL's float8 of the number is Go's (no clamp).
func exactFloat(f float64) bool {
	a := math.Abs(f)
	return a >= 1e-300 && a <= 1e308
}

// settles tells whether rows of equal keys are in storage's order once
// ordered by last_modified (newest first, storage's next criterion):
// when the key tells the field's values apart as storage does (not for
// arrays, objects, and numbers float8 does not hold exactly).
func (a coarseKey) settles() bool {
	switch a.rank {
	case 1:
		return !a.cut
	case 2:
		return exactFloat(a.f) && math.Abs(a.f) <= 1<<53
	case 4, 5:
		return false
	}
	return true
}

// beyond tells whether SQL's key of a comes strictly after (before, desc)
// the key of b, as far as Go can be sure of it.
func (a coarseKey) beyond(b coarseKey, desc bool) bool {
	if a.rank != b.rank {
		return (a.rank > b.rank) != desc
	}
	switch a.rank {
	case 1:
		if a.s != b.s {
			return (a.s > b.s) != desc
		}
	case 2:
		if exactFloat(a.f) && exactFloat(b.f) && a.f != b.f {
			return (a.f > b.f) != desc
		}
	case 3:
		if a.b != b.b {
			return a.b != desc
		}
	}
	return false
}

// keyedSort tells whether a list query is ordered by the coarse key of
// its first sort field: a page (with a limit) of a list of its own,
// sorted first by a field whose expression an index can hold.
func (t *pgTx) keyedSort(ref storage.Ref, q storage.Query) bool {
	if q.Limit <= 0 || len(q.Sort) == 0 || q.IDs != nil || t.selfParented(ref) {
		return false
	}
	f := q.Sort[0].Field
	return f != "id" && f != "last_modified" && sqlPath(f)
}

// listByKey reads a page in coarse-key order (see above); keep is the
// page's condition and sorts its full order.
func (t *pgTx) listByKey(ref storage.Ref, q storage.Query, sorts []storage.Sort, keep func(storage.Object) bool, rows bool) ([]storage.Object, []pageRow, error) {
	if objs, raw, ok, err := t.pageInTies(ref, q, sorts, keep, rows); ok || err != nil {
		return objs, raw, err
	}
	field, desc := q.Sort[0].Field, q.Sort[0].Desc
	expr, _ := fieldExpr(field, nil)
	k := sortKeySQL(expr)
	args := []any{ref.Parent, ref.Resource}
	base := `SELECT id, data, as_epoch(last_modified), deleted FROM objects WHERE ` + t.listCond(ref) + pushdown(q, &args)
	dir, cmp := "ASC", ">="
	if desc {
		dir, cmp = "DESC", "<="
	}
	if q.After != nil {
		// Rows before the previous page's last are skipped in SQL where
		// the key says so for sure (the rank, and the string or the
		// number within it); keep decides the rest.
		a := coarseOf(q.After, field)
		args = append(args, a.rank)
		cond := fmt.Sprintf(`%s %s $%d`, k[0], cmp, len(args))
		switch {
		case a.rank == 1:
			args = append(args, a.s)
			cond = fmt.Sprintf(`(%s, %s) %s ($%d, $%d COLLATE "C")`, k[0], k[2], cmp, len(args)-1, len(args))
		case a.rank == 2 && exactFloat(a.f):
			bound := math.Nextafter(a.f, math.Inf(-1))
			if desc {
				bound = math.Nextafter(a.f, math.Inf(1))
			}
			args = append(args, bound)
			cond = fmt.Sprintf(`(%s, %s) %s ($%d, $%d::FLOAT8)`, k[0], k[1], cmp, len(args)-1, len(args))
		}
		base += " AND " + cond
	}
	// Rows of equal keys come newest first, storage's next criterion when
	// the sort has a single field: where the key settles the field's
	// order, the page is then complete with its last row.
	base += ` ORDER BY ` + k[0] + ` ` + dir + `, ` + k[1] + ` ` + dir + `, ` + k[2] + ` ` + dir + `, ` + k[3] + ` ` + dir + `, last_modified DESC`
	byDate := len(sorts) > 1 && sorts[1].Field == "last_modified" && sorts[1].Desc
	// The limit lets the planner read the index in order (or keep the
	// top keys only); a page it cuts short is read again with a larger
	// one, then with none.
	// A page bounded in bytes first reads a few rows: pgx reads and drops
	// whatever a stopped query sent, and a page of large rows stops early
	// (listorder.go). Rows found small, the next try reads as many as a
	// page of the limit needs; found large, four times more.
	usual := 4*q.Limit + 256
	limit := usual
	if q.MaxBytes > 0 {
		limit = 2 * firstChunk
	}
	for {
		sql := base
		if limit > 0 {
			sql += fmt.Sprintf(` LIMIT %d`, limit)
		}
		var all []listed
		var last coarseKey
		full, n, done := false, 0, false
		// held counts the bytes of all; beyond and dropped tell that rows
		// after the page were found.
		held, beyond, dropped, settled := 0, false, false, false
		scannedBytes := 0
		err := t.scan(sql, args, func(o storage.Object, r pageRow) bool {
			n++
			scannedBytes += len(r.data)
			key := coarseOf(o, field)
			if full && key.beyond(last, desc) {
				done, beyond = true, true
				return false
			}
			if !keep(o) {
				return true
			}
			if settled {
				// The page is full at its bytes and its last key settles
				// the order: this row comes after it.
				done, beyond = true, true
				return false
			}
			l := listed{o: o, size: len(r.data)}
			if rows {
				l.r = r
			}
			all = append(all, l)
			held += l.size
			if q.MaxBytes > 0 && held >= 2*q.MaxBytes {
				// Rows of one key (ties) may be many: only those the
				// page may hold are kept.
				all, held = prune(all, sorts, q, &dropped)
			}
			if full {
				return true
			}
			// The page is full at its limit, or at the bytes it may hold:
			// rows of the same key may still sort before its last, the
			// rest not.
			if len(all) == q.Limit || q.MaxBytes > 0 && held >= q.MaxBytes {
				full, last = true, key
				if byDate && key.settles() {
					if len(all) == q.Limit {
						done = true
						return false
					}
					settled = true
				}
			}
			return true
		})
		if err != nil {
			return nil, nil, err
		}
		if limit > 0 && n == limit && !done {
			// The page may go on past the limit.
			switch {
			case limit < usual && scannedBytes/n*usual > 2*q.MaxBytes:
				limit *= 4
			case limit < usual:
				limit = usual
			default:
				if limit *= 16; limit > 1<<22 {
					limit = 0
				}
			}
			continue
		}
		// A row found beyond the page's last key is more after it
		// (should it pass the filters SQL cannot apply).
		out, raw := page(all, sorts, q, rows, beyond || dropped)
		return out, raw, nil
	}
}
