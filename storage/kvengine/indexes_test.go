package kvengine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"testing"

	"github.com/nimbus-server/nimbus/storage"
)

// TestValueKeysOrderLikeValues: the index's value keys order scalars as
// storage.CompareValues does (across types and within strings, numbers
// and booleans), and the id after a key is found again.
func TestValueKeysOrderLikeValues(t *testing.T) {
	vals := []any{nil, "", "a", "a\x00b", "a\x00", "b", "é", json.Number("-1e300"), json.Number("-3.5"), json.Number("-0"),
		json.Number("0"), 0.25, json.Number("2"), int64(3), json.Number("1e400"), false, true, []any{"x"}, map[string]any{"k": "v"}}
	for _, a := range vals {
		for _, b := range vals {
			ka, _ := valueKey(nil, a)
			kb, _ := valueKey(nil, b)
			want := storage.CompareValues(a, true, b, true)
			_, aComplex := a.([]any)
			_, bComplex := b.(map[string]any)
			if aComplex || bComplex {
				continue // ranks only: arrays and objects order by rank
			}
			if got := bytes.Compare(ka, kb); sign(got) != sign(want) {
				t.Errorf("%#v vs %#v: keys %d, values %d", a, b, got, want)
			}
		}
		k, _ := valueKey([]byte("L\x00"), a)
		if id := idOfEntry(append(k, "rec-1"...), 2); id != "rec-1" {
			t.Errorf("id after %#v: %q", a, id)
		}
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// countingStore counts the objects a transaction reads.
type countingStore struct {
	mapStore
	reads *int
}

func (s countingStore) Bucket(name string) Bucket {
	b := s.mapStore.Bucket(name)
	if name != "o" {
		return b
	}
	return countingBucket{Bucket: b, reads: s.reads}
}

type countingBucket struct {
	Bucket
	reads *int
}

func (b countingBucket) Get(k []byte) []byte { *b.reads++; return b.Bucket.Get(k) }
func (b countingBucket) Cursor() Cursor {
	return countingCursor{Cursor: b.Bucket.Cursor(), reads: b.reads}
}

type countingCursor struct {
	Cursor
	reads *int
}

func (c countingCursor) Next() ([]byte, []byte) { *c.reads++; return c.Cursor.Next() }

// TestIndexNarrowsReads: with a built index, an equality filter reads
// the matching objects only, where the scan reads the whole list; the
// answers are the same.
func TestIndexNarrowsReads(t *testing.T) {
	ctx := context.Background()
	store := mapStore{}
	reads := 0
	tx := func() *Tx { return NewTx(ctx, countingStore{mapStore: store, reads: &reads}) }
	ref := storage.Ref{Resource: "record", Parent: "/buckets/b/collections/c"}
	w := tx()
	for i := 0; i < 2000; i++ {
		if _, err := w.Create(ref, storage.Object{"id": fmt.Sprintf("r%04d", i), "n": json.Number(fmt.Sprint(i % 500))}); err != nil {
			t.Fatal(err)
		}
	}
	q := storage.Query{Filters: []storage.Filter{{Field: "n", Op: storage.OpEq, Value: json.Number("7")}}, Sort: []storage.Sort{{Field: "id"}}}
	reads = 0
	scanned, err := tx().List(ref, q)
	if err != nil || len(scanned) != 4 || reads < 2000 {
		t.Fatalf("scan: %d objects, %d reads, %v", len(scanned), reads, err)
	}
	update := func(_ context.Context, fn func(*Tx) error) error { return fn(tx()) }
	if err := DeclareIndexes(ctx, update, ref, []string{"n"}); err != nil {
		t.Fatal(err)
	}
	reads = 0
	indexed, err := tx().List(ref, q)
	ids := func(objs []storage.Object) (out []string) {
		for _, o := range objs {
			out = append(out, storage.ID(o))
		}
		return out
	}
	if err != nil || fmt.Sprint(ids(indexed)) != fmt.Sprint(ids(scanned)) || reads > 10 {
		t.Fatalf("indexed: %v, %d reads, %v", indexed, reads, err)
	}
	if n, _ := tx().Count(ref, q.Filters, false); n != 4 {
		t.Fatalf("count %d", n)
	}
	// A page sorted by the indexed field walks its entries: n = 0 and 1
	// (four objects each, newest first within a value) fill a page of
	// five.
	sorted := storage.Query{Sort: []storage.Sort{{Field: "n"}}, Limit: 5}
	reads = 0
	page, err := tx().List(ref, sorted)
	if err != nil || fmt.Sprint(ids(page)) != "[r1500 r1000 r0500 r0000 r1501]" || reads > 20 {
		t.Fatalf("sorted page %v, %d reads, %v", ids(page), reads, err)
	}
	// Descending, every object having the field: the walk goes backwards,
	// and agrees with the scan's order, page after page.
	scanAll := func(q storage.Query) []string {
		all, err := tx().List(ref, storage.Query{})
		if err != nil {
			t.Fatal(err)
		}
		sorts := storage.FullSort(q.Sort)
		var keepAll []storage.Object
		for _, o := range all {
			if q.After == nil || storage.Compare(o, q.After, sorts) > 0 {
				keepAll = append(keepAll, o)
			}
		}
		sort.SliceStable(keepAll, func(i, j int) bool { return storage.Compare(keepAll[i], keepAll[j], sorts) < 0 })
		return ids(keepAll[:q.Limit])
	}
	desc := storage.Query{Sort: []storage.Sort{{Field: "n", Desc: true}}, Limit: 6}
	for p := 0; p < 3; p++ {
		want := scanAll(desc)
		reads = 0
		page, err = tx().List(ref, desc)
		if err != nil || fmt.Sprint(ids(page)) != fmt.Sprint(want) || reads > 20 {
			t.Fatalf("descending page %d: %v (want %v), %d reads, %v", p, ids(page), want, reads, err)
		}
		desc.After = page[len(page)-1]
	}
}
