package resource

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/nimbus-server/nimbus/config"
	"github.com/nimbus-server/nimbus/permissions"
	"github.com/nimbus-server/nimbus/storage"
)

// Identity is who made a request.
type Identity struct {
	// UserID is the prefixed user id ("account:alice"), "" when anonymous.
	UserID string
	// Policy is the name of the authentication policy that accepted it.
	Policy string
	// Credential names the credential when the method gives one user
	// several scoped ones (an embed key): limits kept per caller (open
	// streams) count it apart from its owner. "" otherwise.
	Credential string
}

// SetCredential names the credential being accepted (see
// Identity.Credential); an authentication method calls it from
// Authenticate.
func (r *Request) SetCredential(name string) { r.credential = name }

// Request is one HTTP request being served, as handlers and hooks see it:
// the caller's identity, the decoded path parameters, the body already
// read and size-checked, typed per-request state (StateKey) and helpers to
// answer. The HTTP framework under it is not part of the plugin API.
type Request struct {
	c        echo.Context
	app      *App
	identity Identity
	recheck  bool // Reauthenticate's request (see Recheck)
	// rerun: a sub-request of a batch of reads that wrote, answered
	// in an attempt of the batch that is run again (batchread.go).
	rerun bool
	// served ends the request's count among those a flush waits for
	// (nil inside a batch).
	served func()
	// credential is what the method being run named with SetCredential.
	credential string
	body       []byte
	state      map[any]any

	principals []string
	tx         storage.Tx
	// updating is the transaction of the Update running now, if any.
	updating storage.Tx
	// pending collects the events of a batch's sub-request until the
	// batch commits.
	pending *[]*Event
	// noChallenge keeps WWW-Authenticate out of a 401 answer.
	noChallenge bool
	errno       int
	// stream is set when a list GET asked for a change stream.
	stream bool
	// rerouted is set once Reroute served the request on another path;
	// aliasRoute is then the route template the request first matched,
	// which observers are told (Kinto names metrics after the alias).
	rerouted   bool
	aliasRoute string
}

const requestKey = "nimbus.request"

// requestOf returns the Request of an echo context, creating it on first
// use.
func requestOf(c echo.Context) *Request {
	if r, ok := c.Get(requestKey).(*Request); ok {
		return r
	}
	r := &Request{c: c}
	c.Set(requestKey, r)
	return r
}

// Identity returns who made the request (anonymous until authentication
// ran).
func (r *Request) Identity() Identity { return r.identity }

// Authenticated tells whether the caller is logged in.
func (r *Request) Authenticated() bool { return r.identity.UserID != "" }

// Request returns the underlying net/http request: method, URL, headers,
// cookies and remote address. Its body has already been read: use Body.
func (r *Request) Request() *http.Request { return r.c.Request() }

// InBatch tells whether the request is a sub-request of /batch, run in
// the batch's transaction.
func (r *Request) InBatch() bool { return r.c.Request().Context().Value(batchKey{}) != nil }

// Method returns the HTTP method.
func (r *Request) Method() string { return r.c.Request().Method }

// Header returns the request headers.
func (r *Request) Header() http.Header { return r.c.Request().Header }

// BasicAuth reads "Authorization: Basic ..." for authentication
// methods: ok is false when the header is absent or not Basic, valid is
// false when it is malformed.
func (r *Request) BasicAuth() (user, pass string, ok, valid bool) {
	scheme, cred, found := strings.Cut(r.c.Request().Header.Get("Authorization"), " ")
	if !found || !strings.EqualFold(scheme, "basic") {
		return "", "", false, false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return "", "", true, false
	}
	user, pass, found = strings.Cut(string(raw), ":")
	if !found {
		return "", "", true, false
	}
	return user, pass, true, true
}

// Body returns the request body, read and size-checked before the handler
// runs (empty when there was none).
func (r *Request) Body() []byte { return r.body }

// BodyReader is the request body as it arrives, for routes declared with
// StreamBody (Body is empty there).
func (r *Request) BodyReader() io.Reader { return r.c.Request().Body }

// Param returns a path parameter of the route (":name"), percent-decoded
// once for every route.
func (r *Request) Param(name string) string { return r.c.Param(name) }

// QueryParam returns the first value of a querystring parameter.
func (r *Request) QueryParam(name string) string { return r.c.QueryParam(name) }

// QueryParams returns the querystring.
func (r *Request) QueryParams() url.Values { return r.c.QueryParams() }

// RealIP returns the client's address, as the proxy headers the server
// trusts report it.
func (r *Request) RealIP() string { return r.c.RealIP() }

// ResponseHeader returns the headers of the answer being built.
func (r *Request) ResponseHeader() http.Header { return r.c.Response().Header() }

// ResponseWriter returns the writer of the answer, for handlers that
// stream (http.ServeFile, server-sent events).
func (r *Request) ResponseWriter() http.ResponseWriter { return r.c.Response() }

// Answered tells whether the answer's status line was written.
func (r *Request) Answered() bool { return r.c.Response().Committed }

// SetCookie adds a Set-Cookie header to the answer.
func (r *Request) SetCookie(ck *http.Cookie) { http.SetCookie(r.c.Response(), ck) }

// Redirect answers with a redirection to url.
func (r *Request) Redirect(status int, url string) error { return r.c.Redirect(status, url) }

// Blob answers with bytes of a content type.
func (r *Request) Blob(status int, contentType string, b []byte) error {
	return r.writeAnswer(status, contentType, b)
}

// HTML answers with an HTML page.
func (r *Request) HTML(status int, page string) error { return r.c.HTML(status, page) }

// NoContent answers with a status and no body.
func (r *Request) NoContent(status int) error { return r.c.NoContent(status) }

// Settings returns the server settings.
func (r *Request) Settings() *config.Settings { return r.app.Settings }

// Logger returns the server logger.
func (r *Request) Logger() *slog.Logger { return r.app.Logger }

// Authorizer returns the authorization decision of the server (for
// plugins that answer questions about permissions).
func (r *Request) Authorizer() *permissions.Authorizer { return r.app.Authorizer }

// Tree returns the permission inheritance tree.
func (r *Request) Tree() *permissions.Tree { return r.app.Tree }

// Ctx returns the request's context.
func (r *Request) Ctx() context.Context { return r.c.Request().Context() }

// Principals returns the caller's principals: the user id,
// system.Authenticated, system.Everyone (in the order Kinto lists them on
// its root URL) and the groups they belong to.
func (r *Request) Principals(tx storage.Tx) ([]string, error) {
	if r.principals != nil {
		return r.principals, nil
	}
	if !r.Authenticated() {
		r.principals = []string{permissions.Everyone}
		return r.principals, nil
	}
	ps := []string{r.identity.UserID, permissions.Authenticated, permissions.Everyone}
	groups, err := tx.UserPrincipals([]string{r.identity.UserID, permissions.Authenticated})
	if err != nil {
		return nil, err
	}
	ps = append(ps, groups...)
	for _, h := range r.app.principalHooks {
		more, err := h(r, tx)
		if err != nil {
			return nil, err
		}
		ps = append(ps, more...)
	}
	r.principals = ps
	return ps, nil
}

// ResetPrincipals forgets the computed principals (after a membership
// change inside a batch).
func (r *Request) ResetPrincipals() { r.principals = nil }

// Deny returns 401 for anonymous callers and 403 otherwise.
func (r *Request) Deny() *Error {
	if r.Authenticated() {
		return Forbidden()
	}
	return Unauthorized()
}

// RequireOneOf lets the request through when principals is empty or the
// caller holds one of them (a group's members included); otherwise it
// returns the 401 or 403 of Deny. Plugins restrict their endpoints with
// it (metrics_read_principals, counters_read_principals).
func (r *Request) RequireOneOf(principals []string) error {
	if len(principals) == 0 {
		return nil
	}
	var ps []string
	if err := r.View(func(tx storage.Tx) (err error) { ps, err = r.Principals(tx); return }); err != nil {
		return err
	}
	for _, pr := range ps {
		if slices.Contains(principals, pr) {
			return nil
		}
	}
	return r.Deny()
}

// View runs fn in a read transaction, or in the enclosing batch
// transaction when there is one.
func (r *Request) View(fn func(tx storage.Tx) error) error {
	if r.tx != nil {
		return fn(r.tx)
	}
	if r.updating != nil {
		// A read inside an Update reads through its transaction: it sees
		// what the update wrote, and opens no second transaction.
		return fn(r.updating)
	}
	return r.app.view(r.Ctx(), fn)
}

// Update runs fn in a write transaction, or in the enclosing batch
// transaction when there is one. fn may run more than once.
func (r *Request) Update(fn func(tx storage.Tx) error) error {
	return r.updateWith(r.Ctx(), fn)
}

// UpdateDetached is Update for a write that must happen once the request
// was seen, whether its client still waits for the answer or not: the
// client closing its connection, or only its sending side (which ends
// the request's context while the answer can still be read), does not
// cancel it; timeout bounds it instead. A failed login is counted this
// way: a client could otherwise learn each verdict uncounted.
//
// In a batch sub-request the write runs once the batch's transaction is
// over, in a transaction of its own (a failed sub-request's writes are
// rolled back, this one is not): UpdateDetached then returns nil at once,
// and done, when not nil, gets the write's outcome. Should the batch's
// transaction run again (a conflict), the sub-request runs again and the
// writes of both runs are made. Elsewhere done gets what UpdateDetached
// returns.
func (r *Request) UpdateDetached(timeout time.Duration, fn func(tx storage.Tx) error, done func(error)) error {
	ctx := context.WithoutCancel(r.Ctx())
	if bs, ok := ctx.Value(batchKey{}).(*batchState); ok && r.tx == bs.tx && bs.detached != nil {
		*bs.detached = append(*bs.detached, detachedWrite{ctx: ctx, timeout: timeout, fn: fn, done: done})
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := r.updateWith(ctx, fn)
	if done != nil {
		done(err)
	}
	return err
}

func (r *Request) updateWith(ctx context.Context, fn func(tx storage.Tx) error) error {
	if r.tx != nil {
		return fn(r.tx)
	}
	if r.updating != nil {
		// Nested in another Update: join its transaction.
		return fn(r.updating)
	}
	return r.app.update(ctx, func(tx storage.Tx) error {
		r.principals = nil
		r.updating = tx
		defer func() { r.updating = nil }()
		return fn(tx)
	})
}

// JSON writes a JSON response.
func (r *Request) JSON(status int, v any) error {
	b, err := EncodeJSON(v)
	if err != nil {
		return err
	}
	h := r.c.Response().Header()
	h.Set("Content-Type", "application/json")
	if r.c.Request().Method == http.MethodHead {
		h.Set("Content-Length", strconv.Itoa(len(b)))
		r.c.Response().WriteHeader(status)
		return nil
	}
	return r.writeAnswer(status, "application/json", b)
}

// unusedBodyError is the 400 of a body a GET, HEAD or DELETE does not use
// but that is declared JSON (or undeclared) and is not valid JSON: Kinto
// parses every such body and refuses it (CORE-12), so that a malformed
// request deletes nothing. Valid JSON of any shape, or a body of another
// declared type, is ignored, as in Kinto.
func (r *Request) unusedBodyError() *Error {
	if len(r.body) == 0 {
		return nil
	}
	if ct := r.c.Request().Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" && !strings.HasSuffix(mt, "+json") {
			return nil
		}
	}
	if _, err := DecodeJSON(r.body); err != nil {
		return Invalid("body", "", err.Error())
	}
	return nil
}

// BodyObject decodes the body as a JSON object ({} when empty; a body of
// only white space is not JSON, as Kinto answers).
func (r *Request) BodyObject() (map[string]any, *Error) {
	if len(r.body) == 0 {
		return map[string]any{}, nil
	}
	v, err := DecodeJSON(r.body)
	if err != nil {
		return nil, Invalid("body", "", err.Error())
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, Invalid("body", "", "Invalid JSON: the body must be an object")
	}
	return m, nil
}

// BaseURL returns the absolute URL of the API root without trailing slash
// (e.g. http://localhost:8888/v1), from http_scheme/http_host, else what
// a trusted proxy reports (X-Forwarded-Proto/Host, Forwarded), else the
// request.
func (r *Request) BaseURL() string {
	o := &r.app.opts
	scheme, host := o.scheme, o.host
	if scheme == "" || host == "" {
		fs, fh := r.app.forwardedBase(r.c.Request())
		if scheme == "" {
			scheme = fs
		}
		if host == "" {
			host = fh
		}
	}
	if scheme == "" {
		scheme = "http"
		if r.c.Request().TLS != nil {
			scheme = "https"
		}
	}
	if host == "" {
		host = r.c.Request().Host
	}
	return scheme + "://" + host + "/v1"
}

// AbsoluteURL builds an absolute URL for a path under /v1 and a query.
func (r *Request) AbsoluteURL(path string, q url.Values) string {
	u := r.BaseURL() + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// Now returns the current time in milliseconds.
func Now() int64 { return time.Now().UnixMilli() }

// SetETag sets ETag and Last-Modified from a timestamp in milliseconds.
func (r *Request) SetETag(ts int64) {
	// Set directly under their canonical keys: every answer sets both,
	// and Header.Set would build "Etag" from "ETag" each time.
	h := r.c.Response().Header()
	h["Etag"] = []string{`"` + strconv.FormatInt(ts, 10) + `"`}
	h["Last-Modified"] = []string{time.UnixMilli(ts).UTC().Format(http.TimeFormat)}
}

// NoChallenge keeps WWW-Authenticate out of a 401 answer: browsers show
// a login prompt for it, which cookie-based clients must not get.
func (r *Request) NoChallenge() { r.noChallenge = true }

// StateKey names one piece of per-request state of type T that a plugin
// keeps between its hooks and handlers (the credential an authentication
// method accepted, a throttling verdict). Keys are compared by identity:
// create each once, with NewStateKey, and keep it in the plugin.
type StateKey[T any] struct{ name string }

// NewStateKey creates a key; name only documents it.
func NewStateKey[T any](name string) *StateKey[T] { return &StateKey[T]{name: name} }

// String returns the key's name.
func (k *StateKey[T]) String() string { return k.name }

// Get returns the value stored under the key in r, if any.
func (k *StateKey[T]) Get(r *Request) (T, bool) {
	v, ok := r.state[k]
	if !ok {
		var zero T
		return zero, false
	}
	return v.(T), true
}

// Set stores a value under the key in r.
func (k *StateKey[T]) Set(r *Request, v T) {
	if r.state == nil {
		r.state = map[any]any{}
	}
	r.state[k] = v
}
