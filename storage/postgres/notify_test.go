package postgres_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

// TestMergedWritesNotify: the merged statements of a transaction's last
// round trip send their rows' notifications themselves while the row
// triggers are silenced. Another instance must hear every object (with
// its action: a revived tombstone is a creation, a replaced live object
// an update) and every ACL, as it hears the triggers' notifications.
func TestMergedWritesNotify(t *testing.T) {
	url := pgtest.Start(t).NewDatabase(t)
	a, b := open(t, url), open(t, url)
	uri := func(id string) string { return recs.Parent + "/records/" + id }

	heard := make(chan storage.Change, 256)
	cancel, ok := b.WatchChanges(func(c storage.Change) {
		if !c.All && c.Ref == recs {
			heard <- c
		}
	})
	if !ok {
		t.Fatal("B cannot watch changes")
	}
	defer cancel()
	// expect waits for the changes of one transaction, in any order.
	expect := func(step string, want ...string) {
		t.Helper()
		var got []string
		deadline := time.After(10 * time.Second)
		for len(got) < len(want) {
			select {
			case c := <-heard:
				got = append(got, c.ID+" "+c.Action)
				if c.Timestamp == 0 {
					t.Errorf("%s: change of %s without a timestamp", step, c.ID)
				}
			case <-deadline:
				t.Fatalf("%s: heard %v, want %v", step, got, want)
			}
		}
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, ", ") != strings.Join(want, ", ") {
			t.Fatalf("%s: heard %v, want %v", step, got, want)
		}
	}
	// read warms B's cache, then returns what B serves.
	read := func(id string) string {
		return view(t, b, func(tx storage.Tx) (string, error) {
			o, err := tx.Get(recs, id)
			if err == storage.ErrNotFound {
				o, err = storage.Object{"v": "none"}, nil
			}
			if err != nil {
				return "", err
			}
			acl, err := tx.GetACL(uri(id))
			return fmt.Sprintf("%v %v", o["v"], acl["write"]), err
		})
	}
	// writeAll writes ids in one transaction of A, each with the value
	// prefix+id and that value's account in its ACL; readAll checks B
	// reads them so.
	writeAll := func(create bool, prefix string, ids ...string) {
		t.Helper()
		update(t, a, func(tx storage.Tx) error {
			for _, id := range ids {
				o := storage.Object{"id": id, "v": prefix + id}
				var err error
				if create {
					_, err = tx.Create(recs, o)
				} else {
					_, err = tx.Replace(recs, o)
				}
				if err == nil {
					err = tx.SetACL(uri(id), storage.ACL{"write": {"account:" + prefix + id}})
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
	}
	readAll := func(step, prefix string, ids ...string) {
		t.Helper()
		for _, id := range ids {
			if got, want := read(id), fmt.Sprintf("%s%s [account:%s%s]", prefix, id, prefix, id); got != want {
				t.Fatalf("after the %s B reads %s, want %s", step, got, want)
			}
		}
	}
	for _, id := range []string{"r0", "r1", "r2", "r3"} {
		read(id)
	}

	// Creations: the first takes the list lock, the others are queued
	// and merged.
	writeAll(true, "c", "r0", "r1", "r2")
	expect("create", "r0 create", "r1 create", "r2 create")
	readAll("creations", "c", "r0", "r1", "r2")

	// Replacements of live objects and of a missing one, queued with
	// nothing read first once the list is locked.
	writeAll(false, "u", "r1", "r2", "r3")
	expect("replace", "r1 update", "r2 update", "r3 create")
	readAll("replacements", "u", "r1", "r2", "r3")

	// A tombstone replaced in a merged round trip is a creation.
	update(t, a, func(tx storage.Tx) error { _, err := tx.Delete(recs, "r0", 0); return err })
	expect("delete", "r0 delete")
	read("r0")
	writeAll(false, "v", "r1", "r0", "r2")
	expect("revive", "r0 create", "r1 update", "r2 update")
	readAll("revival", "v", "r0")
	select {
	case c := <-heard:
		t.Fatalf("an extra change was heard: %+v", c)
	case <-time.After(200 * time.Millisecond):
	}
}
