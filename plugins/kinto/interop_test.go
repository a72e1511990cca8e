package kinto_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/storage/postgres"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

// TestKintoDatabase serves rows laid out the way Kinto 26 writes them, and
// checks that Nimbus writes rows the way Kinto reads them.
func TestKintoDatabase(t *testing.T) {
	pg := pgtest.Start(t)
	url := pg.NewDatabase(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	s0 := apitest.New(t, nil)
	aliceID := userID(t, s0, alice)
	bobID := userID(t, s0, bob)
	// What Kinto writes: data without id and last_modified, timestamps in
	// the TIMESTAMP column, ACLs one row per principal, group members in
	// user_principals, history entries as objects under the bucket.
	for _, q := range []string{
		`INSERT INTO objects (id, parent_id, resource_name, data, last_modified, deleted) VALUES
		  ('blog', '', 'bucket', '{"title":"Blog"}', from_epoch(1700000000000), FALSE),
		  ('posts', '/buckets/blog', 'collection', '{}', from_epoch(1700000000100), FALSE),
		  ('eds', '/buckets/blog', 'group', '{"members":["` + bobID + `"]}', from_epoch(1700000000150), FALSE),
		  ('r1', '/buckets/blog/collections/posts', 'record', '{"title":"hello","n":1}', from_epoch(1700000000200), FALSE),
		  ('r0', '/buckets/blog/collections/posts', 'record', '{"deleted":true}', from_epoch(1700000000300), TRUE),
		  ('h1', '/buckets/blog', 'history', '{"action":"create","resource_name":"record","uri":"/buckets/blog/collections/posts/records/r1","user_id":"` + aliceID + `","bucket_id":"blog","collection_id":"posts","record_id":"r1","date":"2023-11-14T22:13:20.200000","target":{"data":{"id":"r1","title":"hello"},"permissions":{}}}', from_epoch(1700000000210), FALSE)`,
		`INSERT INTO access_control_entries (object_id, permission, principal) VALUES
		  ('/buckets/blog', 'write', '` + aliceID + `'),
		  ('/buckets/blog/collections/posts', 'write', '/buckets/blog/groups/eds')`,
		`INSERT INTO user_principals (user_id, principal) VALUES ('` + bobID + `', '/buckets/blog/groups/eds')`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	backend, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pgtest.WaitCache(t, backend)
	s := apitest.NewWithBackend(t, backend, map[string]string{"includes": "history", "storage_backend": "postgresql"})
	r := s.Do(R{Method: "GET", Path: "/v1/buckets/blog/collections/posts/records/r1", Auth: alice}).Expect(t, 200, 0)
	if r.Data()["title"] != "hello" || num(r.Data()["last_modified"]) != 1700000000200 || r.Header.Get("ETag") != `"1700000000200"` {
		t.Errorf("record: %s", r.Raw)
	}
	since := s.Do(R{Method: "GET", Path: "/v1/buckets/blog/collections/posts/records?_since=1700000000000", Auth: alice}).Expect(t, 200, 0)
	if fmt.Sprint(since.IDs()) != "[r0 r1]" {
		t.Errorf("tombstones: %s", since.Raw)
	}
	if l := s.Do(R{Method: "GET", Path: "/v1/buckets/blog/collections/posts/records", Auth: alice}); l.Header.Get("ETag") != `"1700000000300"` {
		t.Errorf("list timestamp %s", l.Header.Get("ETag"))
	}
	// Bob writes through the group membership stored by Kinto.
	s.Do(R{Method: "PUT", Path: "/v1/buckets/blog/collections/posts/records/r2", Auth: bob, Body: `{"data":{"title":"from nimbus"}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "GET", Path: "/v1/buckets/blog", Auth: bob}).Expect(t, 403, 121)
	h := s.Do(R{Method: "GET", Path: "/v1/buckets/blog/history?record_id=r1", Auth: alice}).Expect(t, 200, 0)
	if len(h.Items()) != 1 || h.Items()[0]["id"] != "h1" {
		t.Errorf("Kinto's history entries: %s", h.Raw)
	}
	s.Do(R{Method: "DELETE", Path: "/v1/buckets/blog/collections/posts/records/r1", Auth: alice}).Expect(t, 200, 0)

	// What Nimbus wrote, as Kinto reads it.
	var data string
	var deleted bool
	var lm int64
	if err := conn.QueryRow(ctx, `SELECT data::TEXT, deleted, as_epoch(last_modified) FROM objects
	  WHERE id = 'r2' AND parent_id = '/buckets/blog/collections/posts' AND resource_name = 'record'`).Scan(&data, &deleted, &lm); err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	json.Unmarshal([]byte(data), &d)
	if deleted || d["title"] != "from nimbus" || d["id"] != nil || d["last_modified"] != nil || lm <= 1700000000300 {
		t.Errorf("Nimbus row: %s deleted=%v lm=%d", data, deleted, lm)
	}
	if err := conn.QueryRow(ctx, `SELECT data::TEXT, deleted FROM objects WHERE id = 'r1' AND resource_name = 'record'`).Scan(&data, &deleted); err != nil {
		t.Fatal(err)
	}
	if !deleted || strings.ReplaceAll(data, " ", "") != `{"deleted":true}` {
		t.Errorf("Nimbus tombstone: %s %v", data, deleted)
	}
	var n int
	conn.QueryRow(ctx, `SELECT COUNT(*) FROM access_control_entries WHERE object_id = '/buckets/blog/collections/posts/records/r2' AND permission = 'write' AND principal = $1`, bobID).Scan(&n)
	if n != 1 {
		t.Error("Nimbus ACL rows: the creator's write entry")
	}
	conn.QueryRow(ctx, `SELECT COUNT(*) FROM objects WHERE resource_name = 'history' AND parent_id = '/buckets/blog' AND data->>'record_id' = 'r2'`).Scan(&n)
	if n != 1 {
		t.Error("Nimbus history rows as Kinto lays them out")
	}
}
