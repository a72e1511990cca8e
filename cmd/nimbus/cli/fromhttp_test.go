package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/memory"
)

// hostile is a scripted source: canned answers by path (with the query),
// and a log of what it was asked.
type hostile struct {
	mu       sync.Mutex
	answers  map[string]func(w http.ResponseWriter)
	requests []string
	srv      *httptest.Server
}

func newHostile(t *testing.T) *hostile {
	h := &hostile{answers: map[string]func(http.ResponseWriter){}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.requests = append(h.requests, r.URL.RequestURI()+" auth="+r.Header.Get("Authorization"))
		fn := h.answers[r.URL.RequestURI()]
		if fn == nil {
			fn = h.answers[r.URL.Path]
		}
		h.mu.Unlock()
		if fn == nil {
			w.WriteHeader(404)
			fmt.Fprint(w, `{"code":404,"errno":111,"error":"Not Found"}`)
			return
		}
		fn(w)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// json answers a canned body, with an optional Next-Page.
func jsonAnswer(body, next string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		if next != "" {
			w.Header().Set("Next-Page", next)
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body)
	}
}

// TestImportFromHostileSource: `import --from` a server that lies
// (security review, row 5). Each case runs against a fresh target that
// holds its own bucket "mine" (ACL write: account:owner) and must end
// with it untouched.
func TestImportFromHostileSource(t *testing.T) {
	now := "1796450000000"
	bucketList := func(ids ...string) string {
		var items []string
		for _, id := range ids {
			items = append(items, `{"id":"`+id+`","last_modified":`+now+`}`)
		}
		return `{"data":[` + strings.Join(items, ",") + `]}`
	}
	cases := []struct {
		name      string
		setup     func(h *hostile, other *hostile)
		overwrite bool
		wantErr   string
		check     func(t *testing.T, h, other *hostile, b storage.Backend, st importStats)
	}{
		{name: "Next-Page to another server", wantErr: "another server",
			setup: func(h, other *hostile) {
				h.answers["/v1/buckets"] = jsonAnswer(bucketList(), other.srv.URL+"/v1/buckets?page=2")
			},
			check: func(t *testing.T, h, other *hostile, _ storage.Backend, _ importStats) {
				if len(other.requests) > 0 {
					t.Errorf("the other server was asked: %v", other.requests)
				}
			}},
		{name: "a redirect to another server", wantErr: "another server",
			setup: func(h, other *hostile) {
				h.answers["/v1/buckets"] = func(w http.ResponseWriter) {
					w.Header().Set("Location", other.srv.URL+"/v1/buckets")
					w.WriteHeader(http.StatusTemporaryRedirect)
				}
			},
			check: func(t *testing.T, h, other *hostile, _ storage.Backend, _ importStats) {
				if len(other.requests) > 0 {
					t.Errorf("the other server was asked: %v", other.requests)
				}
			}},
		{name: "an id that is a path", wantErr: "invalid id",
			setup: func(h, other *hostile) {
				h.answers["/v1/buckets"] = jsonAnswer(bucketList("mine/collections/c"), "")
			}},
		{name: "a timestamp in 2100", wantErr: "in the future",
			setup: func(h, other *hostile) {
				h.answers["/v1/buckets"] = jsonAnswer(`{"data":[{"id":"b2","last_modified":4102444800000}]}`, "")
			}},
		{name: "pages that loop", wantErr: "loop",
			setup: func(h, other *hostile) {
				h.answers["/v1/buckets?_sort=last_modified"] = jsonAnswer(bucketList(), h.srv.URL+"/v1/buckets?_sort=last_modified")
			}},
		{name: "an answer of 100 MB", wantErr: "larger than",
			setup: func(h, other *hostile) {
				h.answers["/v1/buckets"] = func(w http.ResponseWriter) {
					w.Write([]byte(`{"data":[`))
					chunk := []byte(strings.Repeat(`{"id":"x","last_modified":1},`, 1000))
					for n := 0; n < 100<<20; n += len(chunk) {
						if _, err := w.Write(chunk); err != nil {
							return
						}
					}
				}
			}},
		{name: "the target's own bucket, newer at the source",
			setup: func(h, other *hostile) {
				h.answers["/v1/buckets"] = jsonAnswer(bucketList("mine", "theirs"), "")
				h.answers["/v1/buckets/mine"] = jsonAnswer(`{"data":{"id":"mine","last_modified":`+now+`},"permissions":{"write":["account:mallory"]}}`, "")
				h.answers["/v1/buckets/theirs"] = jsonAnswer(`{"data":{"id":"theirs","last_modified":`+now+`},"permissions":{"write":["account:mallory"]}}`, "")
				h.answers["/v1/buckets/mine/collections"] = jsonAnswer(`{"data":[{"id":"c","last_modified":`+now+`}]}`, "")
				h.answers["/v1/buckets/mine/collections/c"] = jsonAnswer(`{"data":{"id":"c","last_modified":`+now+`},"permissions":{"write":["account:mallory"]}}`, "")
				h.answers["/v1/buckets/mine/groups"] = jsonAnswer(`{"data":[]}`, "")
				h.answers["/v1/buckets/theirs/collections"] = jsonAnswer(`{"data":[]}`, "")
				h.answers["/v1/buckets/theirs/groups"] = jsonAnswer(`{"data":[]}`, "")
			},
			check: func(t *testing.T, h, other *hostile, b storage.Backend, st importStats) {
				if st.kept != 1 || st.written != 1 {
					t.Errorf("stats %+v, want 1 kept (mine) and 1 written (theirs)", st)
				}
				b.View(context.Background(), func(tx storage.Tx) error {
					acl, _ := tx.GetACL("/buckets/mine")
					if fmt.Sprint(acl["write"]) != "[account:owner]" {
						t.Errorf("the target's bucket was re-permissioned: %v", acl)
					}
					if ok, _ := tx.Exists(storage.Ref{Resource: "collection", Parent: "/buckets/mine"}, "c"); ok {
						t.Error("the source wrote a collection into the target's own bucket")
					}
					return nil
				})
				for _, r := range h.requests {
					if strings.Contains(r, "private-target-bucket") || strings.Contains(r, "_since") {
						t.Errorf("the target's bucket id or timestamp was sent to the source: %s", r)
					}
				}
			}},
		{name: "--overwrite replaces it", overwrite: true,
			setup: func(h, other *hostile) {
				h.answers["/v1/buckets"] = jsonAnswer(bucketList("mine"), "")
				h.answers["/v1/buckets/mine"] = jsonAnswer(`{"data":{"id":"mine","last_modified":`+now+`},"permissions":{"write":["account:new-owner"]}}`, "")
				h.answers["/v1/buckets/mine/collections"] = jsonAnswer(`{"data":[]}`, "")
				h.answers["/v1/buckets/mine/groups"] = jsonAnswer(`{"data":[]}`, "")
			},
			check: func(t *testing.T, h, other *hostile, b storage.Backend, st importStats) {
				b.View(context.Background(), func(tx storage.Tx) error {
					acl, _ := tx.GetACL("/buckets/mine")
					if fmt.Sprint(acl["write"]) != "[account:new-owner]" {
						t.Errorf("--overwrite did not replace the ACL: %v", acl)
					}
					return nil
				})
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := memory.New()
			app, _ := appOn(t, b, nil)
			b.Update(context.Background(), func(tx storage.Tx) error {
				for _, id := range []string{"mine", "private-target-bucket"} {
					if _, err := tx.Create(storage.Ref{Resource: "bucket"}, storage.Object{"id": id}); err != nil {
						return err
					}
					if err := tx.SetACL("/buckets/"+id, storage.ACL{"write": {"account:owner"}}); err != nil {
						return err
					}
				}
				return nil
			})
			h, other := newHostile(t), newHostile(t)
			c.setup(h, other)
			rm, err := newRemote(h.srv.URL, "operator:secret")
			if err != nil {
				t.Fatal(err)
			}
			st, err := fromHTTP(context.Background(), rm, app, b, c.overwrite, nil)
			if c.wantErr == "" && err != nil {
				t.Fatalf("import: %v", err)
			}
			if c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Fatalf("import: %v, want an error saying %q", err, c.wantErr)
			}
			b.View(context.Background(), func(tx storage.Tx) error {
				acl, _ := tx.GetACL("/buckets/mine")
				if !c.overwrite && fmt.Sprint(acl["write"]) != "[account:owner]" {
					t.Errorf("the target's own bucket was re-permissioned: %v", acl)
				}
				return nil
			})
			if c.check != nil {
				c.check(t, h, other, b, st)
			}
		})
	}
}

// TestImportFromWithoutPermissions (through the built binary): an
// account that reads the data but
// not its permissions (shown to writers only) copies the objects, and the
// run says so and fails unless --allow-missing-permissions; a later run
// with the owner's account fills the permissions in. The source's key
// order is kept (operator traps, row 17).
func TestImportFromWithoutPermissions(t *testing.T) {
	srcDB := memory.New()
	_, src := appOn(t, srcDB, nil)
	call(t, src, "PUT", "/v1/accounts/ann", "", `{"data":{"password":"ann-pw"}}`)
	ann := "ann:ann-pw"
	for _, st := range []struct{ method, path, body string }{
		{"PUT", "/v1/buckets/b", `{"permissions":{"read":["system.Authenticated"]}}`},
		{"PUT", "/v1/buckets/b/collections/c", `{}`},
		{"PUT", "/v1/buckets/b/collections/c/records/r1", `{"data":{"zebra":1,"apple":2,"mango":3}}`},
	} {
		if code, _, body := call(t, src, st.method, st.path, ann, st.body); code >= 300 {
			t.Fatalf("%s %s: %d %s", st.method, st.path, code, body)
		}
	}
	dir := t.TempDir()
	ini := filepath.Join(dir, "dst.ini")
	os.WriteFile(ini, []byte("[nimbus]\nstorage_backend = bolt\nstorage_url = "+filepath.Join(dir, "dst.db")+
		"\nincludes = accounts\nmultiauth.policies = account basicauth\nuserid_hmac_secret = s\n"), 0o600)
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildNimbus(t)
	run := func(args ...string) (int, string) {
		return runBinary(t, bin, append([]string{"--ini", ini, "import", "--from", src.URL}, args...)...)
	}
	code, out := run("--auth", "rita:rita-pw")
	if code != 1 || !strings.Contains(out, "without their permissions") || !strings.Contains(out, "/buckets/b") {
		t.Fatalf("a reader's run: exit %d %s", code, out)
	}
	if code, out := run("--auth", "rita:rita-pw", "--allow-missing-permissions"); code != 0 {
		t.Fatalf("a reader's run, allowed: exit %d %s", code, out)
	}
	code, out = run("--auth", ann)
	if code != 0 || strings.Contains(out, "without their permissions") {
		t.Fatalf("the owner's run: exit %d %s", code, out)
	}
	// Accounts are not copied: ann has one of her own on the target.
	if code, out := runBinary(t, bin, "--ini", ini, "create-user", "-u", "ann", "-p", "ann-pw"); code != 0 {
		t.Fatalf("create-user: %s", out)
	}
	app, b, err := openForTransfer(globals{ini: ini, explicit: true}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	dst := httptest.NewServer(app)
	defer dst.Close()
	for _, path := range []string{"/v1/buckets/b", "/v1/buckets/b/collections/c", "/v1/buckets/b/collections/c/records/r1"} {
		c1, _, b1 := call(t, src, "GET", path, ann, "")
		c2, _, b2 := call(t, dst, "GET", path, ann, "")
		if c1 != 200 || c2 != 200 || !sameJSON(b1, b2) {
			t.Errorf("%s after the owner's run: %d %s\n against %d %s", path, c1, b1, c2, b2)
		}
		if strings.Contains(path, "records") && !(strings.Index(b2, "zebra") < strings.Index(b2, "apple") && strings.Index(b2, "apple") < strings.Index(b2, "mango")) {
			t.Errorf("the source's key order is lost: %s", b2)
		}
	}
}
