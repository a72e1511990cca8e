package bolt_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/bolt"
)

// TestAscendingBulkPagesFillTheFile checks kvengine.Appender on bolt: the
// same 20,000 objects written in the same bulk pages take much less room
// when each page's ids ascend than when they descend (bbolt's pages are
// split fuller), and both files hold the same list.
func TestAscendingBulkPagesFillTheFile(t *testing.T) {
	ref := storage.Ref{Resource: "record", Parent: "/buckets/b/collections/c"}
	const n, page = 20000, 5000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("r%07d", i)
	}
	reversed := make([]string, 0, n)
	for start := 0; start < n; start += page {
		for i := start + page - 1; i >= start; i-- {
			reversed = append(reversed, ids[i])
		}
	}
	write := func(name string, order []string) (int64, []storage.Object) {
		path := filepath.Join(t.TempDir(), name)
		b, err := bolt.Open(path, bolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		for start := 0; start < n; start += page {
			objs := make([]storage.BulkObject, 0, page)
			for _, id := range order[start : start+page] {
				objs = append(objs, storage.BulkObject{
					Object: storage.Object{"id": id, "title": "record " + id, "last_modified": int64(1000)},
					ACL:    storage.ACL{"read": {"system.Authenticated"}},
				})
			}
			err := storage.BulkUpdate(context.Background(), b, func(tx storage.Tx) error {
				return tx.(storage.BulkWriter).WriteMany(ref, objs, func(id string) string { return ref.Parent + "/records/" + id })
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		var list []storage.Object
		if err := b.View(context.Background(), func(tx storage.Tx) error {
			var err error
			list, err = tx.List(ref, storage.Query{Sort: []storage.Sort{{Field: "id"}}})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		b.Close()
		// The pages the trees use (the file grows by steps).
		db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var pages int64
		if err := db.View(func(tx *bbolt.Tx) error {
			return tx.ForEach(func(_ []byte, bk *bbolt.Bucket) error {
				st := bk.Stats()
				pages += int64(st.LeafPageN + st.BranchPageN + st.LeafOverflowN)
				return nil
			})
		}); err != nil {
			t.Fatal(err)
		}
		return pages, list
	}
	inOrder, listA := write("ascending.db", ids)
	descending, listB := write("descending.db", reversed)
	if len(listA) != n || len(listB) != n {
		t.Fatalf("lists of %d and %d objects, want %d", len(listA), len(listB), n)
	}
	for i := range listA {
		if storage.ID(listA[i]) != storage.ID(listB[i]) || listA[i]["title"] != listB[i]["title"] {
			t.Fatalf("object %d: %v vs %v", i, listA[i], listB[i])
		}
	}
	if inOrder*4 > descending*3 {
		t.Errorf("ascending pages take %d pages, descending ones %d: want under three quarters", inOrder, descending)
	}
}
