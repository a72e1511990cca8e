package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/storage/bolt"
)

// TestExportCarriesStoredFiles: files the attachments plugin keeps in the
// storage backend go through export and import with their records: the
// copy serves the same bytes at the same place, and deleting the record
// in the copy removes the file there.
func TestExportCarriesStoredFiles(t *testing.T) {
	ctx := context.Background()
	open := func() *bolt.Backend {
		b, err := bolt.Open(filepath.Join(t.TempDir(), "nimbus.db"), bolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}
	withFiles := map[string]string{"includes": "attachments", "multiauth.policies": "basicauth", "attachment.extensions": "any"}
	src := open()
	app, srv := appOn(t, src, withFiles)
	for _, p := range []string{"/v1/buckets/b", "/v1/buckets/b/collections/c"} {
		if code, _, body := call(t, srv, "PUT", p, "ann:pw", `{}`); code != 201 {
			t.Fatalf("PUT %s: %d %s", p, code, body)
		}
	}
	content := bytes.Repeat([]byte("0123456789abcdef"), 40_000) // 640 kB: three chunks
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	fw, _ := w.CreateFormFile("attachment", "data.bin")
	fw.Write(content)
	w.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/v1/buckets/b/collections/c/records/r/attachment", &buf)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.SetBasicAuth("ann", "pw")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("upload: %v %v", err, res)
	}
	var att struct{ Location string }
	json.NewDecoder(res.Body).Decode(&att)
	res.Body.Close()
	path := att.Location[strings.Index(att.Location, "/attachments/"):]

	var dump bytes.Buffer
	if _, err := exportTo(ctx, &dump, app, src, true, nil); err != nil {
		t.Fatal(err)
	}
	dst := open()
	app2, srv2 := appOn(t, dst, withFiles)
	if _, err := importFrom(ctx, bytes.NewReader(dump.Bytes()), app2, dst, nil); err != nil {
		t.Fatal(err)
	}
	got, err := http.Get(srv2.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if got.StatusCode != 200 || !bytes.Equal(body, content) {
		t.Fatalf("the imported file: %d, %d bytes", got.StatusCode, len(body))
	}
	if code, _, body := call(t, srv2, "DELETE", "/v1/buckets/b/collections/c/records/r", "ann:pw", ""); code != 200 {
		t.Fatalf("delete in the copy: %d %s", code, body)
	}
	if gone, err := http.Get(srv2.URL + path); err != nil || gone.StatusCode != 404 {
		t.Fatalf("the copy's file after its record's deletion: %v %v", err, gone.StatusCode)
	}
}
