package attachments_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

// TestFilesFollowTheirRecords: a file goes when its attachment is
// replaced or removed, or when its record, collection or bucket is
// deleted (one object, a plural delete, inside a batch); with
// keep_old_files every file stays. What stays of the others is checked
// after each step.
func TestFilesFollowTheirRecords(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("keep_old_files=%v", keep), func(t *testing.T) {
			dir := t.TempDir()
			s := setup(t, map[string]string{"attachment.base_path": dir, "attachment.keep_old_files": fmt.Sprint(keep),
				"attachment.folder": "{bucket_id}/{collection_id}"})
			put := func(path string) {
				s.Do(apitest.Req{Method: "PUT", Path: "/v1" + path, Auth: alice, Body: `{}`}).Expect(t, 201, 0)
			}
			put("/buckets/b/collections/d")
			put("/buckets/b2")
			put("/buckets/b2/collections/c")
			put("/buckets/b3")
			put("/buckets/b3/collections/c")
			files := map[string]string{} // record -> stored name
			add := func(rec string) {
				status := 201
				if files[rec] != "" {
					status = 200
				}
				r := upload(s, alice, rec, nil, file("f.txt", rec)).Expect(t, status, 0)
				loc := r.Body["location"].(string)
				files[rec] = loc[strings.Index(loc, "/attachments/")+len("/attachments/"):]
			}
			for _, rec := range []string{"/buckets/b/collections/c/records/r1", "/buckets/b/collections/c/records/r2",
				"/buckets/b/collections/c/records/r3", "/buckets/b/collections/c/records/r4", "/buckets/b/collections/c/records/r5",
				"/buckets/b/collections/d/records/r1", "/buckets/b2/collections/c/records/r1", "/buckets/b3/collections/c/records/r1"} {
				add(rec)
			}
			all := map[string]bool{}
			for _, n := range files {
				all[n] = true
			}
			gone := map[string]bool{}
			check := func(step string) {
				t.Helper()
				want := []string{}
				for n := range all {
					if keep || !gone[n] {
						want = append(want, n)
					}
				}
				got := filesIn(t, dir)
				sort.Strings(want)
				sort.Strings(got)
				if strings.Join(got, " ") != strings.Join(want, " ") {
					t.Fatalf("after %s: files\n%v\nwant\n%v", step, got, want)
				}
			}
			check("uploads")
			if !strings.HasPrefix(files["/buckets/b2/collections/c/records/r1"], "b2/c/") {
				t.Fatalf("folder not applied: %s", files["/buckets/b2/collections/c/records/r1"])
			}

			old := files["/buckets/b/collections/c/records/r1"]
			add("/buckets/b/collections/c/records/r1")
			all[files["/buckets/b/collections/c/records/r1"]] = true
			gone[old] = true
			check("replacing r1's file")

			s.Do(apitest.Req{Method: "DELETE", Path: "/v1/buckets/b/collections/c/records/r1/attachment", Auth: alice}).Expect(t, 204, 0)
			if a := attachmentOf(t, s, alice, "/buckets/b/collections/c/records/r1"); a != nil {
				t.Fatalf("attachment after DELETE: %v", a)
			}
			r := s.Do(apitest.Req{Method: "GET", Path: "/v1/buckets/b/collections/c/records/r1", Auth: alice})
			if v, ok := r.Data()["attachment"]; !ok || v != nil {
				t.Fatalf("attachment key after DELETE: %s", r.Raw)
			}
			gone[files["/buckets/b/collections/c/records/r1"]] = true
			check("removing r1's attachment")
			s.Do(apitest.Req{Method: "DELETE", Path: "/v1/buckets/b/collections/c/records/nope/attachment", Auth: alice}).Expect(t, 404, 110)

			s.Do(apitest.Req{Method: "DELETE", Path: "/v1/buckets/b/collections/c/records/r2", Auth: alice}).Expect(t, 200, 0)
			gone[files["/buckets/b/collections/c/records/r2"]] = true
			check("deleting r2")

			s.Do(apitest.Req{Method: "POST", Path: "/v1/batch", Auth: alice,
				Body: `{"requests": [{"method": "DELETE", "path": "/buckets/b/collections/c/records/r3"}]}`}).Expect(t, 200, 0)
			gone[files["/buckets/b/collections/c/records/r3"]] = true
			check("deleting r3 in a batch")

			s.Do(apitest.Req{Method: "DELETE", Path: "/v1/buckets/b/collections/c/records?id=r4", Auth: alice}).Expect(t, 200, 0)
			gone[files["/buckets/b/collections/c/records/r4"]] = true
			check("a plural delete of r4")

			s.Do(apitest.Req{Method: "DELETE", Path: "/v1/buckets/b/collections/c", Auth: alice}).Expect(t, 200, 0)
			gone[files["/buckets/b/collections/c/records/r5"]] = true
			check("deleting collection c")

			s.Do(apitest.Req{Method: "DELETE", Path: "/v1/buckets/b2", Auth: alice}).Expect(t, 200, 0)
			gone[files["/buckets/b2/collections/c/records/r1"]] = true
			check("deleting bucket b2")

			s.Do(apitest.Req{Method: "DELETE", Path: "/v1/buckets?id=b3", Auth: alice}).Expect(t, 200, 0)
			gone[files["/buckets/b3/collections/c/records/r1"]] = true
			check("a plural delete of bucket b3")

			// The folder may hold other programs' files (kinto-http.js's
			// own test configuration uses /tmp): the flush removes the
			// files Nimbus stored, and the folders it made that are left
			// empty, nothing else.
			foreign := []string{"other.txt", filepath.Join("b", "keepme.txt"), filepath.Join("sub", "x.bin")}
			for _, f := range foreign {
				os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755)
				if err := os.WriteFile(filepath.Join(dir, f), []byte("not Nimbus's"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			s.Do(apitest.Req{Method: "POST", Path: "/v1/__flush__"}).Expect(t, 202, 0)
			got := filesIn(t, dir)
			sort.Strings(got)
			sort.Strings(foreign)
			if strings.Join(got, " ") != strings.Join(foreign, " ") {
				t.Fatalf("files after flush: %v, want only the foreign %v", got, foreign)
			}
			if _, err := os.Stat(filepath.Join(dir, "b3")); keep && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the emptied folder b3 after flush: %v", err)
			}
		})
	}
}

// TestMetadataCannotBeModified: a client write that changes an existing
// attachment object to another one is refused; removing it, or setting
// one where there was none, is allowed.
func TestMetadataCannotBeModified(t *testing.T) {
	s := setup(t, nil)
	const rec = "/buckets/b/collections/c/records/r1"
	upload(s, alice, rec, nil, file("a.txt", "x")).Expect(t, 201, 0)
	cases := []struct {
		method, body  string
		status, errno int
	}{
		{"PATCH", `{"data": {"attachment": {"location": "http://evil/x"}}}`, 400, 999},
		{"PUT", `{"data": {"attachment": {"location": "http://evil/x"}}}`, 400, 999},
		{"PATCH", `{"data": {"title": "kept"}}`, 200, 0},
		{"PATCH", `{"data": {"attachment": null}}`, 200, 0},
		{"PATCH", `{"data": {"attachment": {"location": "set where there was none"}}}`, 200, 0},
	}
	for _, c := range cases {
		r := s.Do(apitest.Req{Method: c.method, Path: "/v1" + rec, Auth: alice, Body: c.body}).Expect(t, c.status, c.errno)
		if c.status == 400 && r.Body["message"] != "Attachment metadata cannot be modified." {
			t.Errorf("message %v", r.Body["message"])
		}
	}
}

// TestDefaultBucketUpload: uploads through /buckets/default create the
// personal bucket and collection and land in the real record.
func TestDefaultBucketUpload(t *testing.T) {
	s := apitest.New(t, map[string]string{"includes": "default_bucket attachments", "default_bucket_hmac_secret": "s"})
	r := upload(s, alice, "/buckets/default/collections/tasks/records/r1", nil, file("a.txt", "x")).Expect(t, 201, 0)
	root := s.Do(apitest.Req{Method: "GET", Path: "/v1/", Auth: alice}).Expect(t, 200, 0)
	bid := root.Body["user"].(map[string]any)["bucket"].(string)
	if a := attachmentOf(t, s, alice, "/buckets/"+bid+"/collections/tasks/records/r1"); a["location"] != r.Body["location"] {
		t.Fatalf("record's attachment %v, upload %v", a, r.Body)
	}
	s.Do(apitest.Req{Method: "DELETE", Path: "/v1/buckets/default/collections/tasks/records/r1/attachment", Auth: alice}).Expect(t, 204, 0)
	if a := attachmentOf(t, s, alice, "/buckets/"+bid+"/collections/tasks/records/r1"); a != nil {
		t.Fatalf("attachment after DELETE: %v", a)
	}
}
