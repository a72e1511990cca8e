package storagetest

import (
	"fmt"
	"testing"

	"github.com/nimbus-server/nimbus/storage"
)

// testExistingIDs checks storage.ExistingIDs (a backend's
// ExistenceChecker, or Exists one id at a time) against Exists: live
// objects only, of the list asked about, in reads and in writes that
// changed the list, past the size of a backend's chunk.
func testExistingIDs(t *testing.T, b storage.Backend) {
	for _, id := range []string{"a", "b", "c"} {
		create(t, b, recs, obj(`{"id":"`+id+`"}`))
	}
	create(t, b, other, obj(`{"id":"x"}`))
	update(t, b, func(tx storage.Tx) error {
		_, err := tx.Delete(recs, "b", 0)
		return err
	})
	// Many ids nobody stored, with live ones among them far apart, and
	// ids asked twice.
	asked := []string{"a", "b", "x", "missing", "a"}
	for i := 0; i < 12000; i++ {
		asked = append(asked, fmt.Sprintf("n%05d", i))
	}
	asked = append(asked, "c")
	check := func(what string, tx storage.Tx, want string) {
		t.Helper()
		got, err := storage.ExistingIDs(tx, recs, asked)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		for id := range got {
			if ok, err := tx.Exists(recs, id); err != nil || !ok {
				t.Errorf("%s: %s reported, Exists says %v %v", what, id, ok, err)
			}
		}
		if s := fmt.Sprint(got); s != want {
			t.Errorf("%s: got %s, want %s", what, s, want)
		}
	}
	if err := b.View(ctx, func(tx storage.Tx) error {
		check("read", tx, "map[a:true c:true]")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	update(t, b, func(tx storage.Tx) error {
		if _, err := tx.Create(recs, obj(`{"id":"n06000"}`)); err != nil {
			return err
		}
		if _, err := tx.Delete(recs, "a", 0); err != nil {
			return err
		}
		check("in the writing transaction", tx, "map[c:true n06000:true]")
		return nil
	})
}
