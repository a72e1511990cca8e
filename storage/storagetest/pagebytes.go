package storagetest

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/storage"
)

// testPageBytes checks Query.MaxBytes: a page ends with the object that
// brings its stored JSON to the bound, Cut says so when that is before
// the limit and more objects follow, and keyset pages from there read every object once, in
// every order a backend answers by a different path (the list's own
// order, another field's, a set of ids), from List and ListRaw alike,
// and again when a backend serves the same page from a cache.
func testPageBytes(t *testing.T, b storage.Backend) {
	blob := strings.Repeat("x", 1000)
	for i := 0; i < 6; i++ {
		create(t, b, recs, obj(fmt.Sprintf(`{"id":"p%d","n":%d,"g":"same","blob":%q}`, i, i, blob)))
	}
	byN := []storage.Sort{{Field: "n"}}
	// Each object stores about 1,030 bytes: 2,500 ends a page at three,
	// 1,500 at two.
	cases := []struct {
		name string
		q    storage.Query
		want string
		cut  bool
	}{
		{"no bound", storage.Query{Limit: 10}, "p5 p4 p3 p2 p1 p0", false},
		{"bound before the limit", storage.Query{Limit: 10, MaxBytes: 2500}, "p5 p4 p3", true},
		{"bound without a limit", storage.Query{MaxBytes: 2500}, "p5 p4 p3", true},
		{"limit before the bound", storage.Query{Limit: 2, MaxBytes: 2500}, "p5 p4", false},
		{"bound and limit at the same object", storage.Query{Limit: 3, MaxBytes: 2500}, "p5 p4 p3", false},
		{"a bound below one object keeps one", storage.Query{Limit: 10, MaxBytes: 1}, "p5", true},
		{"a bound above the list", storage.Query{Limit: 10, MaxBytes: 1 << 20}, "p5 p4 p3 p2 p1 p0", false},
		{"sorted by a field", storage.Query{Sort: byN, Limit: 4, MaxBytes: 2500}, "p0 p1 p2", true},
		{"sorted by a field without a limit", storage.Query{Sort: byN, MaxBytes: 2500}, "p0 p1 p2", true},
		{"filtered", storage.Query{Filters: []storage.Filter{{Field: "n", Op: storage.OpMin, Value: jv("2")}}, Limit: 10, MaxBytes: 1500}, "p5 p4", true},
		{"the bound reached by the last object", storage.Query{Filters: []storage.Filter{{Field: "n", Op: storage.OpMin, Value: jv("3")}}, Limit: 10, MaxBytes: 2500}, "p5 p4 p3", false},
		{"sorted, the bound reached by the last object", storage.Query{Sort: byN, Filters: []storage.Filter{{Field: "n", Op: storage.OpMax, Value: jv("2")}}, MaxBytes: 2500}, "p0 p1 p2", false},
		{"a set of ids", storage.Query{IDs: []string{"p1", "p4", "p5"}, Limit: 10, MaxBytes: 1500}, "p5 p4", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for round := 0; round < 2; round++ { // the second may come from a cache
				var cut bool
				q := tc.q
				q.Cut = &cut
				got := list(t, b, recs, q)
				if g := strings.Join(ids(got), " "); g != tc.want || cut != tc.cut {
					t.Fatalf("round %d: got %q cut %v, want %q cut %v", round, g, cut, tc.want, tc.cut)
				}
				if len(got) > 0 && len(got[0]["blob"].(string)) != len(blob) {
					t.Fatalf("round %d: an object of the page is not whole: %v", round, got[0])
				}
				rawCut := false
				q.Cut = &rawCut
				raws, served := listRaw(t, b, recs, q)
				if !served {
					continue
				}
				var rawIDs []string
				for _, r := range raws {
					o, err := storage.DecodeJSON(r)
					if err != nil {
						t.Fatalf("raw object: %v", err)
					}
					rawIDs = append(rawIDs, storage.ID(o.(map[string]any)))
				}
				if g := strings.Join(rawIDs, " "); g != tc.want || rawCut != tc.cut {
					t.Fatalf("round %d, raw: got %q cut %v, want %q cut %v", round, g, rawCut, tc.want, tc.cut)
				}
			}
		})
	}
	// Ties (g) and a field no object has end pages within rows of one
	// sort key.
	for _, sorts := range [][]storage.Sort{nil, byN, {{Field: "n", Desc: true}}, {{Field: "g"}}, {{Field: "g", Desc: true}}, {{Field: "missing"}}} {
		t.Run(fmt.Sprintf("keyset pages sorted by %v read each object once", sorts), func(t *testing.T) {
			var seen []string
			q := storage.Query{Sort: sorts, Limit: 11, MaxBytes: 2500}
			for page := 0; page < 10; page++ {
				var cut bool
				q.Cut = &cut
				got := list(t, b, recs, q)
				seen = append(seen, ids(got)...)
				if !cut {
					break
				}
				q.After = got[len(got)-1]
			}
			if len(seen) != 6 || len(uniq(seen)) != 6 || len(seen[0]) == 0 {
				t.Fatalf("pages read %v", seen)
			}
		})
	}
}

// testLargeCandidates: objects too large to be decoded whole while a
// page is sorted come back whole on their page.
func testLargeCandidates(t *testing.T, b storage.Backend) {
	big := storage.Ref{Resource: "record", Parent: "/buckets/b/collections/big"}
	blob := strings.Repeat("z", 70000)
	for i := 0; i < 4; i++ {
		create(t, b, big, obj(fmt.Sprintf(`{"id":"L%d","n":%d,"blob":%q}`, i, i, blob)))
	}
	for _, q := range []storage.Query{
		{Sort: []storage.Sort{{Field: "n"}}, MaxBytes: 100000},
		{Sort: []storage.Sort{{Field: "n"}}, Limit: 20000, MaxBytes: 100000},
		{Sort: []storage.Sort{{Field: "n"}}, Limit: 3},
		{Sort: []storage.Sort{{Field: "n", Desc: true}}},
	} {
		var cut bool
		q.Cut = &cut
		got := list(t, b, big, q)
		want := map[bool]int{true: 2, false: 4}[q.MaxBytes > 0]
		if q.Limit == 3 {
			want = 3
		}
		if len(got) != want || cut != (q.MaxBytes > 0) {
			t.Fatalf("%+v: %d objects, cut %v", q, len(got), cut)
		}
		for _, o := range got {
			if s, _ := o["blob"].(string); len(s) != len(blob) {
				t.Fatalf("%+v: %s is not whole", q, storage.ID(o))
			}
		}
	}
}

// listRaw lists through storage.RawLister when the backend's transaction
// has it and serves the query.
func listRaw(t *testing.T, b storage.Backend, ref storage.Ref, q storage.Query) ([][]byte, bool) {
	t.Helper()
	var out [][]byte
	var served bool
	err := b.View(ctx, func(tx storage.Tx) error {
		rl, ok := tx.(storage.RawLister)
		if !ok {
			return nil
		}
		var err error
		out, served, err = rl.ListRaw(ref, q)
		return err
	})
	if err != nil {
		t.Fatalf("list raw: %v", err)
	}
	return out, served
}

func uniq(s []string) map[string]bool {
	m := map[string]bool{}
	for _, x := range s {
		m[x] = true
	}
	return m
}

// testPageBytesModel reads a list of objects of varied sizes (about
// 100 to 3,000 bytes), with ties
// and missing fields, in pages bounded in bytes, in many orders, limits
// and bounds: the pages joined are the list read whole, in the same
// order, and each page ends where the rule says (at the limit, at the
// first object that reaches the bound, or at the list's end), with Cut
// telling whether more follow.
func testPageBytesModel(t *testing.T, b storage.Backend) {
	rng := rand.New(rand.NewSource(7))
	for i := 0; i < 40; i++ {
		o := storage.Object{"id": fmt.Sprintf("m%02d", i), "pad": strings.Repeat("y", 50+rng.Intn(3000))}
		if i%5 != 0 {
			o["k"] = json.Number(fmt.Sprint(rng.Intn(4)))
		}
		if i%3 == 0 {
			o["s"] = []string{"a", "b", "c"}[rng.Intn(3)]
		}
		create(t, b, other, o)
	}
	sizes := map[string]int{}
	err := b.View(ctx, func(tx storage.Tx) error {
		all, err := tx.List(other, storage.Query{})
		for _, o := range all {
			enc, _ := storage.AppendJSON(nil, map[string]any(o))
			sizes[storage.ID(o)] = len(enc)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	orders := [][]storage.Sort{nil, {{Field: "k"}}, {{Field: "k", Desc: true}}, {{Field: "s"}, {Field: "k", Desc: true}}, {{Field: "pad"}}, {{Field: "last_modified"}}}
	for round := 0; round < 60; round++ {
		sorts := orders[round%len(orders)]
		limit := []int{0, 3, 7, 100}[rng.Intn(4)]
		maxBytes := 1000 + rng.Intn(9000)
		var filters []storage.Filter
		if round%4 == 3 {
			filters = []storage.Filter{{Field: "k", Op: storage.OpMin, Value: json.Number("1")}}
		}
		whole := ids(list(t, b, other, storage.Query{Sort: sorts, Filters: filters}))
		var joined []string
		q := storage.Query{Sort: sorts, Filters: filters, Limit: limit, MaxBytes: maxBytes}
		for page := 0; page < 50; page++ {
			var cut bool
			q.Cut = &cut
			got := list(t, b, other, q)
			// Backends count their stored JSON, within slack bytes an
			// object of the encoding measured here.
			const slack = 64
			sum := 0
			for i, o := range got {
				if i > 0 && sum >= maxBytes+slack*i {
					t.Fatalf("round %d (%v, limit %d, bound %d): page %d goes on past the bound at %d", round, sorts, limit, maxBytes, page, i)
				}
				sum += sizes[storage.ID(o)]
			}
			joined = append(joined, ids(got)...)
			more := len(joined) < len(whole)
			byLimit := limit > 0 && len(got) == limit
			if byLimit {
				if cut {
					t.Fatalf("round %d: a page ended by its limit says Cut", round)
				}
			} else if cut != more || more && sum+slack*len(got) < maxBytes {
				t.Fatalf("round %d (%v, limit %d, bound %d): page %d of %d objects, %d bytes, Cut %v, more %v", round, sorts, limit, maxBytes, page, len(got), sum, cut, more)
			}
			if !more || len(got) == 0 {
				break
			}
			q.After = got[len(got)-1]
		}
		if strings.Join(joined, " ") != strings.Join(whole, " ") {
			t.Fatalf("round %d (%v, limit %d, bound %d): pages read\n%v\nthe list whole\n%v", round, sorts, limit, maxBytes, joined, whole)
		}
	}
}
