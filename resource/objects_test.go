package resource_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nimbus-server/nimbus/config"
	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/memory"
)

// library is a plugin built on the object service: every route does with
// Request.Objects what a client would do over HTTP, so the scenarios below
// check that the service applies the engine's rules.
type library struct{ events *atomic.Int64 }

// tagKey carries a value from the request hook to the handlers: typed
// per-request state.
var tagKey = resource.NewStateKey[string]("library.tag")

func (library) Name() string { return "library" }

func (library) Settings() []resource.Setting {
	return []resource.Setting{
		{Name: "library.shelf_limit", Type: resource.Int, Default: "5", Description: "books per copy"},
		{Name: "library.open", Type: resource.Bool, Default: "true"},
		{Name: "library.mode", Type: resource.String, Default: "lend", OneOf: []string{"lend", "sell"}},
	}
}

var _ resource.SettingsDeclarer = library{}

func (l library) Register(r *resource.Registry) error {
	r.AddListener(resource.Listener{Resources: []string{"book", "shelf"}, AfterCommit: func(*resource.Event) { l.events.Add(1) }})
	r.AddRequestHook(func(req *resource.Request, op resource.Operation) error {
		if tag := req.Header().Get("X-Tag"); tag != "" && !op.Implied {
			tagKey.Set(req, tag)
		}
		// A read-only caller may not write, even implicitly.
		if req.Identity().UserID == "test:reader" && op.Method != http.MethodGet {
			return resource.Forbidden()
		}
		return nil
	})
	answer := func(req *resource.Request, status int, v any, err error) error {
		if err != nil {
			return err
		}
		return req.JSON(status, map[string]any{"data": v})
	}
	routes := []resource.Route{
		{Method: "POST", Path: "/copy/:shelf_id/:book_id/:to", Handler: func(req *resource.Request) error {
			o := req.Objects()
			src, _, err := o.Get("/shelves/" + req.Param("shelf_id") + "/books/" + req.Param("book_id"))
			if err != nil {
				return err
			}
			obj, err := o.Create("/shelves/"+req.Param("to")+"/books/"+req.Param("book_id"), storage.Object{"n": src["n"]}, nil)
			if errors.Is(err, resource.ErrObjectExists) {
				return resource.Invalid("path", "to", "already there")
			}
			return answer(req, 201, obj, err)
		}},
		{Method: "PUT", Path: "/ensure/:shelf_id", Handler: func(req *resource.Request) error {
			created, err := req.Objects().Ensure("/shelves/" + req.Param("shelf_id"))
			return answer(req, 200, created, err)
		}},
		{Method: "PUT", Path: "/ensure-then-fail/:shelf_id", Handler: func(req *resource.Request) error {
			if _, err := req.Objects().Ensure("/shelves/" + req.Param("shelf_id")); err != nil {
				return err
			}
			return resource.NotFound("book", "none")
		}},
		{Method: "PUT", Path: "/write-then-fail/:shelf_id", Handler: func(req *resource.Request) error {
			if _, err := req.Objects().Create("/shelves/"+req.Param("shelf_id"), storage.Object{}, nil); err != nil {
				return err
			}
			return resource.Invalid("body", "", "refused after the write")
		}},
		{Method: "DELETE", Path: "/drop/:shelf_id/:book_id", Handler: func(req *resource.Request) error {
			tomb, err := req.Objects().Delete("/shelves/" + req.Param("shelf_id") + "/books/" + req.Param("book_id"))
			return answer(req, 200, tomb, err)
		}},
		{Method: "PUT", Path: "/server/:shelf_id", Handler: func(req *resource.Request) error {
			obj, created, err := req.Objects().AsServer().Put("/shelves/"+req.Param("shelf_id"), storage.Object{"by": "server"},
				storage.ACL{"read": {"system.Everyone"}})
			if err == nil && !created {
				obj["replaced"] = true
			}
			return answer(req, 200, obj, err)
		}},
		{Method: "POST", Path: "/two/:shelf_id", Handler: func(req *resource.Request) error {
			var o resource.Objects
			err := req.Update(func(tx storage.Tx) error {
				o = req.Objects().In(tx)
				for _, id := range []string{"one", "two"} {
					if _, _, err := o.Put("/shelves/"+req.Param("shelf_id")+"/books/"+id, storage.Object{"n": 1}, nil); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
			o.Committed()
			return answer(req, 201, "two", nil)
		}},
		{Method: "DELETE", Path: "/purge/:shelf_id", Handler: func(req *resource.Request) error {
			var tomb storage.Object
			err := req.Update(func(tx storage.Tx) (err error) {
				tomb, err = req.Objects().Purge(tx, "/shelves/"+req.Param("shelf_id"))
				return err
			})
			if errors.Is(err, storage.ErrNotFound) {
				return resource.NotFound("shelf", req.Param("shelf_id"))
			}
			return answer(req, 200, tomb, err)
		}},
		{Method: "GET", Path: "/tag", Handler: func(req *resource.Request) error {
			tag, ok := tagKey.Get(req)
			if !ok {
				tag = "none"
			}
			return answer(req, 200, tag+" "+req.Settings().String("library.mode")+" "+req.Method(), nil)
		}},
		{Method: "GET", Path: "/alias/:shelf_id", Handler: func(req *resource.Request) error {
			return req.Reroute("/v1/shelves/"+req.Param("shelf_id"), req.Body())
		}},
		{Method: "GET", Path: "/bad-uri", Handler: func(req *resource.Request) error {
			_, _, err := req.Objects().Get("/nowhere/x")
			return err
		}},
	}
	for _, rt := range routes {
		if err := r.AddRoute(rt); err != nil {
			return err
		}
	}
	return nil
}

func newLibrary(t *testing.T, events *atomic.Int64, extra map[string]string) (*httptest.Server, error) {
	t.Helper()
	settings := map[string]string{"multiauth.policies": "test", "shelf_create_principals": "system.Authenticated", "userid_hmac_secret": "s"}
	for k, v := range extra {
		settings[k] = v
	}
	app := resource.New(config.New(settings), memory.New(), nil)
	for _, p := range []resource.Plugin{shelves{}, library{events: events}} {
		if err := app.Register(p); err != nil {
			return nil, err
		}
	}
	if err := app.Build(); err != nil {
		return nil, err
	}
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	return srv, nil
}

func TestObjectService(t *testing.T) {
	var events atomic.Int64
	srv, err := newLibrary(t, &events, nil)
	if err != nil {
		t.Fatal(err)
	}
	run(t, srv, []step{
		{name: "alice's shelf", method: "PUT", path: "/v1/shelves/a", user: "alice", body: `{"permissions":{"read":["test:bob"]}}`, status: 201},
		{name: "a book", method: "PUT", path: "/v1/shelves/a/books/b1", user: "alice", body: `{"data":{"n":7}}`, status: 201},
		{name: "bob's shelf", method: "PUT", path: "/v1/shelves/bobs", user: "bob", body: `{}`, status: 201},
		{name: "copy: the caller must read the source", method: "POST", path: "/v1/copy/a/b1/bobs", user: "carol", status: 403, errno: 121},
		{name: "copy: the caller must create in the target", method: "POST", path: "/v1/copy/a/b1/a", user: "bob", status: 403, errno: 121},
		{name: "copy: a missing source", method: "POST", path: "/v1/copy/a/none/bobs", user: "bob", status: 404, errno: 110},
		{name: "copy as bob", method: "POST", path: "/v1/copy/a/b1/bobs", user: "bob", status: 201, has: []string{`"n":7`, `"id":"b1"`, `"last_modified"`}},
		{name: "the copy is stored with bob as writer", method: "GET", path: "/v1/shelves/bobs/books/b1", user: "bob", status: 200, has: []string{`"write":["test:bob"]`}},
		{name: "copy again: Create refuses an existing object", method: "POST", path: "/v1/copy/a/b1/bobs", user: "bob", status: 400, errno: 107},
		{name: "an invalid target id", method: "POST", path: "/v1/copy/a/b1/a%20b", user: "bob", status: 403, errno: 121},
		{name: "ensure creates", method: "PUT", path: "/v1/ensure/mine", user: "carol", status: 200, has: []string{`"data":true`}},
		{name: "ensure twice", method: "PUT", path: "/v1/ensure/mine", user: "carol", status: 200, has: []string{`"data":false`}},
		{name: "ensure an existing shelf of someone else changes nothing", method: "PUT", path: "/v1/ensure/a", user: "carol", status: 200, has: []string{`"data":false`}},
		{name: "ensure: the request hooks see the implied write", method: "PUT", path: "/v1/ensure/ro", user: "reader", status: 403, errno: 121},
		{name: "ensure: invalid id", method: "PUT", path: "/v1/ensure/a%20b", user: "carol", status: 400, errno: 107},
		{name: "the ensured shelf is carol's", method: "GET", path: "/v1/shelves/mine", user: "carol", status: 200, has: []string{`"write":["test:carol"]`}},
		{name: "drop: a stranger", method: "DELETE", path: "/v1/drop/a/b1", user: "carol", status: 403, errno: 121},
		{name: "drop: missing", method: "DELETE", path: "/v1/drop/a/none", user: "alice", status: 404, errno: 110},
		{name: "drop as alice", method: "DELETE", path: "/v1/drop/a/b1", user: "alice", status: 200, has: []string{`"deleted":true`}},
		{name: "as the server, without permissions", method: "PUT", path: "/v1/server/srv", user: "carol", status: 200, has: []string{`"by":"server"`}},
		{name: "the server's ACL", method: "GET", path: "/v1/shelves/srv", status: 200},
		{name: "as the server, replacing", method: "PUT", path: "/v1/server/a", user: "carol", status: 200, has: []string{`"replaced":true`}},
		{name: "two writes in the caller's transaction", method: "POST", path: "/v1/two/mine", user: "carol", status: 201},
		{name: "both stored", method: "HEAD", path: "/v1/shelves/mine/books", user: "carol", status: 200, header: map[string]string{"Total-Objects": "2"}},
		{name: "in a transaction, a refused write rolls both back", method: "POST", path: "/v1/two/a", user: "bob", status: 403, errno: 121},
		{name: "purge", method: "DELETE", path: "/v1/purge/mine", user: "carol", status: 200, has: []string{`"deleted":true`}},
		{name: "purged with its books", method: "GET", path: "/v1/shelves/mine/books", user: "carol", status: 403, errno: 121},
		{name: "purge: missing", method: "DELETE", path: "/v1/purge/mine", user: "carol", status: 404, errno: 110},
		{name: "typed state from the hook", method: "GET", path: "/v1/tag", headers: map[string]string{"X-Tag": "blue"}, status: 200, has: []string{`"blue lend GET"`}},
		{name: "no state", method: "GET", path: "/v1/tag", status: 200, has: []string{`"none lend GET"`}},
		{name: "reroute", method: "GET", path: "/v1/alias/bobs", user: "bob", status: 200, has: []string{`"id":"bobs"`}},
		{name: "reroute keeps the rules", method: "GET", path: "/v1/alias/bobs", user: "carol", status: 403, errno: 121},
		{name: "a URI of no resource", method: "GET", path: "/v1/bad-uri", status: 400, errno: 107},
	})
	// alice's shelf, the book, bob's shelf, the copy, carol's shelf, the
	// drop, the server's shelf and its replacement, the two books and
	// nothing for the purge (its caller reports it): 10 events, each
	// delivered after commit.
	if n := events.Load(); n != 10 {
		t.Errorf("%d events delivered, want 10", n)
	}
}

func TestDeclaredSettingsAreChecked(t *testing.T) {
	cases := []struct {
		settings map[string]string
		want     string
	}{
		{map[string]string{"library.shelf_limit": "many"}, "library.shelf_limit"},
		{map[string]string{"library.open": "perhaps"}, "library.open"},
		{map[string]string{"library.mode": "give"}, "library.mode"},
		{map[string]string{"library.shelf_limit": "12", "library.open": "no", "library.mode": "sell"}, ""},
	}
	for _, c := range cases {
		var events atomic.Int64
		_, err := newLibrary(t, &events, c.settings)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%v: %v", c.settings, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%v: error %v, want one naming %s", c.settings, err, c.want)
		}
	}
}

// TestImpliedWritesOutliveAFailure: what Ensure creates stays when the
// request then fails, in a batch as alone (Kinto keeps the default
// bucket's implied objects when the request answers 404; a batch rolled
// them back with its failed sub-request), with its event; another write
// of a failed sub-request is rolled back, and its event is not delivered.
func TestImpliedWritesOutliveAFailure(t *testing.T) {
	var events atomic.Int64
	srv, err := newLibrary(t, &events, nil)
	if err != nil {
		t.Fatal(err)
	}
	batch := func(paths ...string) string {
		var reqs []string
		for _, p := range paths {
			reqs = append(reqs, `{"method":"PUT","path":"`+p+`"}`)
		}
		return `{"requests":[` + strings.Join(reqs, ",") + `]}`
	}
	run(t, srv, []step{
		{name: "alone", method: "PUT", path: "/v1/ensure-then-fail/alone", user: "carol", status: 404, errno: 110},
		{name: "the shelf stays", method: "GET", path: "/v1/shelves/alone", user: "carol", status: 200},
		{name: "in a batch", method: "POST", path: "/v1/batch", user: "carol", body: batch("/ensure-then-fail/batched"),
			status: 200, has: []string{`"status":404`}},
		{name: "the shelf of the batch stays", method: "GET", path: "/v1/shelves/batched", user: "carol", status: 200, has: []string{`"write":["test:carol"]`}},
		{name: "another write of a failed sub-request", method: "POST", path: "/v1/batch", user: "carol",
			body: batch("/write-then-fail/gone", "/ensure-then-fail/after"), status: 200, has: []string{`"status":400`, `"status":404`}},
		{name: "is rolled back", method: "GET", path: "/v1/shelves/gone", user: "carol", status: 403, errno: 121},
		{name: "the next sub-request's implied write stays", method: "GET", path: "/v1/shelves/after", user: "carol", status: 200},
	})
	// The three ensured shelves; not the rolled-back one.
	if n := events.Load(); n != 3 {
		t.Errorf("%d events delivered, want 3", n)
	}
}
