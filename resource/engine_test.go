package resource_test

// Scenarios of the engine on resources declared by the test itself (no
// Kinto plugin): a top-level "shelf" and its "book" children, with a test
// authentication method ("Authorization: Test <name>").

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/permissions"
	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/memory"
)

type testAuth struct{}

func (testAuth) Authenticate(r *resource.Request) (string, resource.AuthResult) {
	scheme, name, ok := strings.Cut(r.Header().Get("Authorization"), " ")
	if !ok || scheme != "Test" {
		return "", resource.NotMine
	}
	if name == "" {
		return "", resource.Rejected
	}
	return name, resource.Accepted
}

type shelves struct{}

func (shelves) Name() string { return "shelves" }

func (shelves) Register(r *resource.Registry) error {
	r.AddAuthMethod([]string{"test"}, func(string) (resource.AuthMethod, error) { return testAuth{}, nil })
	if err := r.Tree().AddPermission(permissions.Root, "shelf:create", permissions.Grants{permissions.Root: {"shelf:create"}}); err != nil {
		return err
	}
	if err := r.AddResource(&resource.Resource{Name: "shelf", Plural: "shelves", Permissions: map[string]permissions.Grants{
		"read":        {"shelf": {"read", "write"}},
		"write":       {"shelf": {"write"}},
		"book:create": {"shelf": {"write", "book:create"}},
	}}); err != nil {
		return err
	}
	return r.AddResource(&resource.Resource{Name: "book", Parent: "shelf", Plural: "books", NewID: resource.NewUUID4,
		Permissions: map[string]permissions.Grants{
			"read":  {"shelf": {"read", "write"}, "book": {"read", "write"}},
			"write": {"shelf": {"write"}, "book": {"write"}},
		}})
}

func newEngine(t *testing.T, extra map[string]string) *httptest.Server {
	t.Helper()
	return newEngineOn(t, memory.New(), nil, extra)
}

// newEngineOn is newEngine on backend, logging to logger when not nil.
func newEngineOn(t *testing.T, backend storage.Backend, logger *slog.Logger, extra map[string]string) *httptest.Server {
	t.Helper()
	settings := map[string]string{"multiauth.policies": "test", "shelf_create_principals": "system.Authenticated",
		"userid_hmac_secret": "s", "max_request_body_bytes": "4096"}
	for k, v := range extra {
		settings[k] = v
	}
	return serveOn(t, backend, logger, settings, shelves{})
}

// shelfServer serves the shelves resource on backend (logging to logger
// when not nil), with alice's shelf s1 created.
func shelfServer(t *testing.T, backend storage.Backend, logger *slog.Logger) *httptest.Server {
	t.Helper()
	srv := newEngineOn(t, backend, logger, nil)
	run(t, srv, []step{{name: "shelf", method: http.MethodPut, path: "/v1/shelves/s1", user: "alice", status: http.StatusCreated}})
	return srv
}

type step struct {
	name          string
	method, path  string
	user, body    string
	headers       map[string]string
	status, errno int
	has           []string // substrings of the body
	lacks         []string // substrings the body must not hold
	order         []string // substrings the body holds in this order
	header        map[string]string
}

func run(t *testing.T, srv *httptest.Server, steps []step) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, s := range steps {
		var body io.Reader
		if s.body != "" {
			body = strings.NewReader(s.body)
		}
		req, _ := http.NewRequest(s.method, srv.URL+s.path, body)
		if s.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if s.user != "" {
			req.Header.Set("Authorization", "Test "+s.user)
		}
		for k, v := range s.headers {
			req.Header.Set(k, v)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != s.status {
			t.Fatalf("%s: status %d, want %d: %s", s.name, res.StatusCode, s.status, raw)
		}
		if s.status >= 400 && s.method != http.MethodHead {
			var e struct {
				Code, Errno int
				Error       string
			}
			if json.Unmarshal(raw, &e) != nil || e.Code != s.status || e.Errno != s.errno || e.Error == "" {
				t.Fatalf("%s: error body %s, want errno %d", s.name, raw, s.errno)
			}
		}
		for _, sub := range s.has {
			if !strings.Contains(string(raw), sub) {
				t.Errorf("%s: body lacks %s: %s", s.name, sub, raw)
			}
		}
		for _, sub := range s.lacks {
			if strings.Contains(string(raw), sub) {
				t.Errorf("%s: body holds %s: %s", s.name, sub, raw)
			}
		}
		at := 0
		for _, sub := range s.order {
			i := strings.Index(string(raw[at:]), sub)
			if i < 0 {
				t.Errorf("%s: body lacks %s after byte %d: %s", s.name, sub, at, raw)
				break
			}
			at += i + len(sub)
		}
		for k, v := range s.header {
			if got := res.Header.Get(k); v == "*" && got == "" || v != "*" && got != v {
				t.Errorf("%s: header %s = %q, want %q", s.name, k, got, v)
			}
		}
	}
}

func TestEngineScenarios(t *testing.T) {
	srv := newEngine(t, nil)
	books := "/v1/shelves/s1/books"
	run(t, srv, []step{
		{name: "root", method: "GET", path: "/v1/", status: 200, has: []string{`"http_api_version"`,
			// Kinto's key order: the project first, the capabilities last.
			`{"project_name":"nimbus","project_version":`}},
		{name: "root as alice", method: "GET", path: "/v1/", user: "alice", status: 200, has: []string{`"test:alice"`,
			`"user":{"id":"test:alice","principals":[`, `"capabilities":{`}},
		{name: "heartbeat", method: "GET", path: "/v1/__heartbeat__", status: 200},
		{name: "lb heartbeat", method: "GET", path: "/v1/__lbheartbeat__", status: 200},
		{name: "version", method: "GET", path: "/v1/__version__", status: 200},
		{name: "openapi lists the test resources", method: "GET", path: "/v1/__api__", status: 200, has: []string{`/shelves/{shelf_id}/books`}},
		{name: "anonymous create", method: "PUT", path: "/v1/shelves/s1", body: `{}`, status: 401, errno: 104},
		{name: "create shelf", method: "PUT", path: "/v1/shelves/s1", user: "alice", body: `{"data":{"title":"Fiction"}}`, status: 201,
			has: []string{`"write":["test:alice"]`}, header: map[string]string{"ETag": "*"}},
		{name: "stranger reads shelf", method: "GET", path: "/v1/shelves/s1", user: "bob", status: 403, errno: 121},
		{name: "anonymous reads shelf", method: "GET", path: "/v1/shelves/s1", status: 401, errno: 104},
		{name: "missing shelf, stranger", method: "GET", path: "/v1/shelves/nope", user: "bob", status: 403, errno: 121},
		{name: "invalid id", method: "PUT", path: "/v1/shelves/a%20b", user: "alice", body: `{}`, status: 400, errno: 107},
		{name: "share shelf read with bob", method: "PATCH", path: "/v1/shelves/s1", user: "alice", body: `{"permissions":{"read":["test:bob"]}}`, status: 200},
		{name: "bob reads shelf", method: "GET", path: "/v1/shelves/s1", user: "bob", status: 200, has: []string{`"permissions":{}`}},
		// A PUT's permissions object of no permission keeps the ACL, as
		// Kinto reads it (an empty object is no permissions at all).
		{name: "PUT with empty permissions keeps the ACL", method: "PUT", path: "/v1/shelves/s1", user: "alice",
			body: `{"data":{"title":"Fiction"},"permissions":{}}`, status: 200, has: []string{`"read":["test:bob"]`}},
		{name: "PUT with only null permissions keeps the ACL", method: "PUT", path: "/v1/shelves/s1", user: "alice",
			body: `{"data":{"title":"Fiction"},"permissions":{"read":null,"fly":null}}`, status: 200, has: []string{`"read":["test:bob"]`}},
		{name: "bob writes shelf", method: "PATCH", path: "/v1/shelves/s1", user: "bob", body: `{"data":{"x":1}}`, status: 403, errno: 121},
		{name: "bob lists shelves", method: "GET", path: "/v1/shelves", user: "bob", status: 200, has: []string{`"id":"s1"`}},
		{name: "unknown permission", method: "PATCH", path: "/v1/shelves/s1", user: "alice", body: `{"permissions":{"fly":["x"]}}`, status: 400, errno: 107},
		{name: "create book with id", method: "PUT", path: books + "/b1", user: "alice", body: `{"data":{"n":1,"tag":"x"}}`, status: 201},
		{name: "post book", method: "POST", path: books, user: "alice", body: `{"data":{"n":2,"tag":"y"}}`, status: 201},
		{name: "post book with existing id", method: "POST", path: books, user: "alice", body: `{"data":{"id":"b1"}}`, status: 200, has: []string{`"n":1`}},
		{name: "post book with existing id and a bad body", method: "POST", path: books, user: "alice", body: `{"data":{"id":"b1"},"permissions":{"fly":["x"]}}`, status: 400, errno: 107},
		{name: "post book with existing id and a bad body, anonymous", method: "POST", path: books, body: `{"data":{"id":"b1"},"permissions":{"fly":["x"]}}`, status: 401, errno: 104},
		{name: "book in missing shelf", method: "PUT", path: "/v1/shelves/nope/books/b", user: "alice", body: `{}`, status: 403, errno: 121},
		{name: "bob reads book by inheritance", method: "GET", path: books + "/b1", user: "bob", status: 200},
		{name: "bob reads missing book", method: "GET", path: books + "/none", user: "bob", status: 404, errno: 110},
		// CORE-21: the request's own errors before a missing object.
		{name: "patch missing book, body not an object", method: "PATCH", path: books + "/none", user: "alice", body: `null`, status: 400, errno: 107},
		{name: "patch missing book, data not an object", method: "PATCH", path: books + "/none", user: "alice", body: `{"data":[1]}`, status: 400, errno: 107},
		{name: "patch missing book, JSON Patch not a list", method: "PATCH", path: books + "/none", user: "alice", body: `{"data":{}}`,
			headers: map[string]string{"Content-Type": "application/json-patch+json"}, status: 400, errno: 107},
		{name: "patch missing book, unknown op", method: "PATCH", path: books + "/none", user: "alice", body: `[{"op":"fly","path":"/data/x"}]`,
			headers: map[string]string{"Content-Type": "application/json-patch+json"}, status: 400, errno: 107},
		{name: "patch missing book, valid JSON Patch", method: "PATCH", path: books + "/none", user: "alice", body: `[{"op":"remove","path":"/data/x"}]`,
			headers: map[string]string{"Content-Type": "application/json-patch+json"}, status: 404, errno: 110},
		{name: "patch missing book, valid body", method: "PATCH", path: books + "/none", user: "alice", body: `{"data":{"x":1}}`, status: 404, errno: 110},
		{name: "patch missing book, empty patch", method: "PATCH", path: books + "/none", user: "alice", body: `{}`, status: 404, errno: 110},
		{name: "patch missing book, bad If-Match", method: "PATCH", path: books + "/none", user: "alice", body: `{"data":{"x":1}}`,
			headers: map[string]string{"If-Match": "x"}, status: 400, errno: 107},
		{name: "delete missing book, bad If-Match", method: "DELETE", path: books + "/none", user: "alice", headers: map[string]string{"If-Match": "x"}, status: 400, errno: 107},
		{name: "delete missing book", method: "DELETE", path: books + "/none", user: "alice", status: 404, errno: 110},
		{name: "reader patches missing book with a bad body", method: "PATCH", path: books + "/none", user: "bob", body: `null`, status: 400, errno: 107},
		{name: "stranger patches missing book with a bad body", method: "PATCH", path: "/v1/shelves/s9/books/none", user: "bob", body: `null`, status: 403, errno: 121},
		{name: "unknown permission cleared", method: "PATCH", path: books + "/b1", user: "alice", body: `{"permissions":{"fly":null}}`, status: 200},
		{name: "list sorted", method: "GET", path: books + "?_sort=-n", user: "alice", status: 200, has: []string{`{"data":[{`}},
		{name: "list filtered", method: "GET", path: books + "?tag=x&_fields=n", user: "alice", status: 200, has: []string{`"n":1`}},
		{name: "list paginated", method: "GET", path: books + "?_limit=1", user: "alice", status: 200, header: map[string]string{"Next-Page": "*"}},
		{name: "list head", method: "HEAD", path: books, user: "alice", status: 200, header: map[string]string{"Total-Objects": "2"}},
		{name: "bad filter value", method: "GET", path: books + "?_limit=x", user: "alice", status: 400, errno: 107},
		{name: "merge patch", method: "PATCH", path: books + "/b1", user: "alice", body: `{"data":{"tag":null}}`,
			headers: map[string]string{"Content-Type": "application/merge-patch+json"}, status: 200},
		{name: "json patch", method: "PATCH", path: books + "/b1", user: "alice", body: `[{"op":"add","path":"/data/z","value":3}]`,
			headers: map[string]string{"Content-Type": "application/json-patch+json"}, status: 200, has: []string{`"z":3`}},
		{name: "stale If-Match", method: "PATCH", path: books + "/b1", user: "alice", body: `{"data":{}}`, headers: map[string]string{"If-Match": `"1"`},
			status: 412, errno: 114, has: []string{`"existing"`}, header: map[string]string{"ETag": "*", "Last-Modified": "*"}},
		{name: "bad If-Match", method: "GET", path: books + "/b1", user: "alice", headers: map[string]string{"If-Match": "x"}, status: 400, errno: 107},
		{name: "If-None-Match star on existing", method: "PUT", path: books + "/b1", user: "alice", body: `{}`, headers: map[string]string{"If-None-Match": "*"}, status: 412, errno: 114},
		{name: "delete book", method: "DELETE", path: books + "/b1", user: "alice", status: 200, has: []string{`"deleted":true`}},
		{name: "deleted book is gone", method: "GET", path: books + "/b1", user: "alice", status: 404, errno: 110},
		{name: "tombstone in _since", method: "GET", path: books + "?_since=0", user: "alice", status: 200, has: []string{`"deleted":true`}},
		{name: "batch", method: "POST", path: "/v1/batch", user: "alice",
			body:   `{"defaults":{"method":"POST","path":"/shelves/s1/books"},"requests":[{"body":{"data":{"n":5}}},{"method":"GET","path":"/shelves/s1"}]}`,
			status: 200, has: []string{`"status":201`, `"status":200`}},
		{name: "recursive batch", method: "POST", path: "/v1/batch", user: "alice", body: `{"requests":[{"path":"/batch"}]}`, status: 400, errno: 107},
		{name: "delete list", method: "DELETE", path: books, user: "alice", status: 200, has: []string{`"deleted":true`}},
		{name: "not json", method: "PUT", path: books + "/x", user: "alice", body: `{nope`, status: 400, errno: 107},
		{name: "body too large", method: "PUT", path: books + "/x", user: "alice", body: `{"data":{"a":"` + strings.Repeat("a", 5000) + `"}}`, status: 413, errno: 113},
		{name: "unsupported content type", method: "PUT", path: books + "/x", user: "alice", body: `{}`, headers: map[string]string{"Content-Type": "text/plain"}, status: 415, errno: 107},
		{name: "unacceptable Accept", method: "GET", path: books, user: "alice", headers: map[string]string{"Accept": "text/html"}, status: 406, errno: 107},
		// An Accept header that cannot be read is no preference, as WebOb
		// reads it under Kinto; a readable one that accepts nothing is 406.
		{name: "unreadable Accept", method: "GET", path: books, user: "alice", headers: map[string]string{"Accept": "garbage"}, status: 200},
		{name: "Accept with an unreadable entry", method: "GET", path: books, user: "alice", headers: map[string]string{"Accept": "text/html, garbage"}, status: 200},
		{name: "Accept of JSON at q=0", method: "GET", path: books, user: "alice", headers: map[string]string{"Accept": "application/json;q=0"}, status: 406, errno: 107},
		{name: "Accept with a bad q", method: "GET", path: books, user: "alice", headers: map[string]string{"Accept": "text/html;q=x"}, status: 200},
		{name: "Accept of an empty list", method: "GET", path: books, user: "alice", headers: map[string]string{"Accept": ","}, status: 406, errno: 107},
		{name: "Accept of JSON among others", method: "GET", path: books, user: "alice", headers: map[string]string{"Accept": "text/html;q=0.9, application/json;q=0.1"}, status: 200},
		// What a client could not read back is refused, as Kinto refuses it.
		{name: "number beyond a double", method: "PUT", path: books + "/x", user: "alice", body: `{"data":{"n":-1e400}}`, status: 400, errno: 107, has: []string{`too big`}},
		{name: "lone surrogate", method: "PUT", path: books + "/x", user: "alice", body: `{"data":{"s":"a\ud800b"}}`, status: 400, errno: 107, has: []string{`surrogate`}},
		{name: "lone surrogate in a key", method: "PUT", path: books + "/x", user: "alice", body: `{"data":{"\udc00":1}}`, status: 400, errno: 107},
		{name: "surrogate pair", method: "PUT", path: books + "/pair", user: "alice", body: `{"data":{"s":"\ud83d\ude00","n":1e308}}`, status: 201, has: []string{`"s":"😀"`, `"n":1e308`}},
		{name: "body of white space", method: "PUT", path: books + "/x", user: "alice", body: " \n", status: 400, errno: 107},
		{name: "principal named twice", method: "PUT", path: books + "/dup", user: "alice", body: `{"permissions":{"read":["test:bob","test:bob"]}}`,
			status: 201, has: []string{`"read":["test:bob"]`}},
		{name: "unknown URL", method: "GET", path: "/v1/nothing/here", status: 404, errno: 111},
		{name: "method not allowed", method: "POST", path: "/v1/shelves/s1", user: "alice", body: `{}`, status: 405, errno: 115, header: map[string]string{"Allow": "*"}},
		// CORE-21: 405 before content negotiation and the body, as in Kinto.
		{name: "method not allowed, body of another type", method: "PUT", path: books, user: "alice", body: `x`,
			headers: map[string]string{"Content-Type": "text/plain"}, status: 405, errno: 115},
		{name: "method not allowed, body without a type", method: "POST", path: books + "/b9", body: `x`,
			headers: map[string]string{"Content-Type": ""}, status: 405, errno: 115},
		{name: "method not allowed, nothing acceptable", method: "PUT", path: books, body: `{}`,
			headers: map[string]string{"Accept": "text/html"}, status: 405, errno: 115},
		{name: "method not allowed, body not JSON", method: "PUT", path: books, user: "alice", body: `{nope`, status: 405, errno: 115},
		{name: "trailing slash", method: "GET", path: "/v1/shelves/", status: 307, header: map[string]string{"Location": "/v1/shelves"}},
		{name: "no version prefix", method: "GET", path: "/shelves", status: 307, header: map[string]string{"Location": "/v1/shelves"}},
		{name: "other version", method: "GET", path: "/v2/shelves", status: 404, errno: 116},
		{name: "preflight", method: "OPTIONS", path: "/v1/shelves", headers: map[string]string{"Origin": "http://app.example", "Access-Control-Request-Method": "PUT"},
			status: 200, header: map[string]string{"Access-Control-Allow-Methods": "*"}},
		{name: "delete shelf cascades", method: "DELETE", path: "/v1/shelves/s1", user: "alice", status: 200},
		{name: "books of a deleted shelf", method: "GET", path: books, user: "alice", status: 403, errno: 121},
	})
}

func TestEngineReadOnlyAndSettings(t *testing.T) {
	ro := newEngine(t, map[string]string{"readonly": "true"})
	run(t, ro, []step{
		{name: "read-only write", method: "PUT", path: "/v1/shelves/s", user: "alice", body: `{}`, status: 405, errno: 115},
		{name: "read-only read", method: "GET", path: "/v1/shelves", user: "alice", status: 200},
	})
	writers := newEngine(t, map[string]string{"shelf_write_principals": "test:admin", "shelf_create_principals": "test:alice"})
	run(t, writers, []step{
		{name: "creator", method: "PUT", path: "/v1/shelves/s", user: "alice", body: `{}`, status: 201},
		{name: "not a creator", method: "PUT", path: "/v1/shelves/t", user: "bob", body: `{}`, status: 403, errno: 121},
		{name: "second shelf", method: "PUT", path: "/v1/shelves/t", user: "alice", body: `{}`, status: 201},
		{name: "settings do not reach children", method: "PUT", path: "/v1/shelves/t/books/b", user: "admin", body: `{}`, status: 403, errno: 121},
		{name: "settings writer", method: "PATCH", path: "/v1/shelves/s", user: "admin", body: `{"data":{"a":1}}`, status: 200,
			has: []string{`"test:admin"`}},
		{name: "the editor is now in the shelf's ACL", method: "PUT", path: "/v1/shelves/s/books/b", user: "admin", body: `{}`, status: 201},
	})
}

// extras uses the rest of the plugin API: a route with a path parameter,
// a capability, public settings, a heartbeat, listeners, user info,
// extra principals and a request hook.
type extras struct{ before, after *int }

func (extras) Name() string { return "extras" }

func (e extras) Register(r *resource.Registry) error {
	if err := r.DeclareSettings(resource.Setting{Name: "extras.greeting", Type: resource.String, Default: "hello"}); err != nil {
		return err
	}
	if err := r.DeclareSettings(resource.Setting{Name: "extras.greeting"}); err == nil {
		return errFake // a setting is declared once
	}
	greeting := r.Settings().String("extras.greeting")
	if r.Storage() == nil || r.Logger() == nil || r.Resource("shelf") == nil || r.PluginName() != "extras" {
		return errFake
	}
	r.AddPublicSetting("extras.greeting", greeting)
	if err := r.AddCapability("extras", "Test extras.", "https://example.org", map[string]any{"greeting": greeting}); err != nil {
		return err
	}
	r.AddHeartbeat("extras", func(context.Context) error { return nil })
	r.AddUserInfo(func(req *resource.Request, user map[string]any) { user["greeting"] = greeting })
	r.AddPrincipals(func(req *resource.Request, tx storage.Tx) ([]string, error) { return []string{"role:reader"}, nil })
	r.AddRequestHook(func(req *resource.Request, _ resource.Operation) error {
		if req.Request().Header.Get("X-Refuse") != "" {
			return &resource.Error{Status: 403, Errno: resource.ErrnoForbidden, Message: "refused by a hook"}
		}
		return nil
	})
	r.AddListener(resource.Listener{Resources: []string{"book"}, Actions: []string{"create"},
		BeforeCommit: func(tx storage.Tx, ev *resource.Event) error { *e.before++; return nil },
		AfterCommit:  func(ev *resource.Event) { *e.after++ }})
	return r.AddRoute(resource.Route{Method: http.MethodGet, Path: "/echo/:word", Summary: "Echo a word.",
		Handler: func(req *resource.Request) error {
			var ps []string
			if err := req.View(func(tx storage.Tx) (err error) { ps, err = req.Principals(tx); return }); err != nil {
				return err
			}
			return req.JSON(http.StatusOK, map[string]any{"word": req.Param("word"), "principals": ps})
		}})
}

var errFake = &resource.Error{Status: 500, Errno: resource.ErrnoUndefined, Message: "registry"}

func TestEnginePluginAPI(t *testing.T) {
	var before, after int
	settings := map[string]string{"multiauth.policies": "test", "shelf_create_principals": "system.Authenticated",
		"userid_hmac_secret": "s", "shelf_cache_expires_seconds": "60", "shelf_read_principals": "role:reader"}
	srv := serveMemory(t, settings, shelves{}, extras{&before, &after})
	books := "/v1/shelves/s1/books"
	run(t, srv, []step{
		{name: "root shows the plugin", method: "GET", path: "/v1/", user: "alice", status: 200,
			has: []string{`"extras.greeting":"hello"`, `"greeting":"hello"`, `"role:reader"`}},
		{name: "decoded route parameter", method: "GET", path: "/v1/echo/a%40b", user: "alice", status: 200, has: []string{`"word":"a@b"`}},
		{name: "request hook", method: "GET", path: "/v1/echo/x", headers: map[string]string{"X-Refuse": "1"}, status: 403, errno: 121},
		{name: "heartbeat with the plugin's check", method: "GET", path: "/v1/__heartbeat__", status: 200, has: []string{`"extras":true`}},
		{name: "shelf", method: "PUT", path: "/v1/shelves/s1", user: "alice", body: `{"permissions":{"read":["system.Everyone"]}}`, status: 201},
		{name: "anonymous read gets cache headers", method: "GET", path: "/v1/shelves/s1", status: 200, header: map[string]string{"Cache-Control": "max-age=60"}},
		{name: "a principal added by a plugin grants through settings", method: "GET", path: "/v1/shelves/s1", user: "bob", status: 200},
		{name: "books", method: "POST", path: "/v1/batch", user: "alice",
			body:   `{"defaults":{"method":"PUT"},"requests":[{"path":"/shelves/s1/books/a","body":{"data":{"n":1,"tags":["x"],"o":{"p":1,"q":2}}}},{"path":"/shelves/s1/books/b","body":{"data":{"n":2,"tags":[],"name":"Bob"}}},{"path":"/shelves/s1/books/c","body":{"data":{"n":3,"name":"Carl"}}}]}`,
			status: 200},
		{name: "has_", method: "GET", path: books + "?has_name=true&_sort=n", user: "alice", status: 200, has: []string{`"id":"b"`, `"id":"c"`}},
		{name: "in_", method: "GET", path: books + "?in_n=1,3", user: "alice", status: 200, has: []string{`"id":"a"`}},
		{name: "in_ drops empty items, as Kinto", method: "GET", path: books + "?in_n=1,,3,", user: "alice", status: 200,
			has: []string{`"id":"a"`, `"id":"c"`}, lacks: []string{`"id":"b"`}},
		{name: "in_ of no item matches nothing", method: "GET", path: books + "?in_n=", user: "alice", status: 200, has: []string{`{"data":[]}`}},
		{name: "exclude_ of no item excludes nothing", method: "GET", path: books + "?exclude_n=,", user: "alice", status: 200,
			has: []string{`"id":"a"`, `"id":"b"`, `"id":"c"`}},
		{name: "a repeated in_ is one list, as Kinto", method: "GET", path: books + "?in_n=1&in_n=3", user: "alice", status: 200,
			has: []string{`"id":"a"`, `"id":"c"`}, lacks: []string{`"id":"b"`}},
		{name: "a repeated _sort is one list, as Kinto", method: "GET", path: books + "?_sort=zz&_sort=n", user: "alice", status: 200,
			order: []string{`"id":"a"`, `"id":"b"`, `"id":"c"`}},
		{name: "a repeated _fields is one list, as Kinto", method: "GET", path: books + "/b?_fields=n&_fields=name", user: "alice", status: 200,
			has: []string{`{"data":{"n":2,"name":"Bob","id":"b","last_modified":`}},
		{name: "a repeated _limit is refused, as Kinto", method: "GET", path: books + "?_limit=1&_limit=2", user: "alice", status: 400, errno: 107},
		{name: "in_ items keep their spaces, as Kinto", method: "GET", path: books + "?in_name=%20Bob,Carl", user: "alice", status: 200,
			has: []string{`"id":"c"`}, lacks: []string{`"id":"b"`}},
		{name: "like_", method: "GET", path: books + "?like_name=*arl", user: "alice", status: 200, has: []string{`"id":"c"`}},
		{name: "nested _fields", method: "GET", path: books + "?_fields=o.q", user: "alice", status: 200, has: []string{`"o":{"q":2}`}},
		{name: "_fields on an object: its data alone, without the ACL (as Kinto)", method: "GET", path: books + "/a?_fields=o.q", user: "alice", status: 200,
			has: []string{`{"data":{"o":{"q":2},"id":"a","last_modified":`}, lacks: []string{`"permissions"`}},
		{name: "an object without _fields has its ACL", method: "GET", path: books + "/a", user: "alice", status: 200, has: []string{`"permissions":{"write":`}},
		{name: "page 2 through its token", method: "GET", path: books + "?_sort=n&_limit=2&_token=" + "bad", user: "alice", status: 400, errno: 107},
		{name: "an empty token is the first page", method: "GET", path: books + "?_sort=n&_limit=2&_token=", user: "alice", status: 200,
			has: []string{`"id":"a"`}, header: map[string]string{"Next-Page": "*"}},
		{name: "json-patch remove, move, copy, test", method: "PATCH", path: books + "/a", user: "alice",
			body:    `[{"op":"test","path":"/data/n","value":1},{"op":"copy","from":"/data/o","path":"/data/o2"},{"op":"move","from":"/data/tags","path":"/data/labels"},{"op":"remove","path":"/data/o/p"},{"op":"replace","path":"/data/n","value":10}]`,
			headers: map[string]string{"Content-Type": "application/json-patch+json"}, status: 200, has: []string{`"labels":["x"]`, `"o":{"q":2}`, `"o2":{"p":1,"q":2}`, `"n":10`}},
		{name: "json-patch failing test", method: "PATCH", path: books + "/a", user: "alice", body: `[{"op":"test","path":"/data/n","value":1}]`,
			headers: map[string]string{"Content-Type": "application/json-patch+json"}, status: 400, errno: 107},
		{name: "patch a missing book", method: "PATCH", path: books + "/none", user: "alice", body: `{"data":{}}`, status: 404, errno: 110},
		{name: "delete a missing book, stranger", method: "DELETE", path: "/v1/shelves/nope/books/none", user: "bob", status: 403, errno: 121},
	})
	if before != 3 || after != 3 {
		t.Errorf("listeners saw %d creations before commit and %d after, want 3 and 3", before, after)
	}
	// Following Next-Page gives the rest of the list (n: b 2, c 3, a 10).
	req, _ := http.NewRequest("GET", srv.URL+books+"?_sort=n&_limit=2", nil)
	req.Header.Set("Authorization", "Test alice")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	next := res.Header.Get("Next-Page")
	req, _ = http.NewRequest("GET", next, nil)
	req.Header.Set("Authorization", "Test alice")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(raw), `"id":"a"`) || strings.Contains(string(raw), `"id":"c"`) {
		t.Fatalf("second page: %d %s", res.StatusCode, raw)
	}
}
