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

// testDeepPagesOfTies pages through a list sorted by a field of few
// values, so that most pages start and end within a long run of equal
// values (booleans, null, a missing field, short strings, numbers), in
// both directions, with filters a backend may or may not apply itself,
// with and without a bound in bytes, before and after the field is
// declared as an index: every page must be the model's (the whole list
// filtered, sorted and cut with storage's rules from the previous page's
// last object), and the pages joined must be the whole list once.
// Values whose order their index key cannot settle (long strings alike
// in their first 200 characters, arrays, objects) are among them.
func testDeepPagesOfTies(t *testing.T, b storage.Backend) {
	rng := rand.New(rand.NewSource(7))
	long := strings.Repeat("t", 205)
	values := []any{true, true, true, false, false, nil, nil, "a", "a", "b", json.Number("1"), json.Number("2"), json.Number("2.5"),
		long + "x", long + "y", []any{json.Number("1")}, map[string]any{"k": "v"}}
	update(t, b, func(tx storage.Tx) error {
		for i := 0; i < 150; i++ {
			o := storage.Object{"id": fmt.Sprintf("t%03d", i), "g": json.Number(fmt.Sprint(i % 3)), "pad": strings.Repeat("p", rng.Intn(80))}
			if r := rng.Intn(10); r < 3 {
				// Missing: the longest run.
			} else {
				o["t"] = values[rng.Intn(len(values))]
			}
			if _, err := tx.Create(recs, o); err != nil {
				return err
			}
		}
		for i := 0; i < 150; i += 11 {
			if _, err := tx.Delete(recs, fmt.Sprintf("t%03d", i), 0); err != nil {
				return err
			}
		}
		return nil
	})
	var all []storage.Object
	if err := b.View(ctx, func(tx storage.Tx) (err error) {
		all, err = tx.List(recs, storage.Query{IncludeDeleted: true})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	model := func(q storage.Query) []string {
		sorts := storage.FullSort(q.Sort)
		var out []storage.Object
		for _, o := range all {
			if (!storage.IsDeleted(o) || q.IncludeDeleted) && storage.Match(o, q.Filters) && (q.After == nil || storage.Compare(o, q.After, sorts) > 0) {
				out = append(out, o)
			}
		}
		sort.SliceStable(out, func(i, j int) bool { return storage.Compare(out[i], out[j], sorts) < 0 })
		ids := make([]string, len(out))
		for i, o := range out {
			ids[i] = storage.ID(o)
		}
		return ids
	}
	filters := [][]storage.Filter{nil,
		{{Field: "g", Op: storage.OpEq, Value: json.Number("1")}},
		{{Field: "pad", Op: storage.OpLike, Value: "*pp*"}},
	}
	walk := func(stage string) {
		for _, desc := range []bool{false, true} {
			for _, limit := range []int{2, 7} {
				for fi, f := range filters {
					for _, maxBytes := range []int{0, 400} {
						q := storage.Query{Sort: []storage.Sort{{Field: "t", Desc: desc}}, Filters: f, Limit: limit, MaxBytes: maxBytes, IncludeDeleted: fi == 0 && limit == 7}
						whole := model(q)
						var joined []string
						for pages := 0; pages <= len(whole)+1; pages++ {
							var cut bool
							q.Cut = &cut
							var got []storage.Object
							if err := b.View(ctx, func(tx storage.Tx) (err error) { got, err = tx.List(recs, q); return err }); err != nil {
								t.Fatal(err)
							}
							ids := make([]string, len(got))
							for i, o := range got {
								ids[i] = storage.ID(o)
							}
							want := model(q)
							if len(want) > limit {
								want = want[:limit]
							}
							if maxBytes == 0 && fmt.Sprint(ids) != fmt.Sprint(want) || maxBytes > 0 && (len(ids) == 0 && len(want) > 0 || fmt.Sprint(ids) != fmt.Sprint(want[:min(len(ids), len(want))])) {
								t.Fatalf("%s: sort desc=%v limit %d filters %v bytes %d, page after %v:\n got %v\nwant %v", stage, desc, limit, f, maxBytes, q.After, ids, want)
							}
							joined = append(joined, ids...)
							if len(got) < limit && !cut {
								break
							}
							q.After = got[len(got)-1]
						}
						if fmt.Sprint(joined) != fmt.Sprint(whole) {
							t.Fatalf("%s: sort desc=%v limit %d filters %v bytes %d: pages joined\n got %v\nwant %v", stage, desc, limit, f, maxBytes, joined, whole)
						}
					}
				}
			}
		}
	}
	walk("no index")
	if ix, ok := b.(storage.Indexer); ok {
		if err := ix.DeclareIndexes(ctx, recs, []string{"t"}); err != nil {
			t.Fatal(err)
		}
		walk("indexed")
	}
}
