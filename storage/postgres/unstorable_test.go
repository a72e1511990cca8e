package postgres_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

// TestUnstorableText checks what PostgreSQL refuses (U+0000 and invalid
// UTF-8 in text, numbers beyond numeric), in a written object or in a key
// looked up: the call gets storage.ErrUnstorable (a client error, not the
// database's failure) at once, in a write group as alone, and the other
// calls of its group are not touched. A write call whose first round trip failed on its own
// statement once ran again and again (the statements beginning the group
// were taken for an earlier call's writes), stalling every write of the
// instance behind it.
func TestUnstorableText(t *testing.T) {
	b := pgtest.Start(t).Open(t)
	ref := storage.Ref{Resource: "record", Parent: "/buckets/b/collections/c"}
	cases := []struct {
		name string
		fn   func(tx storage.Tx) error
	}{
		{"U+0000 in a value", func(tx storage.Tx) error {
			_, err := tx.Create(ref, storage.Object{"id": "nul-value", "t": "a\x00b"})
			return err
		}},
		{"U+0000 in a key", func(tx storage.Tx) error {
			_, err := tx.Create(ref, storage.Object{"id": "nul-key", "a\x00": "x"})
			return err
		}},
		{"U+0000 in a principal", func(tx storage.Tx) error {
			return tx.SetACL(ref.Parent+"/records/x", storage.ACL{"read": {"a\x00"}})
		}},
		{"U+0000 in an id read for update", func(tx storage.Tx) error {
			_, err := storage.GetForUpdate(tx, ref, "a\x00b")
			return err
		}},
		{"invalid UTF-8 in an id read for update", func(tx storage.Tx) error {
			_, err := storage.GetForUpdate(tx, ref, "a\xffb")
			return err
		}},
		{"a timestamp beyond the timestamp type's range", func(tx storage.Tx) error {
			_, err := tx.Replace(ref, storage.Object{"id": "far", "last_modified": int64(99999999999999999)})
			return err
		}},
		{"a number beyond numeric's range", func(tx storage.Tx) error {
			_, err := tx.Create(ref, storage.Object{"id": "huge", "n": json.Number("1e999999")})
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := b.Update(ctx, c.fn); !errors.Is(err, storage.ErrUnstorable) {
				t.Fatalf("alone: got %v, want storage.ErrUnstorable", err)
			}
			// In a group: the refused call fails alone.
			results := queuedCalls(b, 4, func(i int, tx storage.Tx) error {
				if i == 2 {
					return c.fn(tx)
				}
				_, err := tx.Replace(ref, storage.Object{"id": fmt.Sprintf("ok-%d", i)})
				return err
			})
			for i, err := range results {
				if i == 2 && !errors.Is(err, storage.ErrUnstorable) || i != 2 && err != nil {
					t.Errorf("in a group, call %d: %v", i, err)
				}
			}
		})
	}
	if err := b.View(context.Background(), func(tx storage.Tx) error {
		_, err := tx.Get(ref, "a\x00b")
		return err
	}); !errors.Is(err, storage.ErrUnstorable) {
		t.Errorf("read: got %v, want storage.ErrUnstorable", err)
	}
}

// TestLargeValuesOfDeclaredFields: PostgreSQL refuses a B-tree entry over
// 2,704 bytes, and a declared field's index covers every row of objects;
// a large value of the field (in the declaring collection, in another
// one, or in a history entry whose target is declared) is written all the
// same (its entry is bounded, query.go), and filters and sorts still find
// it.
func TestLargeValuesOfDeclaredFields(t *testing.T) {
	b := pgtest.Start(t).Open(t)
	ref := storage.Ref{Resource: "record", Parent: "/buckets/b/collections/c"}
	history := storage.Ref{Resource: "history", Parent: "/buckets/b"}
	// The collection declares the fields (DeclareIndexes drops the
	// indexes no collection declares).
	update(t, b, func(tx storage.Tx) error {
		_, err := tx.Replace(storage.Ref{Resource: "collection", Parent: "/buckets/b"}, storage.Object{"id": "c", "indexes": []any{"t", "target"}})
		return err
	})
	if err := b.DeclareIndexes(context.Background(), ref, []string{"t", "target"}); err != nil {
		t.Fatal(err)
	}
	// Text that does not compress (PostgreSQL compresses large index
	// entries first).
	var big strings.Builder
	for i := 0; big.Len() < 8000; i++ {
		sum := sha256.Sum256([]byte(fmt.Sprint(i)))
		big.WriteString(hex.EncodeToString(sum[:]))
	}
	update(t, b, func(tx storage.Tx) error {
		for _, o := range []struct {
			ref storage.Ref
			obj storage.Object
		}{
			{ref, storage.Object{"id": "big", "t": big.String()}},
			{ref, storage.Object{"id": "small", "t": "x"}},
			{storage.Ref{Resource: "record", Parent: "/buckets/b/collections/other"}, storage.Object{"id": "o", "t": big.String()}},
			{history, storage.Object{"id": "h", "target": map[string]any{"data": map[string]any{"t": big.String()}}}},
		} {
			if _, err := tx.Create(o.ref, o.obj); err != nil {
				return err
			}
		}
		return nil
	})
	for _, c := range []struct {
		name string
		q    storage.Query
		want string
	}{
		{"equal to the large value", storage.Query{Filters: []storage.Filter{{Field: "t", Op: storage.OpEq, Value: big.String()}}}, "[big]"},
		{"equal to a small value", storage.Query{Filters: []storage.Filter{{Field: "t", Op: storage.OpEq, Value: "x"}}}, "[small]"},
		{"in", storage.Query{Filters: []storage.Filter{{Field: "t", Op: storage.OpIn, Value: []any{"x", big.String()}}}, Sort: []storage.Sort{{Field: "t"}}}, "[big small]"},
		{"sorted, a page", storage.Query{Sort: []storage.Sort{{Field: "t", Desc: true}}, Limit: 1}, "[small]"},
	} {
		got := view(t, b, func(tx storage.Tx) ([]storage.Object, error) { return tx.List(ref, c.q) })
		var ids []string
		for _, o := range got {
			ids = append(ids, storage.ID(o))
		}
		if fmt.Sprint(ids) != c.want {
			t.Errorf("%s: got %v, want %s", c.name, ids, c.want)
		}
	}
}
