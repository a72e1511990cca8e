package storagetest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/storage"
)

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }

func seedFilterData(t *testing.T, b storage.Backend) {
	for _, s := range []string{
		`{"id":"a","title":"Hello World","n":1,"tags":["x","y"],"flag":true,"author":{"name":"Ben"}}`,
		`{"id":"b","title":"goodbye","n":2,"tags":["y"],"flag":false,"author":{"name":"Ann"}}`,
		`{"id":"c","title":"HELLO again","n":3,"tags":[],"nul":null}`,
		`{"id":"d","n":"3","tags":[{"k":1}],"author":"plain"}`,
		`{"id":"e","n":2.5}`,
	} {
		create(t, b, recs, obj(s))
	}
}

func testFilters(t *testing.T, b storage.Backend) {
	seedFilterData(t, b)
	cases := []struct {
		name string
		f    storage.Filter
		want string // ids in ascending id order
	}{
		{"eq number", storage.Filter{Field: "n", Op: storage.OpEq, Value: jv("2")}, "b"},
		{"eq string vs number", storage.Filter{Field: "n", Op: storage.OpEq, Value: jv(`"3"`)}, "d"},
		{"eq float", storage.Filter{Field: "n", Op: storage.OpEq, Value: jv("2.5")}, "e"},
		{"eq list", storage.Filter{Field: "tags", Op: storage.OpEq, Value: jv(`["y"]`)}, "b"},
		{"eq null", storage.Filter{Field: "nul", Op: storage.OpEq, Value: nil}, "c"},
		{"eq bool", storage.Filter{Field: "flag", Op: storage.OpEq, Value: true}, "a"},
		{"not", storage.Filter{Field: "n", Op: storage.OpNot, Value: jv("2")}, "a c d e"},
		{"not on missing field matches", storage.Filter{Field: "flag", Op: storage.OpNot, Value: true}, "b c d e"},
		{"lt", storage.Filter{Field: "n", Op: storage.OpLt, Value: jv("2.5")}, "a b d"}, // strings sort below numbers
		{"gt", storage.Filter{Field: "n", Op: storage.OpGt, Value: jv("2")}, "c e"},
		{"min", storage.Filter{Field: "n", Op: storage.OpMin, Value: jv("2")}, "b c e"},
		{"max", storage.Filter{Field: "n", Op: storage.OpMax, Value: jv("2")}, "a b d"},
		{"gt across types: numbers above strings", storage.Filter{Field: "n", Op: storage.OpGt, Value: jv(`"zzz"`)}, "a b c e"},
		{"in", storage.Filter{Field: "n", Op: storage.OpIn, Value: []any{jv("1"), jv("3")}}, "a c"},
		{"exclude", storage.Filter{Field: "n", Op: storage.OpExclude, Value: []any{jv("1"), jv("3")}}, "b d e"},
		{"like contains, case-insensitive", storage.Filter{Field: "title", Op: storage.OpLike, Value: "hello"}, "a c"},
		{"like prefix", storage.Filter{Field: "title", Op: storage.OpLike, Value: "good*"}, "b"},
		{"like suffix", storage.Filter{Field: "title", Op: storage.OpLike, Value: "*world"}, "a"},
		{"like middle star", storage.Filter{Field: "title", Op: storage.OpLike, Value: "h*again"}, "c"},
		{"has true", storage.Filter{Field: "flag", Op: storage.OpHas, Value: true}, "a b"},
		{"has null counts as present", storage.Filter{Field: "nul", Op: storage.OpHas, Value: true}, "c"},
		{"has false", storage.Filter{Field: "title", Op: storage.OpHas, Value: false}, "d e"},
		{"contains all", storage.Filter{Field: "tags", Op: storage.OpContains, Value: []any{"x", "y"}}, "a"},
		{"contains single", storage.Filter{Field: "tags", Op: storage.OpContains, Value: "y"}, "a b"},
		{"contains object", storage.Filter{Field: "tags", Op: storage.OpContains, Value: jv(`{"k":1}`)}, "d"},
		{"contains_any", storage.Filter{Field: "tags", Op: storage.OpContainsAny, Value: []any{"x", "nope"}}, "a"},
		{"contains on non-array never matches", storage.Filter{Field: "title", Op: storage.OpContains, Value: "x"}, ""},
		{"missing field never matches eq", storage.Filter{Field: "zzz", Op: storage.OpEq, Value: nil}, ""},
		// A missing field sorts after every value (QRY-06), so the
		// comparisons agree with the sort, as in Kinto.
		{"gt: a missing field is above every value", storage.Filter{Field: "flag", Op: storage.OpGt, Value: true}, "c d e"},
		{"min: a missing field is above every value", storage.Filter{Field: "flag", Op: storage.OpMin, Value: true}, "a c d e"},
		{"lt: a missing field is below no value", storage.Filter{Field: "flag", Op: storage.OpLt, Value: jv(`{"z":1}`)}, "a b"},
		{"max: a missing field is below no value", storage.Filter{Field: "flag", Op: storage.OpMax, Value: jv(`{"z":1}`)}, "a b"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := list(t, b, recs, storage.Query{Filters: []storage.Filter{tc.f}, Sort: []storage.Sort{{Field: "id"}}})
			if g := strings.Join(ids(got), " "); g != tc.want {
				t.Fatalf("got %q, want %q", g, tc.want)
			}
		})
	}
	t.Run("several filters are ANDed", func(t *testing.T) {
		got := list(t, b, recs, storage.Query{Sort: []storage.Sort{{Field: "id"}}, Filters: []storage.Filter{
			{Field: "n", Op: storage.OpMin, Value: jv("2")}, {Field: "title", Op: storage.OpHas, Value: true}}})
		eqIDs(t, "and", got, "b", "c")
	})
}

func testNested(t *testing.T, b storage.Backend) {
	seedFilterData(t, b)
	create(t, b, recs, obj(`{"id":"f","author.name":"Dotted","author":{"name":"Ann"}}`))
	got := list(t, b, recs, storage.Query{Sort: []storage.Sort{{Field: "id"}},
		Filters: []storage.Filter{{Field: "author.name", Op: storage.OpEq, Value: "Ann"}}})
	eqIDs(t, "dotted path (longest key wins for f)", got, "b")
	got = list(t, b, recs, storage.Query{Sort: []storage.Sort{{Field: "author.name"}}, Filters: []storage.Filter{{Field: "author.name", Op: storage.OpHas, Value: true}}})
	eqIDs(t, "sort on nested", got, "b", "a", "f")
}

func testSortMulti(t *testing.T, b storage.Backend) {
	for _, s := range []string{
		`{"id":"a","g":1,"h":"z"}`, `{"id":"b","g":2,"h":"a"}`, `{"id":"c","g":1,"h":"b"}`,
		`{"id":"d","g":2,"h":"b"}`, `{"id":"e","g":1,"h":"b"}`,
	} {
		create(t, b, recs, obj(s))
	}
	got := list(t, b, recs, storage.Query{Sort: []storage.Sort{{Field: "g"}, {Field: "h", Desc: true}}})
	// ties on (g, h) fall back to -last_modified: e was written after c.
	eqIDs(t, "g,-h", got, "a", "e", "c", "d", "b")
	got = list(t, b, recs, storage.Query{Sort: []storage.Sort{{Field: "last_modified"}}})
	eqIDs(t, "last_modified ascending", got, "a", "b", "c", "d", "e")
	got = list(t, b, recs, storage.Query{})
	eqIDs(t, "default order", got, "e", "d", "c", "b", "a")
	got = list(t, b, recs, storage.Query{Sort: []storage.Sort{{Field: "g", Desc: true}}, Limit: 2})
	eqIDs(t, "-g limit 2", got, "d", "b")
}

func testSortCrossType(t *testing.T, b storage.Backend) {
	for _, s := range []string{
		`{"id":"obj","v":{"a":1}}`, `{"id":"arr","v":[1]}`, `{"id":"true","v":true}`,
		`{"id":"false","v":false}`, `{"id":"num","v":10}`, `{"id":"num2","v":9.5}`,
		`{"id":"str","v":"B"}`, `{"id":"str2","v":"a"}`, `{"id":"null","v":null}`, `{"id":"missing"}`,
	} {
		create(t, b, recs, obj(s))
	}
	got := list(t, b, recs, storage.Query{Sort: []storage.Sort{{Field: "v"}}})
	eqIDs(t, "ascending", got, "null", "str", "str2", "num2", "num", "false", "true", "arr", "obj", "missing")
	got = list(t, b, recs, storage.Query{Sort: []storage.Sort{{Field: "v", Desc: true}}})
	eqIDs(t, "descending", got, "missing", "obj", "arr", "true", "false", "num", "num2", "str2", "str", "null")
	// Within arrays and objects, PostgreSQL's JSONB order, which Kinto
	// sorts with (the spec orders only across types): the shorter array
	// first, then element by element; the object with fewer keys first,
	// then key by key (shorter keys first) and value by value.
	for _, s := range []string{
		`{"id":"a-long","w":[1,2,3]}`, `{"id":"a-short","w":[5]}`, `{"id":"a-empty","w":[]}`, `{"id":"a-12","w":[1,2]}`, `{"id":"a-1s","w":[1,"s"]}`,
		`{"id":"o-two","w":{"k":1,"z":"x"}}`, `{"id":"o-one","w":{"k":2}}`, `{"id":"o-aac","w":{"aa":1,"c":1}}`, `{"id":"o-bd","w":{"b":1,"d":1}}`,
		`{"id":"o-k1","w":{"k":1}}`,
	} {
		create(t, b, recs, obj(s))
	}
	got = list(t, b, recs, storage.Query{Sort: []storage.Sort{{Field: "w"}}, Filters: []storage.Filter{{Field: "w", Op: storage.OpHas, Value: true}}})
	eqIDs(t, "arrays and objects", got, "a-empty", "a-short", "a-1s", "a-12", "a-long", "o-k1", "o-one", "o-bd", "o-aac", "o-two")
	got = list(t, b, recs, storage.Query{Sort: []storage.Sort{{Field: "w"}}, Filters: []storage.Filter{{Field: "w", Op: storage.OpGt, Value: obj(`{"k":1}`)}, {Field: "w", Op: storage.OpHas, Value: true}}})
	eqIDs(t, "a comparison agrees", got, "o-one", "o-bd", "o-aac", "o-two")
}

// pageAll reads the whole list page by page using the keyset position of
// the last row, calling between(page) after each page.
func pageAll(t *testing.T, b storage.Backend, q storage.Query, between func(int)) []string {
	var seen []string
	sorts := storage.FullSort(q.Sort)
	for page := 0; page < 1000; page++ {
		rows := list(t, b, recs, q)
		seen = append(seen, ids(rows)...)
		if len(rows) < q.Limit {
			return seen
		}
		last := rows[len(rows)-1]
		after := storage.Object{}
		for _, s := range sorts {
			if v, ok := storage.Lookup(last, s.Field); ok {
				after[s.Field] = v
			}
		}
		q.After = after
		if between != nil {
			between(page)
		}
	}
	t.Fatal("pagination did not end")
	return nil
}

func testPaginationDefault(t *testing.T, b storage.Backend) {
	var want []string
	for i := 0; i < 23; i++ {
		create(t, b, recs, storage.Object{"id": fmt.Sprintf("r%02d", i)})
		want = append([]string{fmt.Sprintf("r%02d", i)}, want...)
	}
	got := pageAll(t, b, storage.Query{Limit: 5}, nil)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("pages: %v\nwant %v", got, want)
	}
	asc := pageAll(t, b, storage.Query{Limit: 4, Sort: []storage.Sort{{Field: "last_modified"}}}, nil)
	if len(asc) != 23 || asc[0] != "r00" || asc[22] != "r22" {
		t.Fatalf("ascending pages: %v", asc)
	}
}

func testPaginationCustom(t *testing.T, b storage.Backend) {
	for i := 0; i < 30; i++ {
		o := storage.Object{"id": fmt.Sprintf("r%02d", i), "g": int64(i % 4)}
		if i%7 == 0 {
			delete(o, "g") // missing values sort last
		}
		create(t, b, recs, o)
	}
	full := ids(list(t, b, recs, storage.Query{Sort: []storage.Sort{{Field: "g"}}}))
	got := pageAll(t, b, storage.Query{Limit: 4, Sort: []storage.Sort{{Field: "g"}}}, nil)
	if fmt.Sprint(got) != fmt.Sprint(full) {
		t.Fatalf("paged %v\nwhole %v", got, full)
	}
	filtered := pageAll(t, b, storage.Query{Limit: 3, Sort: []storage.Sort{{Field: "g", Desc: true}},
		Filters: []storage.Filter{{Field: "g", Op: storage.OpMin, Value: int64(1)}}}, nil)
	// min_g=1 matches g of 1 to 3 (19 objects) and the 5 without g,
	// which sort after every value (as in Kinto).
	if len(filtered) != 24 || filtered[0] != "r28" {
		t.Fatalf("filtered pages: %d rows (%v)", len(filtered), filtered)
	}
}

func testPaginationChanges(t *testing.T, b storage.Backend) {
	for i := 0; i < 20; i++ {
		create(t, b, recs, storage.Object{"id": fmt.Sprintf("r%02d", i), "g": int64(i % 3)})
	}
	for k, sorts := range [][]storage.Sort{nil, {{Field: "g"}}, {{Field: "last_modified"}}} {
		n := 0
		got := pageAll(t, b, storage.Query{Limit: 3, Sort: sorts}, func(int) {
			n++
			create(t, b, recs, storage.Object{"id": fmt.Sprintf("new%d-%d", k, n), "g": int64(n % 3)})
		})
		seen := map[string]bool{}
		for _, id := range got {
			if seen[id] {
				t.Fatalf("sort %v: %s repeated across pages", sorts, id)
			}
			seen[id] = true
		}
		for i := 0; i < 20; i++ {
			if !seen[fmt.Sprintf("r%02d", i)] {
				t.Fatalf("sort %v: r%02d lost between pages: %v", sorts, i, got)
			}
		}
	}
}

func testTombstonesSince(t *testing.T, b storage.Backend) {
	a := create(t, b, recs, obj(`{"id":"a"}`))
	create(t, b, recs, obj(`{"id":"b"}`))
	since := storage.LastModified(a)
	update(t, b, func(tx storage.Tx) error { _, err := tx.Delete(recs, "a", 0); return err })
	create(t, b, recs, obj(`{"id":"c"}`))
	q := storage.Query{IncludeDeleted: true, Filters: []storage.Filter{{Field: "last_modified", Op: storage.OpGt, Value: since}}}
	got := list(t, b, recs, q)
	eqIDs(t, "since", got, "c", "a", "b")
	if !storage.IsDeleted(got[1]) {
		t.Fatalf("a should be a tombstone: %v", got[1])
	}
	q.Filters = append(q.Filters, storage.Filter{Field: "deleted", Op: storage.OpEq, Value: true})
	eqIDs(t, "only deletions", list(t, b, recs, q), "a")
	eqIDs(t, "without tombstones", list(t, b, recs, storage.Query{}), "c", "b")
	cLM := storage.LastModified(got[0])
	before := storage.Query{IncludeDeleted: true, Filters: []storage.Filter{{Field: "last_modified", Op: storage.OpLt, Value: cLM}}}
	eqIDs(t, "before", list(t, b, recs, before), "a", "b")
}

func testCount(t *testing.T, b storage.Backend) {
	seedFilterData(t, b)
	update(t, b, func(tx storage.Tx) error { _, err := tx.Delete(recs, "e", 0); return err })
	err := b.View(ctx, func(tx storage.Tx) error {
		for _, c := range []struct {
			f    []storage.Filter
			del  bool
			want int
		}{
			{nil, false, 4},
			{nil, true, 5},
			{[]storage.Filter{{Field: "n", Op: storage.OpMin, Value: jv("2")}}, false, 2},
			{[]storage.Filter{{Field: "deleted", Op: storage.OpEq, Value: true}}, true, 1},
		} {
			n, err := tx.Count(recs, c.f, c.del)
			if err != nil {
				return err
			}
			if n != c.want {
				return fmt.Errorf("count %v (deleted %v) = %d, want %d", c.f, c.del, n, c.want)
			}
		}
		n, _ := tx.Count(other, nil, false)
		if n != 0 {
			return fmt.Errorf("count of an empty list: %d", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testIDs(t *testing.T, b storage.Backend) {
	seedFilterData(t, b)
	got := list(t, b, recs, storage.Query{IDs: []string{"a", "c", "zz", "a"}})
	eqIDs(t, "ids", got, "c", "a")
	got = list(t, b, recs, storage.Query{IDs: []string{}})
	eqIDs(t, "no ids", got)
	got = list(t, b, recs, storage.Query{IDs: []string{"a", "b", "c"}, Limit: 1, Sort: []storage.Sort{{Field: "n", Desc: true}}})
	eqIDs(t, "ids sorted and limited", got, "c")
}

func testEqualityOnRawFields(t *testing.T, b storage.Backend) {
	for _, s := range []string{
		`{"id":"a","title":"x\"y","flag":true}`,
		`{"id":"b","title":"other","nested":{"title":"x\"y"},"flag":false}`,
		`{"id":"c","title":"été ☃","flag":null}`,
		`{"id":"d","title":"x\"yz"}`,
	} {
		create(t, b, recs, obj(s))
	}
	for _, c := range []struct {
		f    storage.Filter
		want []string
	}{
		{storage.Filter{Field: "title", Op: storage.OpEq, Value: `x"y`}, []string{"a"}},
		{storage.Filter{Field: "title", Op: storage.OpEq, Value: "été ☃"}, []string{"c"}},
		{storage.Filter{Field: "flag", Op: storage.OpEq, Value: nil}, []string{"c"}},
		{storage.Filter{Field: "flag", Op: storage.OpEq, Value: false}, []string{"b"}},
		{storage.Filter{Field: "nested.title", Op: storage.OpEq, Value: `x"y`}, []string{"b"}},
	} {
		eqIDs(t, fmt.Sprint(c.f), list(t, b, recs, storage.Query{Filters: []storage.Filter{c.f}, Sort: []storage.Sort{{Field: "last_modified"}}}), c.want...)
	}
}

func testRawList(t *testing.T, b storage.Backend) {
	seedFilterData(t, b)
	update(t, b, func(tx storage.Tx) error { _, err := tx.Delete(recs, "b", 0); return err })
	queries := []storage.Query{
		{Limit: 3},
		{Limit: 2, Filters: []storage.Filter{{Field: "n", Op: storage.OpMin, Value: jv("2")}}},
		{Sort: []storage.Sort{{Field: "last_modified"}}},
		{Filters: []storage.Filter{{Field: "n", Op: storage.OpMin, Value: jv("2")}}},
		{IncludeDeleted: true, Filters: []storage.Filter{{Field: "last_modified", Op: storage.OpGt, Value: int64(0)}}},
		{Sort: []storage.Sort{{Field: "title"}}},
	}
	// Pages of a list endpoint (a limit, the default order) must be
	// served raw; what else is, is the backend's choice.
	mustServe := 2
	supported := true
	// Twice: a backend with a cache serves the second from it.
	for range 2 {
		b.View(ctx, func(tx storage.Tx) error {
			rl, ok := tx.(storage.RawLister)
			if !ok {
				supported = false // t.Skip must not run inside a transaction
				return nil
			}
			for i, q := range queries {
				want, err := tx.List(recs, q)
				if err != nil {
					t.Fatal(err)
				}
				rows, served, err := rl.ListRaw(recs, q)
				if err != nil {
					t.Fatal(err)
				}
				if !served {
					if i < mustServe {
						t.Errorf("query %d not served raw", i)
					}
					continue
				}
				var got []storage.Object
				for _, r := range rows {
					v, err := storage.DecodeJSON(r)
					if err != nil {
						t.Fatalf("raw row %q: %v", r, err)
					}
					got = append(got, v.(map[string]any))
				}
				if fmt.Sprint(ids(got)) != fmt.Sprint(ids(want)) {
					t.Errorf("query %d: raw %v, list %v", i, ids(got), ids(want))
				}
				for j := range got {
					if !storage.Equal(map[string]any(got[j]), map[string]any(want[j])) {
						t.Errorf("query %d row %d: %v vs %v", i, j, got[j], want[j])
					}
					// The bytes List's objects encode to: an answer made
					// of raw rows is the one made of objects.
					if j < len(want) {
						if enc, _ := storage.AppendJSON(nil, map[string]any(want[j])); string(enc) != string(rows[j]) {
							t.Errorf("query %d row %d: raw %s, List encodes %s", i, j, rows[j], enc)
						}
					}
				}
			}
			return nil
		})
	}
	if !supported {
		t.Skip("backend has no raw lists")
	}
}

// testTimeOrderVsIDs lists, in both directions and in pages, objects whose
// timestamps order them unlike their ids, with updates and tombstones in
// between, inside and outside a write transaction.
func testTimeOrderVsIDs(t *testing.T, b storage.Backend) {
	for _, id := range []string{"m", "a", "z", "b", "y", "c"} {
		create(t, b, recs, obj(`{"id":"`+id+`","v":"`+id+`"}`))
	}
	update(t, b, func(tx storage.Tx) error {
		if _, err := tx.Replace(recs, obj(`{"id":"a","v":"a2"}`)); err != nil {
			return err
		}
		_, err := tx.Delete(recs, "z", 0)
		return err
	})
	newest := storage.Query{Sort: []storage.Sort{{Field: "last_modified", Desc: true}}}
	oldest := storage.Query{Sort: []storage.Sort{{Field: "last_modified"}}}
	check := func(label string, objs []storage.Object, want ...string) {
		t.Helper()
		eqIDs(t, label, objs, want...)
		for _, o := range objs {
			if v := o["v"]; v != storage.ID(o) && !(storage.ID(o) == "a" && v == "a2") {
				t.Errorf("%s: object %s holds %v", label, storage.ID(o), v)
			}
		}
	}
	check("newest first", list(t, b, recs, newest), "a", "c", "y", "b", "m")
	check("oldest first", list(t, b, recs, oldest), "m", "b", "y", "c", "a")
	page := newest
	page.Limit = 2
	first := list(t, b, recs, page)
	check("first page", first, "a", "c")
	page.After = first[1]
	check("second page", list(t, b, recs, page), "y", "b")
	update(t, b, func(tx storage.Tx) error {
		if _, err := tx.Create(recs, obj(`{"id":"d","v":"d"}`)); err != nil {
			return err
		}
		objs, err := tx.List(recs, newest)
		check("inside a write", objs, "d", "a", "c", "y", "b", "m")
		return err
	})
}
