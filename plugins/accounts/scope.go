package accounts

import (
	"net/http"
	"strings"

	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

var errScope = &resource.Error{Status: 403, Errno: resource.ErrnoForbidden, Message: "Credential scope does not allow this request."}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// checkRequest runs after authentication on every request: throttled
// credentials, credential scopes, CSRF and Origin checks of cookie
// sessions, and terms enforcement. For a write the server makes on the
// request's behalf (op.Implied: the default bucket's implicit creations)
// the credential scope and a session's CSRF check apply; throttling and
// terms were checked on the request.
func (p *Plugin) checkRequest(r *resource.Request, op resource.Operation) error {
	if !op.Implied {
		if err, ok := unavailableKey.Get(r); ok {
			return err
		}
		if secs, ok := throttledKey.Get(r); ok {
			return tooMany(secs)
		}
		if p.sessions && r.Request().Header.Get("Authorization") == "" {
			if _, err := r.Request().Cookie(p.cookieName); err == nil || strings.HasPrefix(op.Path, "/v1/account/session") {
				r.NoChallenge()
			}
		}
	}
	c := credOf(r)
	if c == nil || r.Identity().Policy != p.policy {
		return nil
	}
	path := strings.TrimRight(op.Path, "/")
	if path == "" {
		path = "/v1"
	}
	isBatch := op.Method == http.MethodPost && path == "/v1/batch"
	switch {
	case c.method == "embed":
		if !(safeMethod(op.Method) || isBatch) || !p.embedPath(path, c.bucket) {
			return errScope
		}
	case c.readOnly:
		if !(safeMethod(op.Method) || isBatch || op.Method == http.MethodDelete && path == "/v1/account/tokens/current") {
			return errScope
		}
	}
	// Cookie sessions: every write needs the CSRF token, including the
	// writes the server makes on the caller's behalf while answering a
	// GET (the default bucket's implicit creations): SameSite=Lax sends
	// the cookie on another site's top-level GET navigation.
	if c.method == "session" && !safeMethod(op.Method) && !(op.Method == http.MethodDelete && path == "/v1/account/session") {
		req := r.Request()
		if origin := req.Header.Get("Origin"); origin != "" && !p.originTrusted(r, origin) {
			return &resource.Error{Status: 403, Errno: resource.ErrnoForbidden, Message: "Origin not allowed for cookie sessions."}
		}
		sent := req.Header.Get(p.csrfHeader)
		if sent == "" || !constantEqual(sent, c.csrf) {
			return &resource.Error{Status: 403, Errno: resource.ErrnoForbidden, Message: "CSRF token missing or invalid."}
		}
	}
	if op.Implied {
		return nil
	}
	if p.termsEnforced && p.termsVersion != "" && !isBatch && !p.termsExempt(r, path) {
		accepted, err := p.acceptedVersion(r)
		if err != nil {
			return err
		}
		if accepted != p.termsVersion {
			return &resource.Error{Status: 403, Errno: resource.ErrnoForbidden, Message: "The terms of service must be accepted first.",
				Details: map[string]any{"reason": "terms-not-accepted", "version": p.termsVersion, "url": p.termsURL}}
		}
	}
	return nil
}

// embedPath tells whether an embed credential of bucket may reach path.
func (p *Plugin) embedPath(path, bucket string) bool {
	switch path {
	case "/v1", "/v1/__heartbeat__", "/v1/__lbheartbeat__", "/v1/__version__", "/v1/__api__", "/v1/batch", "/v1/account":
		return true
	}
	b := "/v1/buckets/" + bucket
	return path == b || strings.HasPrefix(path, b+"/")
}

// originTrusted accepts the server's own origin and origins listed
// explicitly in cors_origins.
func (p *Plugin) originTrusted(r *resource.Request, origin string) bool {
	own := strings.TrimSuffix(r.BaseURL(), "/v1")
	if strings.EqualFold(origin, own) {
		return true
	}
	for _, o := range p.settings.List("cors_origins") {
		if o != "*" && strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

func (p *Plugin) termsExempt(r *resource.Request, path string) bool {
	m := r.Method()
	switch {
	case path == "/v1", strings.HasPrefix(path, "/v1/__"):
		return true
	case path == "/v1/account" && (m == http.MethodGet || m == http.MethodDelete || m == http.MethodHead):
		return true
	case path == "/v1/account/terms", strings.HasPrefix(path, "/v1/account/session"), strings.HasPrefix(path, "/v1/account/tokens"):
		return true
	case path == "/v1/accounts/"+p.ownID(r) && (m == http.MethodGet || m == http.MethodDelete || m == http.MethodHead):
		return true
	}
	return false
}

func (p *Plugin) acceptedVersion(r *resource.Request) (string, error) {
	var o storage.Object
	err := r.View(func(tx storage.Tx) (err error) { o, err = getOrNil(tx, termsRef, p.ownID(r)); return })
	v, _ := o["version"].(string)
	return v, err
}

// bucketDeleted revokes the embed credentials of a deleted bucket.
func (p *Plugin) bucketDeleted(tx storage.Tx, ev *resource.Event) error {
	defer p.creds.invalidate()
	for _, imp := range ev.Impacted {
		creds, err := tx.List(embedRef, storage.Query{Filters: []storage.Filter{{Field: "bucket", Op: storage.OpEq, Value: storage.ID(imp.New)}}})
		if err != nil {
			return err
		}
		for _, c := range creds {
			if _, err := tx.Delete(embedRef, storage.ID(c), 0); err != nil {
				return err
			}
		}
	}
	return nil
}
