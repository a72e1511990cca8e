package attachments_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

var (
	alice = apitest.Basic("alice", "pw")
	bob   = apitest.Basic("bob", "pw")
)

// setup starts a server with the plugin and alice's bucket b and
// collection c.
func setup(t *testing.T, settings map[string]string) *apitest.Server {
	t.Helper()
	values := map[string]string{"includes": "attachments flush"}
	for k, v := range settings {
		values[k] = v
	}
	s := apitest.New(t, values)
	s.Do(apitest.Req{Method: "PUT", Path: "/v1/buckets/b", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
	s.Do(apitest.Req{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
	return s
}

// TestUploadErrors: every refused upload answers Kinto's error, and
// leaves nothing stored and nothing deleted: the folder holds only the
// record's first file, and the record is unchanged.
func TestUploadErrors(t *testing.T) {
	dir := t.TempDir()
	s := setup(t, map[string]string{"attachment.base_path": dir, "attachment.max_size_bytes": "10"})
	const rec = "/buckets/b/collections/c/records/r1"
	first := upload(s, alice, rec, nil, file("first.txt", "0123456789")).Expect(t, 201, 0) // equal to the limit: accepted
	before := s.Do(apitest.Req{Method: "GET", Path: "/v1" + rec, Auth: alice}).Expect(t, 200, 0)
	etag := before.Header.Get("ETag")
	cases := []struct {
		name    string
		auth    string
		record  string
		headers map[string]string
		parts   []part
		json    bool
		// method and body, when set, send body (of the type in headers)
		// with method instead of an upload.
		method, body string
		status       int
		errno        int
		message      string
	}{
		{name: "anonymous", parts: []part{file("a.txt", "x")}, status: 401, errno: 104},
		{name: "no permission", auth: bob, parts: []part{file("a.txt", "x")}, status: 403, errno: 121},
		{name: "no permission, new record", auth: bob, record: "/buckets/b/collections/c/records/new", parts: []part{file("a.txt", "x")}, status: 403, errno: 121},
		{name: "not multipart", json: true, status: 400, errno: 107, message: "multipart/form-data"},
		// kinto-attachment answers 400 to any body that is not multipart,
		// whatever its type; a method other than POST and DELETE is 405.
		{name: "plain text", method: "POST", body: "x", headers: map[string]string{"Content-Type": "text/plain"}, status: 400, errno: 107, message: "multipart/form-data"},
		{name: "a form", method: "POST", body: "a=1", headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, status: 400, errno: 107, message: "multipart/form-data"},
		{name: "no type", method: "POST", body: "x", headers: map[string]string{"Content-Type": ""}, status: 400, errno: 107, message: "multipart/form-data"},
		{name: "multipart without a boundary", method: "POST", body: "x", headers: map[string]string{"Content-Type": "multipart/form-data"}, status: 400, errno: 107, message: "multipart/form-data"},
		{name: "PUT", method: "PUT", body: "x", headers: map[string]string{"Content-Type": "text/plain"}, status: 405, errno: 115},
		{name: "no attachment part", parts: []part{{name: "data", content: `{}`}}, status: 400, errno: 109, message: "Attachment missing."},
		{name: "empty file name", parts: []part{{name: "attachment", file: true, content: "x"}}, status: 400, errno: 107, message: "Filename is required."},
		{name: "attachment as a plain field", parts: []part{{name: "attachment", content: "x"}}, status: 400, errno: 107, message: "Filename is required."},
		{name: "too large", parts: []part{file("a.txt", "0123456789A")}, status: 400, errno: 107, message: "File size (11 bytes) exceeds the limit (10 bytes)."},
		{name: "extension", parts: []part{file("a.exe", "x")}, status: 400, errno: 107, message: "File extension is not allowed."},
		{name: "no extension", parts: []part{file("README", "x")}, status: 400, errno: 107, message: "File extension is not allowed."},
		// Python's splitext: a name of dots and an extension has none.
		{name: "a hidden file's name", parts: []part{file(".txt", "x")}, status: 400, errno: 107, message: "File extension is not allowed."},
		{name: "dots only before it", parts: []part{file("dir/..txt", "x")}, status: 400, errno: 107, message: "File extension is not allowed."},
		{name: "a trailing dot", parts: []part{file("a.txt.", "x")}, status: 400, errno: 107, message: "File extension is not allowed."},
		{name: "data not JSON", parts: []part{file("a.txt", "x"), {name: "data", content: `{`}}, status: 400, errno: 109, message: "data is not valid JSON"},
		{name: "data not an object", parts: []part{file("a.txt", "x"), {name: "data", content: `[1]`}}, status: 400, errno: 109},
		{name: "data as a file", parts: []part{file("a.txt", "x"), {name: "data", filename: "d.json", content: `{}`}}, status: 400, errno: 109, message: "not files"},
		{name: "permissions not JSON", parts: []part{file("a.txt", "x"), {name: "permissions", content: `nope`}}, status: 400, errno: 109},
		{name: "unknown permission", parts: []part{file("a.txt", "x"), {name: "permissions", content: `{"admin": ["x"]}`}}, status: 400, errno: 107},
		{name: "another field", parts: []part{file("a.txt", "x"), {name: "extra", content: `1`}}, status: 400, errno: 109, message: "'extra' not in"},
		{name: "stale If-Match", headers: map[string]string{"If-Match": `"1"`}, parts: []part{file("a.txt", "x")}, status: 412, errno: 114},
		{name: "If-None-Match on an existing record", headers: map[string]string{"If-None-Match": "*"}, parts: []part{file("a.txt", "x")}, status: 412, errno: 114},
		{name: "schema-less id mismatch", parts: []part{file("a.txt", "x"), {name: "data", content: `{"id": "other"}`}}, status: 400, errno: 107},
		{name: "missing collection", record: "/buckets/b/collections/nope/records/r", parts: []part{file("a.txt", "x")}, status: 404, errno: 111},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			record := rec
			if c.record != "" {
				record = c.record
			}
			auth := c.auth
			if c.name == "anonymous" {
				auth = ""
			} else if auth == "" {
				auth = alice
			}
			var r *apitest.Response
			if c.method != "" {
				r = s.Do(apitest.Req{Method: c.method, Path: "/v1" + record + "/attachment", Auth: auth, Body: c.body, Headers: c.headers})
			} else if c.json {
				r = s.Do(apitest.Req{Method: "POST", Path: "/v1" + record + "/attachment", Auth: auth, Body: `{"data": {}}`})
			} else {
				r = upload(s, auth, record, c.headers, c.parts...)
			}
			r.Expect(t, c.status, c.errno)
			if msg, _ := r.Body["message"].(string); !strings.Contains(msg, c.message) {
				t.Errorf("message %q, want it to hold %q", msg, c.message)
			}
			if got := filesIn(t, dir); len(got) != 1 {
				t.Errorf("files after a refused upload: %v", got)
			}
			after := s.Do(apitest.Req{Method: "GET", Path: "/v1" + rec, Auth: alice}).Expect(t, 200, 0)
			if after.Header.Get("ETag") != etag {
				t.Errorf("the record changed: %s", after.Raw)
			}
		})
	}
	if loc := first.Body["location"].(string); !strings.HasSuffix(loc, ".txt") {
		t.Errorf("location %q", loc)
	}
}

// TestRefusedBeforeTheForm: a caller who may create records in the
// collection but not write an existing one is refused (403) before the
// form is read, as Kinto refuses him, whatever is wrong with the form; on
// a new record the form's own error is his answer.
func TestRefusedBeforeTheForm(t *testing.T) {
	dir := t.TempDir()
	s := setup(t, map[string]string{"attachment.base_path": dir})
	s.Do(apitest.Req{Method: "PATCH", Path: "/v1/buckets/b/collections/c", Auth: alice,
		Body: `{"permissions": {"record:create": ["system.Authenticated"]}}`}).Expect(t, 200, 0)
	const rec = "/buckets/b/collections/c/records/r1"
	upload(s, alice, rec, nil, file("first.txt", "x")).Expect(t, 201, 0)
	bad := []struct {
		parts []part
		errno int
	}{
		{[]part{{name: "data", content: `{}`}}, 109},
		{[]part{file("a.exe", "x")}, 107},
		{[]part{file("a.txt", "x"), {name: "data", content: `{`}}, 109},
	}
	for i, b := range bad {
		upload(s, bob, rec, nil, b.parts...).Expect(t, 403, 121)
		upload(s, "", rec, nil, b.parts...).Expect(t, 401, 104)
		upload(s, bob, fmt.Sprintf("/buckets/b/collections/c/records/new%d", i), nil, b.parts...).Expect(t, 400, b.errno)
	}
	upload(s, bob, rec, nil, file("a.txt", "x")).Expect(t, 403, 121)
	s.Do(apitest.Req{Method: "DELETE", Path: "/v1" + rec + "/attachment", Auth: bob}).Expect(t, 403, 121)
	// DELETE on a missing record: 404 to those who may read the list or
	// create in it (the record's own DELETE, kinto-attachment's check),
	// 403/401 to others.
	carol := apitest.Basic("carol", "pw")
	s.Do(apitest.Req{Method: "PUT", Path: "/v1/buckets/b2", Auth: alice, Body: `{"permissions": {"read": ["system.Authenticated"]}}`}).Expect(t, 201, 0)
	s.Do(apitest.Req{Method: "PUT", Path: "/v1/buckets/b3", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
	s.Do(apitest.Req{Method: "PUT", Path: "/v1/buckets/b3/collections/c", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
	missing := []struct {
		who, path     string
		status, errno int
	}{
		{bob, "/buckets/b/collections/c/records/none", 404, 110},
		{"", "/buckets/b/collections/c/records/none", 401, 104},
		{carol, "/buckets/b2/collections/nope/records/none", 404, 111},
		{"", "/buckets/b2/collections/nope/records/none", 401, 104},
		{carol, "/buckets/b3/collections/c/records/none", 403, 121},
		{carol, "/buckets/b3/collections/nope/records/none", 403, 121},
		{alice, "/buckets/b3/collections/nope/records/none", 404, 111},
	}
	for _, m := range missing {
		s.Do(apitest.Req{Method: "DELETE", Path: "/v1" + m.path + "/attachment", Auth: m.who}).Expect(t, m.status, m.errno)
	}
	if got := filesIn(t, dir); len(got) != 1 {
		t.Errorf("files after refused uploads: %v", got)
	}
}

// TestUploadWritesRecord: a first upload creates the record (201, the
// caller its writer, data and permissions applied), a second merges into
// it (200, other fields kept, a client attachment value overwritten), the
// answer is the attachment object with the record's Location and ETag.
func TestUploadWritesRecord(t *testing.T) {
	s := setup(t, nil)
	const rec = "/buckets/b/collections/c/records/r1"
	r := upload(s, alice, rec, nil, file("Photo été.txt", "hello"), part{name: "data", content: `{"title": "x", "attachment": "client"}`},
		part{name: "permissions", content: `{"read": ["system.Everyone"]}`}).Expect(t, 201, 0)
	att := r.Body
	if att["filename"] != "Photo été.txt" || att["mimetype"] != "text/plain" || att["size"] == nil ||
		att["hash"] != "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" {
		t.Fatalf("attachment %s", r.Raw)
	}
	if !strings.HasPrefix(att["location"].(string), s.URL+"/attachments/") {
		t.Errorf("location %v", att["location"])
	}
	if r.Header.Get("Location") != s.URL+"/v1"+rec || r.Header.Get("ETag") == "" {
		t.Errorf("headers %v", r.Header)
	}
	got := s.Do(apitest.Req{Method: "GET", Path: "/v1" + rec}).Expect(t, 200, 0) // read by everyone
	if got.Data()["title"] != "x" || mustJSON(got.Data()["attachment"]) != mustJSON(att) {
		t.Fatalf("record %s", got.Raw)
	}
	if w, _ := got.Body["permissions"].(map[string]any); w["write"] != nil {
		t.Errorf("anonymous sees the writers: %v", w)
	}
	again := upload(s, alice, rec, map[string]string{"If-Match": got.Header.Get("ETag")}, file("b.json", `{"a":1}`), part{name: "data", content: `{"n": 2}`}).Expect(t, 200, 0)
	rec2 := s.Do(apitest.Req{Method: "GET", Path: "/v1" + rec, Auth: alice}).Expect(t, 200, 0)
	if rec2.Data()["title"] != "x" || rec2.Data()["n"] == nil || mustJSON(rec2.Data()["attachment"]) != mustJSON(again.Body) {
		t.Fatalf("merged record %s", rec2.Raw)
	}
	if again.Body["mimetype"] != "text/plain" {
		// The part's own type (text/plain here) is kept for .json.
		t.Errorf("mimetype %v", again.Body["mimetype"])
	}
	pem := upload(s, alice, rec, nil, part{name: "attachment", filename: "k.pem", content: "x"})
	if pem.Status != 400 { // .pem is not a default extension
		t.Errorf("pem under default extensions: %d", pem.Status)
	}
}

// TestUploadMimetypes: the extension overrides (built-in and configured)
// win over the part's type; a part without a type is text/plain.
func TestUploadMimetypes(t *testing.T) {
	s := setup(t, map[string]string{"attachment.extensions": "any", "attachment.mimetypes": ".bin:application/x-test"})
	cases := []struct{ filename, sent, want string }{
		{"k.pem", "text/plain", "application/x-pem-file"},
		{"m.geojson", "application/json", "application/geojson"},
		{"d.bin", "application/octet-stream", "application/x-test"},
		{"noext", "", "text/plain"},
		{"a.png", "image/png; charset=binary", "image/png"},
		// As sent: kinto-attachment neither lower-cases nor checks it.
		{"b.html", "TEXT/HTML ; charset=x", "TEXT/HTML"},
		{"c.dat", "weird", "weird"},
	}
	for i, c := range cases {
		r := upload(s, alice, "/buckets/b/collections/c/records/m"+string(rune('a'+i)), nil,
			part{name: "attachment", filename: c.filename, contentType: c.sent, content: "x"}).Expect(t, 201, 0)
		if r.Body["mimetype"] != c.want {
			t.Errorf("%s sent as %q: mimetype %v, want %s", c.filename, c.sent, r.Body["mimetype"], c.want)
		}
	}
	if r := s.Do(apitest.Req{Method: "GET", Path: "/v1/buckets/b/collections/c/records/ma/attachment", Auth: alice}); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("GET of the endpoint: %d", r.Status)
	}
}

// TestKintoHTTPPyUploads: kinto-http.py's add_attachment sends the data
// and permissions fields before the file, with the type it was given;
// with attachment.base_path alone (its tests' configuration) the file is
// written in the folder and Nimbus serves it.
func TestKintoHTTPPyUploads(t *testing.T) {
	dir := t.TempDir()
	s := apitest.New(t, map[string]string{"includes": "kinto_attachment", "attachment.base_path": dir})
	s.Do(apitest.Req{Method: "POST", Path: "/v1/batch", Auth: alice, Body: `{"requests": [{"method": "PUT", "path": "/buckets/mozilla"},
		{"method": "PUT", "path": "/buckets/mozilla/collections/payments"}]}`}).Expect(t, 200, 0)
	const rec = "/buckets/mozilla/collections/payments/records/abc"
	r := upload(s, alice, rec, nil, part{name: "data", content: `{"secret": "psssssst!"}`},
		part{name: "permissions", content: `{"write": ["system.Everyone"]}`},
		part{name: "attachment", filename: "file.txt", contentType: "text/custom", content: "hello"}).Expect(t, 201, 0)
	got := s.Do(apitest.Req{Method: "GET", Path: "/v1" + rec, Auth: alice}).Expect(t, 200, 0)
	att := got.Data()["attachment"].(map[string]any)
	perms := got.Body["permissions"].(map[string]any)["write"].([]any)
	if att["filename"] != "file.txt" || att["mimetype"] != "text/custom" || got.Data()["secret"] != "psssssst!" || !strings.Contains(mustJSON(perms), "system.Everyone") {
		t.Fatalf("record %s", got.Raw)
	}
	if files := filesIn(t, dir); len(files) != 1 {
		t.Fatalf("files %v", files)
	}
	res, body := get(t, s, r.Body["location"].(string), nil)
	if res.StatusCode != 200 || string(body) != "hello" || res.Header.Get("Content-Type") != "text/custom" {
		t.Fatalf("served %d %q %v", res.StatusCode, body, res.Header)
	}
	s.Do(apitest.Req{Method: "DELETE", Path: "/v1" + rec + "/attachment", Auth: alice}).Expect(t, 204, 0)
	if a, ok := s.Do(apitest.Req{Method: "GET", Path: "/v1" + rec, Auth: alice}).Data()["attachment"]; !ok || a != nil {
		t.Fatalf("attachment after removal: %v", a)
	}
}
