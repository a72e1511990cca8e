package resource

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/nimbus-server/nimbus/permissions"
	"github.com/nimbus-server/nimbus/storage"
)

// Identity is who made a request.
type Identity struct {
	// UserID is the prefixed user id ("account:alice"), "" when anonymous.
	UserID string
	// Policy is the name of the authentication policy that accepted it.
	Policy string
	// Profile and Extra are free-form fields plugins may set; Extra keys
	// are added to the root URL's user object.
	Extra map[string]any
}

// Request is one HTTP request being served: the echo context, the caller's
// identity and helpers for handlers.
type Request struct {
	echo.Context
	App      *App
	Identity Identity
	// Body is the raw request body (already size-checked).
	Body []byte
	// Values is free storage for plugins during one request.
	Values map[string]any

	principals []string
	tx         storage.Tx
	// updating is the transaction of the Update running now, if any.
	updating storage.Tx
}

const requestKey = "nimbus.request"

// FromContext returns the Request of an echo context.
func FromContext(c echo.Context) *Request {
	if r, ok := c.Get(requestKey).(*Request); ok {
		return r
	}
	r := &Request{Context: c}
	c.Set(requestKey, r)
	return r
}

// Authenticated tells whether the caller is logged in.
func (r *Request) Authenticated() bool { return r.Identity.UserID != "" }

// Ctx returns the request's context.
func (r *Request) Ctx() context.Context { return r.Request().Context() }

// Principals returns the caller's principals: the user id,
// system.Everyone, system.Authenticated and the groups they belong to.
func (r *Request) Principals(tx storage.Tx) ([]string, error) {
	if r.principals != nil {
		return r.principals, nil
	}
	if !r.Authenticated() {
		r.principals = []string{permissions.Everyone}
		return r.principals, nil
	}
	ps := []string{r.Identity.UserID, permissions.Everyone, permissions.Authenticated}
	groups, err := tx.UserPrincipals([]string{r.Identity.UserID, permissions.Authenticated})
	if err != nil {
		return nil, err
	}
	ps = append(ps, groups...)
	for _, h := range r.App.principalHooks {
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
	return r.App.Storage.View(r.Ctx(), fn)
}

// Update runs fn in a write transaction, or in the enclosing batch
// transaction when there is one. fn may run more than once.
func (r *Request) Update(fn func(tx storage.Tx) error) error {
	if r.tx != nil {
		return fn(r.tx)
	}
	if r.updating != nil {
		// Nested in another Update: join its transaction.
		return fn(r.updating)
	}
	return r.App.Storage.Update(r.Ctx(), func(tx storage.Tx) error {
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
	h := r.Response().Header()
	h.Set("Content-Type", "application/json")
	if r.Request().Method == http.MethodHead {
		h.Set("Content-Length", strconv.Itoa(len(b)))
		r.Response().WriteHeader(status)
		return nil
	}
	return r.Blob(status, "application/json", b)
}

// BodyObject decodes the body as a JSON object ({} when empty).
func (r *Request) BodyObject() (map[string]any, *Error) {
	if len(strings.TrimSpace(string(r.Body))) == 0 {
		return map[string]any{}, nil
	}
	v, err := DecodeJSON(r.Body)
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
// (e.g. http://localhost:8888/v1), from http_scheme/http_host or the
// request.
func (r *Request) BaseURL() string {
	o := &r.App.opts
	scheme, host := o.scheme, o.host
	if scheme == "" {
		scheme = "http"
		if r.Request().TLS != nil {
			scheme = "https"
		}
	}
	if host == "" {
		host = r.Request().Host
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
	h := r.Response().Header()
	h.Set("ETag", fmt.Sprintf("\"%d\"", ts))
	h.Set("Last-Modified", time.UnixMilli(ts).UTC().Format(http.TimeFormat))
}

// NoChallenge keeps WWW-Authenticate out of a 401 answer: browsers show
// a login prompt for it, which cookie-based clients must not get.
func (r *Request) NoChallenge() { r.Set("nimbus.no_challenge", true) }
