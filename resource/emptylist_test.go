package resource_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/memory"
)

// racingBackend lets another writer commit a book just before the next
// write transaction runs, once armed: a write landing between a list
// read and the transaction that gives the empty list its timestamp.
type racingBackend struct {
	storage.Backend
	armed atomic.Bool
	book  storage.Object
}

func (b *racingBackend) Update(ctx context.Context, fn func(storage.Tx) error) error {
	if b.armed.CompareAndSwap(true, false) {
		err := b.Backend.Update(ctx, func(tx storage.Tx) (err error) {
			b.book, err = tx.Create(storage.Ref{Resource: "book", Parent: "/shelves/s1"}, storage.Object{"id": "b1"})
			return err
		})
		if err != nil {
			return err
		}
	}
	return b.Backend.Update(ctx, fn)
}

// TestEmptyListETagNotAheadOfPage: the first read of a list that was
// never written sets its timestamp in a write transaction of its own. A
// write that lands between the page's read and that transaction must be
// in the page its ETag is sent with; an ETag ahead of its page makes a
// client that syncs from it (_since, as kinto.js does) never get that
// write.
func TestEmptyListETagNotAheadOfPage(t *testing.T) {
	backend := &racingBackend{Backend: memory.New()}
	srv := shelfServer(t, backend, nil)

	get := func() (etag string, items []map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/shelves/s1/books", nil)
		req.Header.Set("Authorization", "Test alice")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		var body struct{ Data []map[string]any }
		if res.StatusCode != http.StatusOK || json.Unmarshal(raw, &body) != nil {
			t.Fatalf("GET books: %d %s", res.StatusCode, raw)
		}
		return res.Header.Get("ETag"), body.Data
	}
	backend.armed.Store(true)
	etag, items := get()
	if backend.armed.Load() {
		t.Fatal("the list read did not set the empty list's timestamp in a write transaction")
	}
	want := `"` + strconv.FormatInt(storage.LastModified(backend.book), 10) + `"`
	if etag != want || len(items) != 1 || items[0]["id"] != "b1" {
		t.Fatalf("ETag %s with %d books, want ETag %s with the book written meanwhile", etag, len(items), want)
	}
	// Read again: the same answer, now from an ordinary read.
	if etag2, items2 := get(); etag2 != etag || len(items2) != 1 {
		t.Fatalf("second read: ETag %s with %d books, want %s with 1", etag2, len(items2), etag)
	}
}
