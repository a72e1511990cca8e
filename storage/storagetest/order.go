package storagetest

import (
	"testing"

	"github.com/nimbus-server/nimbus/storage"
)

// orderedDoc has nested objects whose keys are in no sorted order.
const orderedDoc = `{"zeta":1,"alpha":{"mike":1,"bravo":[{"yankee":1,"xray":2}],"kilo":{"delta":1,"charlie":2}},"echo":"e","id":"ord","beta":null}`

// testKeyOrder: two reads of an unchanged object give the same bytes on
// every backend, lists included; a KeyOrderKeeper returns the keys in the
// order of the written object's hint, with id and last_modified where
// the hint puts them or else last.
func testKeyOrder(t *testing.T, b storage.Backend) {
	doc := obj(orderedDoc)
	storage.WithOrder(doc, []byte(orderedDoc))
	created := create(t, b, recs, doc)
	want := `{"zeta":1,"alpha":{"mike":1,"bravo":[{"yankee":1,"xray":2}],"kilo":{"delta":1,"charlie":2}},"echo":"e","id":"ord","beta":null,"last_modified":` +
		jsonText(t, created["last_modified"]) + `}`
	var first, firstList string
	for i := 0; i < 5; i++ {
		var got storage.Object
		if err := b.View(ctx, func(tx storage.Tx) (err error) { got, err = tx.Get(recs, "ord"); return }); err != nil {
			t.Fatal(err)
		}
		text := jsonText(t, got)
		listed := jsonText(t, list(t, b, recs, storage.Query{})[0])
		if i == 0 {
			first, firstList = text, listed
		}
		if text != first || listed != firstList {
			t.Fatalf("read %d differs:\n%s\n%s", i, text, first)
		}
	}
	if k, ok := b.(storage.KeyOrderKeeper); ok && k.KeepsKeyOrder() {
		if first != want || firstList != want {
			t.Fatalf("key order not kept:\n got %s\nlist %s\nwant %s", first, firstList, want)
		}
		// A replace with a hint of its own takes its order; keys the
		// hint lacks come last, sorted.
		repl := obj(`{"id":"ord","b":1,"a":2}`)
		storage.WithOrder(repl, []byte(`{"b":1}`))
		update(t, b, func(tx storage.Tx) error { _, err := tx.Replace(recs, repl); return err })
		var got storage.Object
		b.View(ctx, func(tx storage.Tx) (err error) { got, err = tx.Get(recs, "ord"); return })
		text := jsonText(t, got)
		if wantPrefix := `{"b":1,"a":2,"id":"ord","last_modified":`; len(text) < len(wantPrefix) || text[:len(wantPrefix)] != wantPrefix {
			t.Fatalf("replace order: %s", text)
		}
	}
}

func jsonText(t *testing.T, v any) string {
	t.Helper()
	b, err := storage.AppendJSON(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
