package storagetest

import (
	"fmt"
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
		create(t, b, recs, obj(fmt.Sprintf(`{"id":"p%d","n":%d,"blob":%q}`, i, i, blob)))
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
	for _, sorts := range [][]storage.Sort{nil, byN, {{Field: "n", Desc: true}}} {
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
				last := got[len(got)-1]
				q.After = storage.Object{"id": last["id"], "last_modified": last["last_modified"], "n": last["n"]}
			}
			if len(seen) != 6 || len(uniq(seen)) != 6 {
				t.Fatalf("pages read %v", seen)
			}
		})
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
