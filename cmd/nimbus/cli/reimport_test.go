package cli

import (
	"bytes"
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/bolt"
	"github.com/nimbus-server/nimbus/storage/postgres"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

// TestReimportKeepsTombstones: an export with tombstones imported twice
// into another backend: the second run writes nothing, and every list
// answers with the source's ETag, _since results and Total-Records
// (operator traps, row 10).
func TestReimportKeepsTombstones(t *testing.T) {
	srcDB, err := bolt.Open(filepath.Join(t.TempDir(), "src.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srcDB.Close()
	srcApp, src := appOn(t, srcDB, nil)
	ann := "ann:ann-pw"
	call(t, src, "PUT", "/v1/buckets/b", ann, `{}`)
	call(t, src, "PUT", "/v1/buckets/b/collections/c", ann, `{}`)
	for _, id := range []string{"r1", "r2", "r3", "r4"} {
		call(t, src, "PUT", "/v1/buckets/b/collections/c/records/"+id, ann, `{"data":{}}`)
	}
	call(t, src, "DELETE", "/v1/buckets/b/collections/c/records/r2", ann, "")
	call(t, src, "DELETE", "/v1/buckets/b/collections/c/records/r4", ann, "")
	var export bytes.Buffer
	if _, err := exportTo(context.Background(), &export, srcApp, srcDB, true, nil); err != nil {
		t.Fatal(err)
	}
	targets := map[string]func() storage.Backend{
		"bolt": func() storage.Backend {
			b, err := bolt.Open(filepath.Join(t.TempDir(), "dst.db"), bolt.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		"postgresql": func() storage.Backend {
			b, err := postgres.Open(context.Background(), pgtest.Start(t).NewDatabase(t), postgres.Options{MaxConns: 5})
			if err != nil {
				t.Fatal(err)
			}
			pgtest.WaitCache(t, b)
			return b
		},
	}
	for name, open := range targets {
		t.Run(name, func(t *testing.T) {
			dstDB := open()
			defer dstDB.Close()
			reimport(t, src, export.Bytes(), dstDB)
		})
	}
}

// reimport imports the export twice into dstDB and compares each time.
func reimport(t *testing.T, src *httptest.Server, export []byte, dstDB storage.Backend) {
	ann := "ann:ann-pw"
	dstApp, dst := appOn(t, dstDB, nil)
	for run := 1; run <= 2; run++ {
		st, err := importFrom(context.Background(), bytes.NewReader(export), dstApp, dstDB, nil)
		if err != nil {
			t.Fatalf("import %d: %v", run, err)
		}
		if run == 2 && (st.written != 0 || st.tombstones != 0) {
			t.Errorf("the second import wrote %+v", st)
		}
		for _, path := range []string{"/v1/buckets/b/collections/c/records", "/v1/buckets/b/collections/c/records?_since=0",
			"/v1/buckets/b/collections", "/v1/buckets"} {
			c1, h1, b1 := call(t, src, "GET", path, ann, "")
			c2, h2, b2 := call(t, dst, "GET", path, ann, "")
			if c1 != c2 || h1.Get("ETag") != h2.Get("ETag") || h1.Get("Total-Records") != h2.Get("Total-Records") || !sameJSON(b1, b2) {
				t.Errorf("import %d, %s: %d %s %s %s\n against %d %s %s %s", run, path, c1, h1.Get("ETag"), h1.Get("Total-Records"), b1,
					c2, h2.Get("ETag"), h2.Get("Total-Records"), b2)
			}
		}
	}
}
