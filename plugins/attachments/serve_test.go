package attachments_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/bolt"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

// bigContent is a file of several chunks (the database store cuts at
// 256 KiB), with bytes that differ at every position.
func bigContent() []byte {
	b := make([]byte, 700_000)
	rand.New(rand.NewSource(1)).Read(b)
	return b
}

// checkServing reads a stored file back through /attachments/ from
// server s: whole, by ranges (one crossing a chunk boundary, one suffix),
// with its hash as ETag (304 when it matches) and the headers that keep
// it from running on the origin.
func checkServing(t *testing.T, s *apitest.Server, location string, content []byte, mimetype string) {
	t.Helper()
	res, body := get(t, s, location, nil)
	if res.StatusCode != 200 || !bytes.Equal(body, content) {
		t.Fatalf("GET %s: %d, %d bytes (want %d)", location, res.StatusCode, len(body), len(content))
	}
	sum := sha256.Sum256(content)
	h := res.Header
	if h.Get("ETag") != `"`+hex.EncodeToString(sum[:])+`"` || h.Get("Content-Type") != mimetype ||
		h.Get("X-Content-Type-Options") != "nosniff" || !strings.HasPrefix(h.Get("Content-Security-Policy"), "sandbox") ||
		!strings.Contains(h.Get("Cache-Control"), "max-age=") {
		t.Errorf("headers %v", h)
	}
	ranges := []struct {
		header   string
		from, to int
	}{{"bytes=262100-262200", 262100, 262201}, {"bytes=0-0", 0, 1}, {"bytes=-10", len(content) - 10, len(content)}}
	for _, r := range ranges {
		if r.to > len(content) || r.from < 0 {
			continue
		}
		res, body := get(t, s, location, map[string]string{"Range": r.header})
		if res.StatusCode != 206 || !bytes.Equal(body, content[r.from:r.to]) {
			t.Errorf("Range %s: %d, %q", r.header, res.StatusCode, body)
		}
	}
	res, _ = get(t, s, location, map[string]string{"If-None-Match": h.Get("ETag")})
	if res.StatusCode != 304 {
		t.Errorf("If-None-Match with the hash: %d", res.StatusCode)
	}
}

// TestServeStoredFiles: files kept in the storage backend are served by
// Nimbus under /attachments/ on each backend; on PostgreSQL, a file
// uploaded through one instance is downloaded through another, and
// removed for both.
func TestServeStoredFiles(t *testing.T) {
	content := bigContent()
	settings := map[string]string{"includes": "attachments", "attachment.extensions": "any"}
	run := func(t *testing.T, a, b *apitest.Server) {
		for _, s := range []*apitest.Server{a} {
			s.Do(apitest.Req{Method: "PUT", Path: "/v1/buckets/b", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
			s.Do(apitest.Req{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
		}
		const rec = "/buckets/b/collections/c/records/r1"
		r := upload(a, alice, rec, nil, part{name: "attachment", filename: "big.bin", contentType: "application/octet-stream", content: string(content)}).Expect(t, 201, 0)
		loc := r.Body["location"].(string)
		path := loc[strings.Index(loc, "/attachments/"):]
		checkServing(t, b, path, content, "application/octet-stream")
		page := upload(a, alice, "/buckets/b/collections/c/records/r2", nil,
			part{name: "attachment", filename: "page.html", contentType: "text/html", content: `<script>alert(document.cookie)</script>`}).Expect(t, 201, 0)
		ploc := page.Body["location"].(string)
		checkServing(t, b, ploc[strings.Index(ploc, "/attachments/"):], []byte(`<script>alert(document.cookie)</script>`), "text/html")
		// A type kept as sent that is no media type is served as bytes.
		odd := upload(a, alice, "/buckets/b/collections/c/records/r3", nil,
			part{name: "attachment", filename: "odd.txt", contentType: "text/ html", content: "x"}).Expect(t, 201, 0)
		if odd.Body["mimetype"] != "text/ html" {
			t.Errorf("mimetype %v", odd.Body["mimetype"])
		}
		oloc := odd.Body["location"].(string)
		checkServing(t, b, oloc[strings.Index(oloc, "/attachments/"):], []byte("x"), "application/octet-stream")
		b.Do(apitest.Req{Method: "DELETE", Path: "/v1" + rec, Auth: alice}).Expect(t, 200, 0)
		for _, s := range []*apitest.Server{a, b} {
			if res, body := get(t, s, path, nil); res.StatusCode != 404 || !strings.Contains(string(body), `"errno":110`) {
				t.Errorf("a deleted record's file: %d %s", res.StatusCode, body)
			}
		}
	}
	t.Run("memory", func(t *testing.T) {
		s := apitest.New(t, settings)
		run(t, s, s)
		res, body := get(t, s, "/attachments/nope.txt", nil)
		if res.StatusCode != 404 || !strings.Contains(string(body), `"errno":110`) {
			t.Errorf("unknown file: %d %s", res.StatusCode, body)
		}
		post := s.Do(apitest.Req{Method: "POST", Path: "/attachments/x.txt", Body: "x"})
		if post.Status != 405 {
			t.Errorf("POST /attachments/: %d", post.Status)
		}
	})
	t.Run("bolt", func(t *testing.T) {
		b, err := bolt.Open(filepath.Join(t.TempDir(), "nimbus.db"), bolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		s := apitest.NewWithBackend(t, b, settings)
		run(t, s, s)
	})
	t.Run("postgresql, two instances", func(t *testing.T) {
		url := pgtest.Start(t).NewDatabase(t)
		run(t, apitest.NewPostgres(t, url, settings), apitest.NewPostgres(t, url, settings))
	})
}

// TestHeartbeat: the store is written and cleaned by /__heartbeat__.
func TestHeartbeat(t *testing.T) {
	s := apitest.New(t, map[string]string{"includes": "attachments"})
	r := s.Do(apitest.Req{Method: "GET", Path: "/v1/__heartbeat__"}).Expect(t, 200, 0)
	if r.Body["attachments"] != true {
		t.Fatalf("heartbeat %s", r.Raw)
	}
	err := s.Backend.View(context.Background(), func(tx storage.Tx) error {
		n, err := tx.Count(storage.Ref{Resource: "attachments", Parent: "__attachments__"}, nil, false)
		if n != 0 {
			t.Errorf("links left by the heartbeat: %d", n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCountersCountAttachments: /__counters__ counts the files linked
// to records.
func TestCountersCountAttachments(t *testing.T) {
	s := setup(t, map[string]string{"includes": "attachments counters"})
	upload(s, alice, "/buckets/b/collections/c/records/r1", nil, file("a.txt", "x")).Expect(t, 201, 0)
	upload(s, alice, "/buckets/b/collections/c/records/r2", nil, file("b.txt", "y")).Expect(t, 201, 0)
	upload(s, alice, "/buckets/b/collections/c/records/r2", nil, file("c.txt", "z")).Expect(t, 200, 0) // replaces b.txt
	r := s.Do(apitest.Req{Method: "GET", Path: "/v1/__counters__"}).Expect(t, 200, 0)
	if n := r.Body["objects"].(map[string]any)["attachments"]; fmt.Sprint(n) != "2" {
		t.Fatalf("counters %s", r.Raw)
	}
}

// TestCapability: the attachments capability reports the server's
// version and the base URL with a trailing slash; without a base_url
// setting, the absolute URL of Nimbus's /attachments/ as the request
// reached the server, which the files' locations start with (Kinto
// Admin joins a relative base with an absolute location into a broken
// link).
func TestCapability(t *testing.T) {
	for _, c := range []struct {
		settings map[string]string
		base     string
	}{
		{map[string]string{"includes": "attachments"}, ""},
		{map[string]string{"includes": "attachments", "attachment.base_url": "https://cdn.example/files"}, "https://cdn.example/files/"},
		{map[string]string{"includes": "attachments", "attachment.base_url": "https://cdn.example/files", "attachment.extra.base_url": "https://x.example/"}, "https://x.example/"},
	} {
		s := apitest.New(t, c.settings)
		r := s.Do(apitest.Req{Method: "GET", Path: "/v1/"}).Expect(t, 200, 0)
		capa := r.Body["capabilities"].(map[string]any)["attachments"].(map[string]any)
		if c.base == "" {
			c.base = strings.TrimSuffix(r.Body["url"].(string), "v1/") + "attachments/"
			if !strings.HasPrefix(c.base, "http://127.0.0.1:") {
				t.Fatalf("root url %v", r.Body["url"])
			}
		}
		if capa["version"] != r.Body["project_version"] || capa["base_url"] != c.base || capa["url"] != "https://github.com/Kinto/kinto-attachment/" {
			t.Errorf("capability %v (project_version %v)", capa, r.Body["project_version"])
		}
	}
}
