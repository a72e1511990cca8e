package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/config"
	"github.com/nimbus-server/nimbus/plugins"
	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/bolt"
	"github.com/nimbus-server/nimbus/storage/postgres"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

var transferSettings = map[string]string{"includes": "accounts history default_bucket", "multiauth.policies": "account basicauth",
	"account_create_principals": "system.Everyone", "account_write_principals": "account:admin",
	"bucket_create_principals": "system.Authenticated", "account_bcrypt_cost": "4", "userid_hmac_secret": "s"}

func appOn(t *testing.T, b storage.Backend, extra map[string]string) (*resource.App, *httptest.Server) {
	t.Helper()
	m := map[string]string{}
	for k, v := range transferSettings {
		m[k] = v
	}
	for k, v := range extra {
		m[k] = v
	}
	app, err := plugins.NewApp(config.New(m), b, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	return app, srv
}

func call(t *testing.T, srv *httptest.Server, method, path, auth, body string) (int, http.Header, string) {
	t.Helper()
	res, raw := send(t, method, srv.URL+path, auth, body)
	return res.StatusCode, res.Header, string(raw)
}

// send makes one request as user:password (none when auth is empty),
// with a JSON body when body is not empty.
func send(t *testing.T, method, url, auth, body string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(auth)))
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res, raw
}

// TestExportBoltImportPostgres seeds a bolt server through the API,
// exports it, imports the export into PostgreSQL twice (the second run
// writes nothing), and compares the answers of both servers to the same
// reads.
func TestExportBoltImportPostgres(t *testing.T) {
	src, err := bolt.Open(filepath.Join(t.TempDir(), "src.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	app, s1 := appOn(t, src, nil)
	seed := []struct{ method, path, auth, body string }{
		{"PUT", "/v1/accounts/ann", "", `{"data":{"password":"ann-pw"}}`},
		{"PUT", "/v1/accounts/bob", "", `{"data":{"password":"bob-pw"}}`},
		{"PUT", "/v1/buckets/b", "ann:ann-pw", `{"data":{"title":"T","z":1,"a":2},"permissions":{"read":["account:bob"]}}`},
		{"PUT", "/v1/buckets/b/groups/friends", "ann:ann-pw", `{"data":{"members":["account:bob"]}}`},
		{"PUT", "/v1/buckets/b/collections/c", "ann:ann-pw", `{"permissions":{"write":["/buckets/b/groups/friends"]}}`},
		{"POST", "/v1/buckets/default/collections/notes/records", "bob:bob-pw", `{"data":{"text":"mine"}}`},
	}
	for i := 0; i < 30; i++ {
		seed = append(seed, struct{ method, path, auth, body string }{"PUT", fmt.Sprintf("/v1/buckets/b/collections/c/records/r%02d", i),
			"ann:ann-pw", fmt.Sprintf(`{"data":{"n":%d,"status":"%s","nested":{"y":1,"x":[1,2.5]}}}`, i, []string{"on", "off"}[i%2])})
	}
	seed = append(seed, struct{ method, path, auth, body string }{"DELETE", "/v1/buckets/b/collections/c/records/r03", "ann:ann-pw", ""})
	for _, st := range seed {
		if code, _, body := call(t, s1, st.method, st.path, st.auth, st.body); code >= 300 {
			t.Fatalf("%s %s: %d %s", st.method, st.path, code, body)
		}
	}
	var dump bytes.Buffer
	n, err := exportTo(context.Background(), &dump, app, src, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := postgres.Open(context.Background(), pgtest.Start(t).NewDatabase(t), postgres.Options{MaxConns: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	pgtest.WaitCache(t, pg)
	app2, s2 := appOn(t, pg, map[string]string{"storage_backend": "postgresql"})
	st, err := importFrom(context.Background(), bytes.NewReader(dump.Bytes()), app2, pg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.written+st.tombstones != n || st.tombstones != 1 {
		t.Errorf("import %+v of %d lines", st, n)
	}
	again, err := importFrom(context.Background(), bytes.NewReader(dump.Bytes()), app2, pg, nil)
	if err != nil || again.written != 0 || again.tombstones != 0 || again.skipped != st.written+st.tombstones {
		t.Errorf("second import %+v, %v", again, err)
	}
	reads := []struct{ path, auth string }{
		{"/v1/buckets", "ann:ann-pw"},
		{"/v1/buckets/b", "ann:ann-pw"},
		{"/v1/buckets/b", "bob:bob-pw"},
		{"/v1/buckets/b/groups/friends", "ann:ann-pw"},
		{"/v1/buckets/b/collections/c/records?_sort=n&_limit=7", "ann:ann-pw"},
		{"/v1/buckets/b/collections/c/records?status=on", "bob:bob-pw"},
		{"/v1/buckets/b/collections/c/records/r07", "bob:bob-pw"},
		{"/v1/buckets/b/collections/c/records/r03", "ann:ann-pw"},
		{"/v1/buckets/default/collections/notes/records", "bob:bob-pw"},
		{"/v1/accounts", "ann:ann-pw"},
		{"/v1/accounts/bob", "bob:bob-pw"},
		{"/v1/buckets/b/history?resource_name=record&_limit=5", "ann:ann-pw"},
	}
	for _, rd := range reads {
		c1, h1, b1 := call(t, s1, "GET", rd.path, rd.auth, "")
		c2, h2, b2 := call(t, s2, "GET", rd.path, rd.auth, "")
		if c1 != c2 || h1.Get("ETag") != h2.Get("ETag") || h1.Get("Total-Records") != h2.Get("Total-Records") {
			t.Errorf("%s as %s: %d %s %s against %d %s %s", rd.path, rd.auth, c1, h1.Get("ETag"), h1.Get("Total-Records"), c2, h2.Get("ETag"), h2.Get("Total-Records"))
		}
		if !sameJSON(b1, b2) {
			t.Errorf("%s as %s:\n bolt %s\n   pg %s", rd.path, rd.auth, b1, b2)
		}
	}
}

// sameJSON compares two answers as JSON values (PostgreSQL's JSONB keeps
// keys in an order of its own; the values must be the same). Next-Page
// links differ by their host and token and are left out.
func sameJSON(a, b string) bool {
	va, err1 := resource.DecodeJSON([]byte(a))
	vb, err2 := resource.DecodeJSON([]byte(b))
	if err1 != nil || err2 != nil {
		return a == b
	}
	ea, _ := storage.AppendSortedJSON(nil, va)
	eb, _ := storage.AppendSortedJSON(nil, vb)
	return bytes.Equal(ea, eb)
}

// TestExportImportCommands runs the commands on bolt files.
func TestExportImportCommands(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	b, err := bolt.Open(src, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, s := appOn(t, b, nil)
	call(t, s, "PUT", "/v1/buckets/b", "ann:pw", `{}`)
	call(t, s, "PUT", "/v1/buckets/b/collections/c", "ann:pw", `{}`)
	call(t, s, "PUT", "/v1/buckets/b/collections/c/records/r", "ann:pw", `{"data":{"x":1}}`)
	s.Close()
	b.Close()
	ini := func(name, db string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte("[nimbus]\nstorage_backend = bolt\nstorage_url = "+db+"\nincludes = accounts history default_bucket\n"+
			"multiauth.policies = account basicauth\naccount_create_principals = system.Everyone\naccount_write_principals = account:admin\n"), 0o600)
		return p
	}
	dump := filepath.Join(dir, "dump.jsonl")
	var out, errb bytes.Buffer
	if code := Run([]string{"--ini", ini("a.ini", src), "export", "-o", dump}, nil, &out, &errb); code != 0 || !strings.Contains(out.String(), "objects exported") {
		t.Fatalf("export: %d %s %s", code, out.String(), errb.String())
	}
	dst := filepath.Join(dir, "dst.db")
	for run, want := range []string{"objects and 0 tombstones written, 0 already there", "0 objects and 0 tombstones written"} {
		out.Reset()
		if code := Run([]string{"--ini", ini("b.ini", dst), "import", dump}, nil, &out, &errb); code != 0 || !strings.Contains(out.String(), want) {
			t.Fatalf("import %d: %d %q %s", run, code, out.String(), errb.String())
		}
	}
	errb.Reset()
	if code := Run([]string{"--ini", ini("b.ini", dst), "import", filepath.Join(dir, "a.ini")}, nil, &out, &errb); code == 0 || !strings.Contains(errb.String(), "line 1") {
		t.Errorf("a file that is not an export: %d %s", code, errb.String())
	}
}

// TestTransferRates measures export and import rates: set
// NIMBUS_TRANSFER_RECORDS (for instance 200000) to run it.
func TestTransferRates(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("NIMBUS_TRANSFER_RECORDS"))
	if n == 0 {
		t.Skip("set NIMBUS_TRANSFER_RECORDS to measure")
	}
	ctx := context.Background()
	src, err := bolt.Open(filepath.Join(t.TempDir(), "src.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	app, _ := appOn(t, src, nil)
	ref := storage.Ref{Resource: "record", Parent: "/buckets/b/collections/c"}
	src.Update(ctx, func(tx storage.Tx) error {
		tx.Replace(storage.Ref{Resource: "bucket"}, storage.Object{"id": "b"})
		_, err := tx.Replace(storage.Ref{Resource: "collection", Parent: "/buckets/b"}, storage.Object{"id": "c"})
		return err
	})
	for i := 0; i < n; i += 5000 {
		src.Update(ctx, func(tx storage.Tx) error {
			for j := i; j < i+5000 && j < n; j++ {
				id := fmt.Sprintf("r%07d", j)
				if _, err := tx.Replace(ref, storage.Object{"id": id, "title": "record " + id, "status": "active", "n": j}); err != nil {
					return err
				}
				if err := tx.SetACL(ref.Parent+"/records/"+id, storage.ACL{"write": {"account:ann"}}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	var dump bytes.Buffer
	start := time.Now()
	count, err := exportTo(ctx, &dump, app, src, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("export from bolt: %d objects in %v: %.0f objects/s (%d MB)", count, time.Since(start).Round(time.Millisecond),
		float64(count)/time.Since(start).Seconds(), dump.Len()>>20)
	dst, err := bolt.Open(filepath.Join(t.TempDir(), "dst.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	app2, _ := appOn(t, dst, nil)
	start = time.Now()
	st, err := importFrom(ctx, bytes.NewReader(dump.Bytes()), app2, dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("import into bolt: %d objects in %v: %.0f objects/s", st.written, time.Since(start).Round(time.Millisecond), float64(st.written)/time.Since(start).Seconds())
	pg, err := postgres.Open(ctx, pgtest.Start(t).NewDatabase(t), postgres.Options{MaxConns: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	app3, _ := appOn(t, pg, map[string]string{"storage_backend": "postgresql"})
	start = time.Now()
	st, err = importFrom(ctx, bytes.NewReader(dump.Bytes()), app3, pg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("import into PostgreSQL: %d objects in %v: %.0f objects/s", st.written, time.Since(start).Round(time.Millisecond), float64(st.written)/time.Since(start).Seconds())
	dump.Reset()
	start = time.Now()
	count, err = exportTo(ctx, &dump, app3, pg, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("export from PostgreSQL: %d objects in %v: %.0f objects/s", count, time.Since(start).Round(time.Millisecond), float64(count)/time.Since(start).Seconds())
}

// TestImportFromHTTP copies a running Nimbus into a bolt file over the
// API, twice: the second run copies only what changed meanwhile, and the
// copy answers reads as the source does.
func TestImportFromHTTP(t *testing.T) {
	srcDB, err := bolt.Open(filepath.Join(t.TempDir(), "src.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srcDB.Close()
	_, src := appOn(t, srcDB, nil)
	call(t, src, "PUT", "/v1/accounts/ann", "", `{"data":{"password":"ann-pw"}}`)
	ann := "ann:ann-pw"
	for _, st := range []struct{ method, path, body string }{
		{"PUT", "/v1/buckets/b", `{"data":{"title":"B"},"permissions":{"read":["system.Everyone"]}}`},
		{"PUT", "/v1/buckets/b/groups/g", `{"data":{"members":["account:bob"]}}`},
		{"PUT", "/v1/buckets/b/collections/c", `{"data":{"schema":{"type":"object"}},"permissions":{"record:create":["/buckets/b/groups/g"]}}`},
		{"PUT", "/v1/buckets/b/collections/c/records/r1", `{"data":{"n":1},"permissions":{"write":["account:carl"]}}`},
		{"PUT", "/v1/buckets/b/collections/c/records/r2", `{"data":{"n":2}}`},
		{"PUT", "/v1/buckets/b/collections/c/records/r3", `{"data":{"n":3}}`},
	} {
		if code, _, body := call(t, src, st.method, st.path, ann, st.body); code >= 300 {
			t.Fatalf("%s %s: %d %s", st.method, st.path, code, body)
		}
	}
	dstDB, err := bolt.Open(filepath.Join(t.TempDir(), "dst.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dstDB.Close()
	dstApp, dst := appOn(t, dstDB, nil)
	// Accounts are not copied (their hashes are not readable): the
	// target has its own.
	call(t, dst, "PUT", "/v1/accounts/ann", "", `{"data":{"password":"ann-pw"}}`)
	call(t, dst, "PUT", "/v1/accounts/bob", "", `{"data":{"password":"bob-pw"}}`)
	rm, err := newRemote(src.URL, ann)
	if err != nil {
		t.Fatal(err)
	}
	first, err := fromHTTP(context.Background(), rm, dstApp, dstDB, false, nil)
	if err != nil || first.written != 6 {
		t.Fatalf("first copy %+v, %v", first, err)
	}
	// Changes at the source, then a second run.
	call(t, src, "PATCH", "/v1/buckets/b/collections/c/records/r2", ann, `{"data":{"n":20}}`)
	call(t, src, "DELETE", "/v1/buckets/b/collections/c/records/r3", ann, "")
	call(t, src, "PUT", "/v1/buckets/b/collections/c/records/r4", ann, `{"data":{"n":4}}`)
	second, err := fromHTTP(context.Background(), rm, dstApp, dstDB, false, nil)
	if err != nil || second.written != 2 || second.tombstones != 1 {
		t.Fatalf("second copy %+v, %v (want the update, the new record and the deletion only)", second, err)
	}
	for _, rd := range []struct{ path, auth string }{
		{"/v1/buckets/b", ann}, {"/v1/buckets/b/groups/g", ann}, {"/v1/buckets/b/collections/c", ann},
		{"/v1/buckets/b/collections/c/records?_sort=n", ann}, {"/v1/buckets/b/collections/c/records/r1", ann},
		{"/v1/buckets/b/collections/c/records?_since=0&_sort=last_modified", ann},
	} {
		c1, h1, b1 := call(t, src, "GET", rd.path, rd.auth, "")
		c2, h2, b2 := call(t, dst, "GET", rd.path, rd.auth, "")
		if c1 != c2 || h1.Get("ETag") != h2.Get("ETag") || !sameJSON(b1, b2) {
			t.Errorf("%s: %d %s %s\n against %d %s %s", rd.path, c1, h1.Get("ETag"), b1, c2, h2.Get("ETag"), b2)
		}
	}
	// Group memberships came along: bob may create records through g.
	if code, _, body := call(t, dst, "POST", "/v1/buckets/b/collections/c/records", "bob:bob-pw", `{"data":{}}`); code != 201 {
		t.Errorf("bob through the copied group: %d %s", code, body)
	}
}

// TestProgress: on a terminal, long commands show the count, the rate
// and the time left; elsewhere (scripts, -q) they print nothing.
func TestProgress(t *testing.T) {
	var buf bytes.Buffer
	p := &progressPrinter{w: &buf, on: true, start: time.Now().Add(-2 * time.Second), total: 100, done: func() int64 { return 50 }}
	p.show("imported", 5000, false)
	if s := buf.String(); !strings.Contains(s, "imported 5000 objects") || !strings.Contains(s, "/s") || !strings.Contains(s, "2s left") {
		t.Errorf("progress line %q", s)
	}
	buf.Reset()
	p.show("imported", 6000, false) // within a second of the last: nothing
	p.show("imported", 7000, true)  // the final line, with a newline
	if s := buf.String(); !strings.HasSuffix(s, "\n") || strings.Contains(s, "6000") {
		t.Errorf("final line %q", s)
	}
	var quiet bytes.Buffer
	q := newProgress(globals{}, &quiet) // not a terminal
	q.show("imported", 1, true)
	if quiet.Len() != 0 {
		t.Errorf("progress outside a terminal: %q", quiet.String())
	}
}
