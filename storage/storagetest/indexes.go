package storagetest

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/storage"
)

// testIndexesModel is the model-based test of declared indexes
// (QRY-14): random records (numbers, strings, booleans, nulls, arrays,
// objects, missing and nested fields) and random filters, sorts and
// pages are answered by the backend with its indexes and by a model (all
// objects read without filters, then filtered, sorted and cut with
// storage's own rules); both must agree exactly, before the indexes are
// declared, after, and after random updates and deletes.
func testIndexesModel(t *testing.T, b storage.Backend) {
	ix, ok := b.(storage.Indexer)
	if !ok {
		t.Skip("this backend keeps no declared indexes")
	}
	rng := rand.New(rand.NewSource(42))
	// Values too large for an index entry as they are (PostgreSQL keeps
	// a bounded form, and a string key of 200 characters): long strings
	// alike up to past that, long numbers, one written with an exponent,
	// a long array.
	long := strings.Repeat("p", 210)
	var ones []any
	for i := 0; i < 150; i++ {
		ones = append(ones, json.Number("1"))
	}
	large := []any{long, long + "a", long + "b", "q" + long, json.Number("9" + strings.Repeat("0", 299)),
		json.Number("-" + strings.Repeat("7", 300)), json.Number("1e300"), ones}
	values := func() any {
		switch rng.Intn(12) {
		case 10:
			return large[rng.Intn(len(large))]
		case 0:
			return nil
		case 1, 2:
			return json.Number(fmt.Sprint(rng.Intn(20)))
		case 3:
			return json.Number(fmt.Sprintf("%d.5", rng.Intn(20)-10))
		case 4, 5:
			return []string{"a", "b", "c", "x-1", "Zed", ""}[rng.Intn(6)]
		case 6:
			return rng.Intn(2) == 0
		case 7:
			if rng.Intn(2) == 0 {
				return []any{} // jsonb sorts it before null
			}
			return []any{json.Number("1"), "a"}
		case 8:
			return map[string]any{"k": json.Number(fmt.Sprint(rng.Intn(3)))}
		case 9:
			return json.Number("-3")
		}
		return "b"
	}
	record := func(i int) storage.Object {
		o := storage.Object{"id": fmt.Sprintf("r%03d", i)}
		for _, f := range []string{"n", "s", "m", "x y", "é"} {
			if rng.Intn(5) > 0 {
				o[f] = values()
			}
		}
		switch rng.Intn(8) {
		case 0:
			// Not an object: a dotted path finds nothing under it.
			o["owner"] = "nobody"
		case 1, 2, 3, 4, 5:
			o["owner"] = map[string]any{"email": []string{"a@x", "b@x", "c@x"}[rng.Intn(3)], "n": json.Number(fmt.Sprint(rng.Intn(4)))}
		}
		if rng.Intn(3) == 0 {
			// Deeper than backends may write a path's expression.
			o["p"] = map[string]any{"q": map[string]any{"r": map[string]any{"s": map[string]any{"t": values()}}}}
		}
		if rng.Intn(6) == 0 {
			// A key holding the whole dotted path is found first.
			o["owner.email"] = []string{"a@x", "z@x"}[rng.Intn(2)]
		}
		return o
	}
	update(t, b, func(tx storage.Tx) error {
		for i := 0; i < 120; i++ {
			if _, err := tx.Create(recs, record(i)); err != nil {
				return err
			}
		}
		return nil
	})
	// Names that are not plain ("x y", "é") reach SQL as parameters;
	// like_, has_, contains_ and exclude_ add no condition there.
	ops := []storage.Op{storage.OpEq, storage.OpEq, storage.OpIn, storage.OpMin, storage.OpMax, storage.OpLt, storage.OpGt, storage.OpNot,
		storage.OpLike, storage.OpHas, storage.OpContains, storage.OpContainsAny, storage.OpExclude}
	fields := []string{"n", "s", "m", "owner.email", "owner.n", "x y", "é", "p.q.r.s.t"}
	query := func() storage.Query {
		var q storage.Query
		for j := rng.Intn(3); j >= 0; j-- {
			f := storage.Filter{Field: fields[rng.Intn(len(fields))], Op: ops[rng.Intn(len(ops))], Value: values()}
			switch f.Op {
			case storage.OpIn, storage.OpExclude, storage.OpContains, storage.OpContainsAny:
				f.Value = []any{values(), values()}
			case storage.OpLike:
				f.Value = []string{"a", "*b*", "x-1", "z*"}[rng.Intn(4)]
			case storage.OpHas:
				f.Value = rng.Intn(2) == 0
			}
			if rng.Intn(4) == 0 && f.Field == "owner.email" {
				f.Value = []string{"a@x", "b@x"}[rng.Intn(2)]
			}
			q.Filters = append(q.Filters, f)
		}
		if rng.Intn(2) == 0 {
			q.Sort = []storage.Sort{{Field: fields[rng.Intn(len(fields))], Desc: rng.Intn(2) == 0}}
		}
		if rng.Intn(2) == 0 {
			q.Limit = 1 + rng.Intn(7)
		}
		q.IncludeDeleted = rng.Intn(4) == 0
		return q
	}
	model := func(q storage.Query) ([]string, int) {
		var all []storage.Object
		err := b.View(ctx, func(tx storage.Tx) (err error) {
			all, err = tx.List(recs, storage.Query{IncludeDeleted: true})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		sorts := storage.FullSort(q.Sort)
		var out []storage.Object
		count := 0
		for _, o := range all {
			if storage.IsDeleted(o) && !q.IncludeDeleted {
				continue
			}
			if !storage.Match(o, q.Filters) {
				continue
			}
			count++
			if q.After == nil || storage.Compare(o, q.After, sorts) > 0 {
				out = append(out, o)
			}
		}
		sort.SliceStable(out, func(i, j int) bool { return storage.Compare(out[i], out[j], sorts) < 0 })
		if q.Limit > 0 && len(out) > q.Limit {
			out = out[:q.Limit]
		}
		ids := make([]string, len(out))
		for i, o := range out {
			ids[i] = storage.ID(o)
		}
		return ids, count
	}
	check := func(stage string) {
		for i := 0; i < 150; i++ {
			q := query()
			want, wantCount := model(q)
			var got []storage.Object
			var gotCount int
			err := b.View(ctx, func(tx storage.Tx) (err error) {
				if got, err = tx.List(recs, q); err != nil {
					return err
				}
				gotCount, err = tx.Count(recs, q.Filters, q.IncludeDeleted)
				return err
			})
			if err != nil {
				t.Fatalf("%s: %+v: %v", stage, q, err)
			}
			ids := make([]string, len(got))
			for i, o := range got {
				ids[i] = storage.ID(o)
			}
			if fmt.Sprint(ids) != fmt.Sprint(want) || gotCount != wantCount {
				t.Fatalf("%s: query %+v\n got %v (count %d)\nwant %v (count %d)", stage, q, ids, gotCount, want, wantCount)
			}
			// The next page from the last object, as pagination does.
			if q.Limit > 0 && len(got) == q.Limit {
				q.After = got[len(got)-1]
				want, _ = model(q)
				err := b.View(ctx, func(tx storage.Tx) (err error) { got, err = tx.List(recs, q); return err })
				if err != nil {
					t.Fatal(err)
				}
				ids = ids[:0]
				for _, o := range got {
					ids = append(ids, storage.ID(o))
				}
				if fmt.Sprint(ids) != fmt.Sprint(want) {
					t.Fatalf("%s: next page of %+v\n got %v\nwant %v", stage, q, ids, want)
				}
			}
		}
	}
	check("no index")
	if err := ix.DeclareIndexes(ctx, recs, []string{"n", "s", "owner.email"}); err != nil {
		t.Fatal(err)
	}
	check("indexed")
	update(t, b, func(tx storage.Tx) error {
		for i := 0; i < 60; i++ {
			id := fmt.Sprintf("r%03d", rng.Intn(140))
			switch rng.Intn(3) {
			case 0:
				if _, err := tx.Delete(recs, id, 0); err != nil && err != storage.ErrNotFound {
					return err
				}
			default:
				o := record(0)
				o["id"] = id
				if _, err := tx.Replace(recs, o); err != nil {
					return err
				}
			}
		}
		return nil
	})
	check("after writes")
	if err := ix.DeclareIndexes(ctx, recs, []string{"m", "owner.n", "n"}); err != nil {
		t.Fatal(err)
	}
	check("indexes changed")
	// A collection may declare a field no index can be built on (a name
	// that is not a plain path): declaring indexes elsewhere then must
	// pass it by (PostgreSQL's index names of such a field once
	// dereferenced a nil function and stopped the server).
	colls := storage.Ref{Resource: "collection", Parent: "/buckets/b"}
	update(t, b, func(tx storage.Tx) error {
		_, err := tx.Create(colls, storage.Object{"id": "odd", "indexes": []any{"x y", "é", "n"}})
		return err
	})
	if err := ix.DeclareIndexes(ctx, recs, []string{"x y", "n", "é"}); err != nil {
		t.Fatal(err)
	}
	check("an unindexable field declared")
	// Every live record with an n: descending sorts on n walk the index.
	update(t, b, func(tx storage.Tx) error {
		all, err := tx.List(recs, storage.Query{})
		if err != nil {
			return err
		}
		for _, o := range all {
			if _, ok := o["n"]; !ok {
				o["n"] = values()
				delete(o, "last_modified")
				if _, err := tx.Replace(recs, o); err != nil {
					return err
				}
			}
		}
		return nil
	})
	check("every record has the field")
	update(t, b, func(tx storage.Tx) error { return tx.DeleteTree("/buckets/b") })
	check("after the collection's deletion")
}
