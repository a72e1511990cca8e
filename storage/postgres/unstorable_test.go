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

// TestTooLargeForIndex: PostgreSQL refuses a B-tree entry over 2,704
// bytes, so a large value of a declared field (QRY-14) cannot be written;
// the call gets storage.ErrTooLargeForIndex (the client's error, not the
// database's failure), and small values go on.
func TestTooLargeForIndex(t *testing.T) {
	b := pgtest.Start(t).Open(t)
	ref := storage.Ref{Resource: "record", Parent: "/buckets/b/collections/c"}
	// The collection declares the field (DeclareIndexes drops the
	// indexes no collection declares).
	update(t, b, func(tx storage.Tx) error {
		_, err := tx.Replace(storage.Ref{Resource: "collection", Parent: "/buckets/b"}, storage.Object{"id": "c", "indexes": []any{"t"}})
		return err
	})
	if err := b.DeclareIndexes(context.Background(), ref, []string{"t"}); err != nil {
		t.Fatal(err)
	}
	write := func(id string, v any) error {
		return b.Update(context.Background(), func(tx storage.Tx) error {
			_, err := tx.Create(ref, storage.Object{"id": id, "t": v})
			return err
		})
	}
	// Text that does not compress (PostgreSQL compresses large index
	// entries first).
	var big strings.Builder
	for i := 0; big.Len() < 8000; i++ {
		sum := sha256.Sum256([]byte(fmt.Sprint(i)))
		big.WriteString(hex.EncodeToString(sum[:]))
	}
	if err := write("big", big.String()); !errors.Is(err, storage.ErrTooLargeForIndex) {
		t.Errorf("large value: got %v, want storage.ErrTooLargeForIndex", err)
	}
	if err := write("small", "x"); err != nil {
		t.Errorf("small value: %v", err)
	}
}
