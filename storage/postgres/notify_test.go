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
	write := func(step string, fn func(tx storage.Tx) error) {
		t.Helper()
		update(t, a, fn)
	}
	replace := func(tx storage.Tx, id, v string, create bool) error {
		var err error
		if create {
			_, err = tx.Create(recs, storage.Object{"id": id, "v": v})
		} else {
			_, err = tx.Replace(recs, storage.Object{"id": id, "v": v})
		}
		if err == nil {
			err = tx.SetACL(uri(id), storage.ACL{"write": {"account:" + v}})
		}
		return err
	}
	for _, id := range []string{"r0", "r1", "r2", "r3"} {
		read(id)
	}

	// Creations: the first takes the list lock, the others are queued
	// and merged.
	write("create", func(tx storage.Tx) error {
		for _, id := range []string{"r0", "r1", "r2"} {
			if err := replace(tx, id, "c"+id, true); err != nil {
				return err
			}
		}
		return nil
	})
	expect("create", "r0 create", "r1 create", "r2 create")
	for _, id := range []string{"r0", "r1", "r2"} {
		if got, want := read(id), fmt.Sprintf("c%s [account:c%s]", id, id); got != want {
			t.Fatalf("after the creations B reads %s, want %s", got, want)
		}
	}

	// Replacements of live objects and of a missing one, queued with
	// nothing read first once the list is locked.
	write("replace", func(tx storage.Tx) error {
		for _, id := range []string{"r1", "r2", "r3"} {
			if err := replace(tx, id, "u"+id, false); err != nil {
				return err
			}
		}
		return nil
	})
	expect("replace", "r1 update", "r2 update", "r3 create")
	for _, id := range []string{"r1", "r2", "r3"} {
		if got, want := read(id), fmt.Sprintf("u%s [account:u%s]", id, id); got != want {
			t.Fatalf("after the replacements B reads %s, want %s", got, want)
		}
	}

	// A tombstone replaced in a merged round trip is a creation.
	write("delete", func(tx storage.Tx) error { _, err := tx.Delete(recs, "r0", 0); return err })
	expect("delete", "r0 delete")
	read("r0")
	write("revive", func(tx storage.Tx) error {
		for _, id := range []string{"r1", "r0", "r2"} {
			if err := replace(tx, id, "v"+id, false); err != nil {
				return err
			}
		}
		return nil
	})
	expect("revive", "r0 create", "r1 update", "r2 update")
	if got := read("r0"); got != "vr0 [account:vr0]" {
		t.Fatalf("after the revival B reads %s", got)
	}
	select {
	case c := <-heard:
		t.Fatalf("an extra change was heard: %+v", c)
	case <-time.After(200 * time.Millisecond):
	}
}
