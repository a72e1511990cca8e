package kinto_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/bolt"
	"github.com/nimbus-server/nimbus/storage/memory"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

// ordered is a record body whose objects, at every level, are in no
// sorted order.
const ordered = `{"zulu":1,"alpha":{"mike":1,"bravo":[{"yankee":1,"xray":2}],"kilo":{"delta":1,"charlie":2}},"echo":"e","quebec":true,"golf":[3,2,1],"hotel":{"z":{"y":{"x":1}}}}`

// dataText returns the JSON text of body.data in a raw answer.
func dataText(raw []byte) string { return string(storage.RawField(raw, "data")) }

// withStamp is the expected text of a stored object: the sent keys, then
// id and last_modified, where Kinto puts them.
func withStamp(sent, id string, lm any) string {
	return strings.TrimSuffix(sent, "}") + fmt.Sprintf(`,"id":%q,"last_modified":%v}`, id, lm)
}

// readsAs reads path n times and checks every answer's data is want (or,
// with want "", that they are all the same); it returns the text.
func readsAs(t *testing.T, s *apitest.Server, path, want string) string {
	t.Helper()
	first := ""
	for i := 0; i < 4; i++ {
		r := s.Do(R{Method: "GET", Path: path, Auth: alice}).Expect(t, 200, 0)
		got := dataText(r.Raw)
		if i == 0 {
			first = got
		}
		if got != first {
			t.Fatalf("%s: read %d differs:\n%s\n%s", path, i, got, first)
		}
	}
	if want != "" && first != want {
		t.Fatalf("%s:\n got %s\nwant %s", path, first, want)
	}
	return first
}

func keyOrderBackends(t *testing.T, fn func(t *testing.T, s *apitest.Server, keeps bool)) {
	settings := map[string]string{"includes": "default_bucket history"}
	t.Run("memory", func(t *testing.T) { fn(t, apitest.NewWithBackend(t, memory.New(), settings), true) })
	t.Run("bolt", func(t *testing.T) {
		b, err := bolt.Open(filepath.Join(t.TempDir(), "nimbus.db"), bolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		fn(t, apitest.NewWithBackend(t, b, settings), true)
	})
	t.Run("postgresql", func(t *testing.T) {
		fn(t, apitest.NewPostgresConns(t, pgtest.Start(t).NewDatabase(t), 10, map[string]string{"includes": "default_bucket history"}), false)
	})
}

// TestKeyOrder: answers keep the client's key order through every write
// path on the backends that keep it, and give the same bytes on every
// read everywhere (RES-02, "Key order").
func TestKeyOrder(t *testing.T) {
	keyOrderBackends(t, func(t *testing.T, s *apitest.Server, keeps bool) {
		want := func(text string) string {
			if keeps {
				return text
			}
			return "" // JSONB's order: only stability is checked
		}
		setup(t, s)
		lm := func(path string) any {
			return s.Do(R{Method: "GET", Path: path, Auth: alice}).Expect(t, 200, 0).Data()["last_modified"]
		}

		// PUT (create).
		s.Do(R{Method: "PUT", Path: recs + "/put", Auth: alice, Body: `{"data":` + ordered + `}`}).Expect(t, 201, 0)
		readsAs(t, s, recs+"/put", want(withStamp(ordered, "put", lm(recs+"/put"))))

		// POST (create with a generated id).
		p := s.Do(R{Method: "POST", Path: recs, Auth: alice, Body: `{"data":` + ordered + `}`}).Expect(t, 201, 0)
		pid := p.Data()["id"].(string)
		readsAs(t, s, recs+"/"+pid, want(withStamp(ordered, pid, lm(recs+"/"+pid))))

		// PUT (replace) in another order.
		other := `{"hotel":{"z":1,"a":2},"zulu":2,"beta":[{"q":1,"p":2}]}`
		s.Do(R{Method: "PUT", Path: recs + "/put", Auth: alice, Body: `{"data":` + other + `}`}).Expect(t, 200, 0)
		readsAs(t, s, recs+"/put", want(withStamp(other, "put", lm(recs+"/put"))))

		// PATCH, JSON merge: existing keys stay in place, new ones follow.
		s.Do(R{Method: "PATCH", Path: recs + "/put", Auth: alice, Body: `{"data":{"yankee":1,"zulu":3,"alpha":0}}`}).Expect(t, 200, 0)
		readsAs(t, s, recs+"/put", want(fmt.Sprintf(`{"hotel":{"z":1,"a":2},"zulu":3,"beta":[{"q":1,"p":2}],"id":"put","last_modified":%v,"yankee":1,"alpha":0}`, lm(recs+"/put"))))

		// PATCH, merge-patch: nested objects merge the same way.
		s.Do(R{Method: "PATCH", Path: recs + "/put", Auth: alice, Body: `{"data":{"hotel":{"m":3,"z":null}}}`,
			Headers: map[string]string{"Content-Type": "application/merge-patch+json"}}).Expect(t, 200, 0)
		readsAs(t, s, recs+"/put", want(fmt.Sprintf(`{"hotel":{"a":2,"m":3},"zulu":3,"beta":[{"q":1,"p":2}],"id":"put","last_modified":%v,"yankee":1,"alpha":0}`, lm(recs+"/put"))))

		// PATCH, JSON-Patch: an added key comes last.
		s.Do(R{Method: "PATCH", Path: recs + "/put", Auth: alice, Body: `[{"op":"add","path":"/data/charlie","value":{"b":1,"a":2}}]`,
			Headers: map[string]string{"Content-Type": "application/json-patch+json"}}).Expect(t, 200, 0)
		got := readsAs(t, s, recs+"/put", "")
		if keeps && !strings.HasSuffix(got, `"yankee":1,"alpha":0,"charlie":{"a":2,"b":1}}`) {
			t.Errorf("JSON-Patch add: %s", got)
		}

		// Batch.
		s.Do(R{Method: "POST", Path: "/v1/batch", Auth: alice, Body: `{"defaults":{"method":"PUT"},"requests":[{"path":"` +
			strings.TrimPrefix(recs, "/v1") + `/batched","body":{"data":` + ordered + `}}]}`}).Expect(t, 200, 0)
		readsAs(t, s, recs+"/batched", want(withStamp(ordered, "batched", lm(recs+"/batched"))))

		// Default bucket, with its implicit creations.
		d := s.Do(R{Method: "POST", Path: "/v1/buckets/default/collections/notes/records", Auth: alice, Body: `{"data":` + ordered + `}`}).Expect(t, 201, 0)
		did := d.Data()["id"].(string)
		readsAs(t, s, "/v1/buckets/default/collections/notes/records/"+did,
			want(withStamp(ordered, did, lm("/v1/buckets/default/collections/notes/records/"+did))))

		// A collection's schema (Kinto Admin builds its form from it).
		schema := `{"schema":{"type":"object","properties":{"title":{"type":"string"},"done":{"type":"boolean"},"author":{"type":"string"}}}}`
		s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/withschema", Auth: alice, Body: `{"data":` + schema + `}`}).Expect(t, 201, 0)
		readsAs(t, s, "/v1/buckets/b/collections/withschema", want(withStamp(schema, "withschema", lm("/v1/buckets/b/collections/withschema"))))

		// Lists, whole and with _fields, and history entries.
		for _, path := range []string{recs + "?_sort=id", recs + "?_sort=-last_modified&_fields=zulu,alpha", recs + "?zulu=1", "/v1/buckets/b/history"} {
			readsAs(t, s, path, "")
		}
		// The key objects keep their order under is no client key; text
		// that repeats a key is stored, sorted.
		s.Do(R{Method: "PUT", Path: recs + "/reserved", Auth: alice, Body: `{"data":{"\u0000order":1}}`}).Expect(t, 400, 107)
		s.Do(R{Method: "PUT", Path: recs + "/dup", Auth: alice, Body: `{"data":{"b":1,"a":1,"b":2}}`}).Expect(t, 201, 0)
		if got := readsAs(t, s, recs+"/dup", ""); !strings.HasPrefix(got, `{"a":1,"b":2,`) {
			t.Errorf("repeated keys: %s", got)
		}
		fields := s.Do(R{Method: "GET", Path: recs + "/" + pid + "?_fields=alpha,zulu", Auth: alice}).Expect(t, 200, 0)
		if keeps && !strings.HasPrefix(dataText(fields.Raw), `{"zulu":1,"alpha":{"mike":1,`) {
			t.Errorf("_fields keeps the order: %s", fields.Raw)
		}
		h := s.Do(R{Method: "GET", Path: "/v1/buckets/b/history?uri=" + strings.TrimPrefix(recs, "/v1") + "/batched", Auth: alice}).Expect(t, 200, 0)
		entries := storage.ArrayElems(storage.RawField(h.Raw, "data"))
		if len(entries) != 1 {
			t.Fatalf("history of the batched record: %s", h.Raw)
		}
		target := string(storage.RawField(storage.RawField(entries[0], "target"), "data"))
		if keeps && target != withStamp(ordered, "batched", lm(recs+"/batched")) {
			t.Errorf("history target.data:\n got %s", target)
		}
	})
}
