package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
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
