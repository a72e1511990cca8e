package resource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/nimbus-server/nimbus/storage"
)

const csp = "default-src 'none'; frame-ancestors 'none'; base-uri 'none';"

// SetSecurityHeaders sets the headers every API answer carries (CORE-19):
// no content sniffing, and a policy that lets an answer run nothing if a
// browser ever renders it. Servers answering for the API outside the app
// (the start's interim server) set them too.
func SetSecurityHeaders(h http.Header) {
	h["X-Content-Type-Options"] = nosniffValue
	h["Content-Security-Policy"] = cspValue
}

// The values SetSecurityHeaders shares between answers, under their
// canonical keys, instead of two slices a request. Nothing writes into
// a header value in place; Add copies a full slice before it appends.
var (
	nosniffValue = []string{"nosniff"}
	cspValue     = []string{csp}
)

var exposeBase = []string{"Backoff", "Retry-After", "Alert", "Content-Length", "Content-Type"}

var otherVersion = regexp.MustCompile(`^/v[0-9]+(/|$)`)

// pre runs before routing: recovery, logging, headers every response
// carries, end of service and the version prefix.
func (a *App) pre(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if req := c.Request(); req.Context().Value(batchKey{}) == nil {
			c.SetRequest(withAuthMemo(req.WithContext(storage.WithReadAfter(req.Context(), start))))
		}
		r := requestOf(c)
		r.app = a
		if bs, ok := c.Request().Context().Value(batchKey{}).(*batchState); ok {
			r.tx = bs.tx
			r.pending = &bs.pending
		}
		defer func() {
			if p := recover(); p != nil {
				a.Logger.Error("panic while serving a request", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				a.handleError(Internal(), c)
			}
			a.logRequest(r, start)
			if r.pending == nil { // batch sub-requests are part of their batch
				a.observeRequest(c, r, start)
			}
		}()
		h := c.Response().Header()
		SetSecurityHeaders(h)
		if origin := c.Request().Header.Get("Origin"); origin != "" {
			if ok, wildcard := a.opts.originAllowed(origin); ok {
				if wildcard {
					h.Set("Access-Control-Allow-Origin", "*")
				} else {
					h.Set("Access-Control-Allow-Origin", origin)
					h.Add("Vary", "Origin")
					// Cookies (sessions) only for origins listed explicitly.
					h.Set("Access-Control-Allow-Credentials", "true")
				}
				h.Set("Access-Control-Expose-Headers", strings.Join(exposeBase, ", "))
			}
		}
		if a.opts.backoff != "" && (a.opts.backoffPct >= 100 || rand.IntN(100) < a.opts.backoffPct) {
			h.Set("Backoff", a.opts.backoff)
		}
		if err := a.preChecks(c); err != nil || c.Response().Committed {
			// An error, or an answer already written (a redirect to
			// /v1): nothing else runs, authentication included.
			if err != nil {
				a.handleError(err, c)
			}
			return nil
		}
		if err := next(c); err != nil {
			a.handleError(err, c)
		}
		return nil
	}
}

// servesSlash tells whether a route ends with "/" there (the admin
// console's /v1/admin/), so that the path is no trailing-slash typo.
func (a *App) servesSlash(p string) bool {
	for _, prefix := range a.slashPrefixes {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

// MaxHeaderBytes bounds the request line and headers of a request: a
// larger one gets 431 (the HTTP server refuses anything larger still
// before Nimbus sees it).
const MaxHeaderBytes = 64 << 10

// headerBytes is the size of the request line and headers as sent.
func headerBytes(req *http.Request) int {
	n := len(req.Method) + len(req.RequestURI) + len(req.Proto) + 4
	for k, vs := range req.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

func (a *App) preChecks(c echo.Context) error {
	req := c.Request()
	h := c.Response().Header()
	if req.Method == http.MethodConnect {
		return MethodNotAllowed("")
	}
	if req.Method == "PRI" || req.RequestURI == "*" {
		// The HTTP/2 connection preface (or another "*" request) on the
		// HTTP/1.1 port: not a request of this API.
		c.Response().Header().Set("Connection", "close")
		return &Error{Status: http.StatusBadRequest, Errno: ErrnoInvalidParams,
			Message: "This port speaks HTTP/1.1 (HTTP/2 needs TLS with ALPN)."}
	}
	if headerBytes(req) > MaxHeaderBytes {
		return &Error{Status: http.StatusRequestHeaderFieldsTooLarge, Errno: ErrnoInvalidParams,
			Message: fmt.Sprintf("Request headers are too large (at most %d bytes).", MaxHeaderBytes)}
	}
	if !a.opts.eos.IsZero() {
		hard := !time.Now().UTC().Before(a.opts.eos)
		code := "soft-eol"
		if hard {
			code = "hard-eol"
		}
		alert, _ := EncodeJSON(map[string]any{"code": code, "message": a.opts.eosMessage, "url": a.opts.eosURL})
		h.Set("Alert", string(alert))
		if hard {
			return &Error{Status: 410, Errno: ErrnoDeprecated, Message: a.opts.eosMessage}
		}
	}
	// Invalid UTF-8 and U+0000 name nothing any backend stores
	// (PostgreSQL refuses both in text); the querystring's U+0000 is
	// refused where filters are read.
	p := req.URL.Path
	if !utf8.ValidString(p) || strings.IndexByte(p, 0) >= 0 {
		return Invalid("path", "", "Invalid URL path.")
	}
	decodeUnreserved(req.URL)
	req.URL.RawQuery = literalQuery(req.URL.RawQuery)
	if q, err := url.QueryUnescape(req.URL.RawQuery); err == nil && !utf8.ValidString(q) {
		return Invalid("querystring", "", "Invalid URL querystring.")
	}
	if p == "/v1" || strings.HasPrefix(p, "/v1/") {
		if len(p) > len("/v1/") && strings.HasSuffix(p, "/") && a.opts.slashRedirect && !a.servesSlash(p) {
			// Before routing: the router would take "rosa/" for the
			// id of a resource without children (CORE-08).
			a.trailingSlash(c)
		}
		return nil
	}
	for prefix, h := range a.rootHandlers {
		if strings.HasPrefix(p, prefix) {
			h.ServeHTTP(c.Response(), req)
			return nil
		}
	}
	if served, err := a.serveStatic(c); served || err != nil {
		return err
	}
	if otherVersion.MatchString(p) || !a.opts.versionRedirect {
		return &Error{Status: 404, Errno: ErrnoVersion, Message: "The requested API version is not available on this server."}
	}
	if req.Method == http.MethodOptions {
		c.Response().WriteHeader(http.StatusOK)
		return nil
	}
	target := "/v1" + p
	if req.URL.RawQuery != "" {
		target += "?" + req.URL.RawQuery
	}
	a.cacheRedirect(c, a.opts.versionTTL)
	return c.Redirect(http.StatusTemporaryRedirect, target)
}

func (a *App) cacheRedirect(c echo.Context, ttl int) {
	h := c.Response().Header()
	switch {
	case ttl > 0:
		h.Set("Cache-Control", fmt.Sprintf("max-age=%d", ttl))
		h.Set("Expires", time.Now().Add(time.Duration(ttl)*time.Second).UTC().Format(http.TimeFormat))
	case ttl == 0:
		noCache(h)
	}
}

func noCache(h http.Header) {
	h.Set("Cache-Control", "max-age=0, must-revalidate, no-cache, no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Expires", "Thu, 01 Jan 1970 00:00:00 GMT")
}

var (
	jsonTypes  = []string{"application/json"}
	patchTypes = []string{"application/json", "application/merge-patch+json", "application/json-patch+json"}
)

// route runs after routing: preflight, read-only mode, content
// negotiation, the body limit and authentication, in the order of
// CORE-21.
func (a *App) route(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := requestOf(c)
		req := c.Request()
		// A batch's sub-requests are served within the batch: only a
		// request of its own is counted for a flush, or waits for a write.
		outer := req.Context().Value(batchKey{}) == nil
		if outer {
			r.served = a.requests.start()
			defer r.served()
		}
		if err := decodeParams(c); err != nil {
			return err
		}
		if allow, ok := c.Get(echo.ContextKeyHeaderAllow).(string); ok && req.Method == http.MethodOptions {
			return a.preflight(c, allow)
		}
		if a.opts.readonly && req.Method != http.MethodGet && req.Method != http.MethodHead && req.Method != http.MethodOptions {
			return MethodNotAllowed("The server is in read-only mode.")
		}
		if acc := req.Header.Get("Accept"); acc != "" && !acceptsJSON(acc) && !accepts(acc, a.produces[c.Path()]) {
			if a.streamer == nil || req.Method != http.MethodGet || !a.pluralRoutes[c.Path()] || !wantsStream(acc) {
				return InvalidStatus(406, "header", "Accept", "Accept header should be one of ['application/json']")
			}
			if !outer {
				// A stream never ends, and a batch holds its write
				// transaction until its last sub-request does.
				return InvalidStatus(406, "header", "Accept", "A change stream cannot be opened inside a batch: Accept header should be one of ['application/json']")
			}
			r.stream = true
			if r.served != nil {
				r.served() // a stream never ends: a flush does not wait for it
			}
		}
		if req.Method == http.MethodPost || req.Method == http.MethodPut || req.Method == http.MethodPatch {
			if ct := req.Header.Get("Content-Type"); ct != "" {
				allowed := a.bodyTypes(req.Method, c.Path())
				mt, _, err := mime.ParseMediaType(ct)
				if err != nil || !slices.Contains(allowed, strings.ToLower(mt)) {
					return unsupportedType(allowed)
				}
			}
		}
		if !a.streaming[req.Method+" "+c.Path()] {
			release, err := a.admitBody(r, outer)
			defer release()
			if err != nil {
				return err
			}
		}
		if len(r.body) > 0 && req.Header.Get("Content-Type") == "" && !safeMethod(req.Method) {
			// A page of another site can send a body without a
			// Content-Type (fetch with mode "no-cors" and a Blob) along
			// with the credentials the browser keeps for this origin:
			// only a declared JSON body is a client's request.
			return unsupportedType(a.bodyTypes(req.Method, c.Path()))
		}
		a.authenticate(r)
		if outer && r.Authenticated() && !r.stream {
			key := r.identity.UserID + " " + req.URL.Path
			switch req.Method {
			case http.MethodPut, http.MethodPatch, http.MethodDelete:
				defer a.inflight.begin(key)()
			case http.MethodGet, http.MethodHead:
				a.inflight.wait(req.Context(), key)
			}
		}
		if err := a.runRequestHooks(r, Operation{Method: req.Method, Path: req.URL.Path}); err != nil {
			return err
		}
		return next(c)
	}
}

// bodyTypes are the media types a body of method on the route template
// path may have: JSON (and the patch types for PATCH), plus what the
// route declares in Route.Consumes.
func (a *App) bodyTypes(method, path string) []string {
	allowed := jsonTypes
	if method == http.MethodPatch {
		allowed = patchTypes
	}
	if extra := a.consumes[method+" "+path]; len(extra) > 0 {
		allowed = append(slices.Clip(allowed), extra...)
	}
	return allowed
}

// unsupportedType is the 415 of a body whose type is not allowed.
func unsupportedType(allowed []string) *Error {
	return InvalidStatus(415, "header", "Content-Type",
		fmt.Sprintf("Content-Type header should be one of ['%s']", strings.Join(allowed, "', '")))
}

// decodeUnreserved rewrites the percent-encoded letters, digits and
// "-._~" of u's raw path as themselves before the router, which matches
// the raw path, sees it (RFC 3986 6.2.2.2: "defaul%74" and "default" are
// one segment). Kinto routes the decoded path; without this a client
// could reach /buckets/default as a real bucket of that name, or miss a
// route over a needless escape. Other escapes ("%2F" in an id) stay.
func decodeUnreserved(u *url.URL) {
	raw := u.RawPath
	if raw == "" || !strings.Contains(raw, "%") {
		return
	}
	var b strings.Builder
	b.Grow(len(raw))
	for i := 0; i < len(raw); i++ {
		if raw[i] == '%' && i+2 < len(raw) {
			if c, err := strconv.ParseUint(raw[i+1:i+3], 16, 8); err == nil && unreserved(byte(c)) {
				b.WriteByte(byte(c))
				i += 2
				continue
			}
		}
		b.WriteByte(raw[i])
	}
	u.RawPath = b.String()
	if (&url.URL{Path: u.Path}).EscapedPath() == u.RawPath {
		u.RawPath = ""
	}
}

// literalQuery escapes what url.ParseQuery would refuse in a raw
// querystring, a '%' that starts no escape and a ';', so that they reach
// the filters as the characters they are. ParseQuery leaves out a pair
// it refuses, without a word, so ?title=%zz or ?title=a;b listed every
// record instead of the matching ones; Kinto (Python's parse_qs) reads
// both literally, and splits pairs on '&' only.
func literalQuery(raw string) string {
	if !strings.ContainsAny(raw, "%;") {
		return raw
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		switch {
		case raw[i] == ';':
			b.WriteString("%3B")
		case raw[i] == '%' && (i+2 >= len(raw) || !isHex(raw[i+1]) || !isHex(raw[i+2])):
			b.WriteString("%25")
		default:
			b.WriteByte(raw[i])
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// unreserved tells whether c is an unreserved character of RFC 3986.
func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// runRequestHooks asks every request hook about an operation.
func (a *App) runRequestHooks(r *Request, op Operation) error {
	for _, hook := range a.requestHooks {
		if err := hook(r, op); err != nil {
			return err
		}
	}
	return nil
}

// Reroute serves the request as if it had been sent to path (under /v1,
// the querystring kept) with body: an alias (the default bucket) names
// the real object this way. path is percent-encoded as on the wire (build
// it from the request's EscapedPath, not its decoded Path: "a%2Fb" is one
// id, "a/b" two segments); the router matches it as it matches requests.
// Authentication and the request hooks have run for the request already
// and are not repeated; the route found for path is served, with its
// parameters decoded, and answers the request, a path no route serves
// answers 404 (405 for a method its route lacks). A request is rerouted
// once: a second Reroute is a plugin's error.
func (r *Request) Reroute(path string, body []byte) error {
	if r.rerouted {
		return fmt.Errorf("resource: %s rerouted again to %s", r.c.Request().URL.Path, path)
	}
	decoded, err := url.PathUnescape(path)
	if err != nil {
		return Invalid("path", "", "Invalid percent-encoding in the URL path.")
	}
	r.rerouted = true
	c := r.c
	req := c.Request()
	u := *req.URL
	u.Path, u.RawPath = decoded, ""
	if decoded != path {
		u.RawPath = path
	}
	inner := *req
	inner.URL = &u
	inner.RequestURI = u.RequestURI()
	c.SetRequest(&inner)
	r.body = body
	// The router leaves the handler as it was when nothing matches: the
	// alias's own, which would serve the request again.
	c.SetHandler(echo.NotFoundHandler)
	r.app.Echo.Router().Find(req.Method, path, c)
	if err := decodeParams(c); err != nil {
		return err
	}
	return c.Handler()(c)
}

// decodeParams percent-decodes the path parameters once, for every route
// (resources and plugins alike), before anything reads them (RES-02): the
// router matches the raw path, so "alice%40example.com" and
// "alice@example.com" must name the same account everywhere.
func decodeParams(c echo.Context) error {
	names, raw := c.ParamNames(), c.ParamValues()
	if len(raw) == 0 {
		return nil
	}
	vals := make([]string, len(raw))
	for i, v := range raw {
		u, err := url.PathUnescape(v)
		if err != nil {
			name := ""
			if i < len(names) {
				name = names[i]
			}
			return Invalid("path", name, "Invalid percent-encoding in the URL path.")
		}
		vals[i] = u
	}
	c.SetParamValues(vals...)
	return nil
}

func acceptsJSON(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt := strings.ToLower(strings.TrimSpace(strings.Split(part, ";")[0]))
		switch mt {
		case "", "*/*", "application/*", "application/json":
			return true
		}
	}
	return false
}

// maxDrain is how much of a too-large body is read and thrown away so
// that the client, still sending, reads the 413 instead of a connection
// reset; past it the connection is closed.
const maxDrain = 64 << 20

func (a *App) readBody(r *Request) error {
	req := r.c.Request()
	if req.Body == nil || req.Body == http.NoBody {
		if req.ContentLength > a.opts.maxBody {
			return TooLarge()
		}
		return nil
	}
	if req.ContentLength > a.opts.maxBody {
		return tooLarge(r, req.Body)
	}
	body := req.Body
	if a.opts.bodyTimeout > 0 && req.Context().Value(batchKey{}) == nil {
		// A client that sends its body slowly, or stops, would hold the
		// connection and its goroutine for as long as it likes.
		rc := http.NewResponseController(r.c.Response().Writer)
		if rc.SetReadDeadline(time.Now().Add(a.opts.bodyTimeout)) == nil {
			defer rc.SetReadDeadline(time.Time{}) //nolint:errcheck // the connection is being read
		}
	}
	b, err := io.ReadAll(http.MaxBytesReader(r.c.Response().Writer, body, a.opts.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge(r, body)
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			r.ResponseHeader().Set("Connection", "close")
			return &Error{Status: http.StatusRequestTimeout, Errno: ErrnoUndefined,
				Message: fmt.Sprintf("The request body did not arrive within %s.", a.opts.bodyTimeout)}
		}
		return Invalid("body", "", "Could not read the request body.")
	}
	r.body = b
	return nil
}

// tooLarge reads what is left of a refused body (up to maxDrain) and
// answers 413 on a connection that is then closed.
func tooLarge(r *Request, body io.Reader) error {
	if r.c.Request().Context().Value(batchKey{}) == nil {
		// Drain so that a client still sending reads the answer, but
		// never wait long for a body that may never come (a length
		// announced far beyond what is sent).
		rc := http.NewResponseController(r.c.Response().Writer)
		rc.SetReadDeadline(time.Now().Add(drainFor))
		io.CopyN(io.Discard, body, maxDrain)
		rc.SetReadDeadline(time.Time{})
		r.ResponseHeader().Set("Connection", "close")
	}
	return TooLarge()
}

// drainFor bounds the time tooLarge spends draining a refused body.
const drainFor = 300 * time.Millisecond

func (a *App) preflight(c echo.Context, allow string) error {
	req := c.Request()
	origin := req.Header.Get("Origin")
	method := req.Header.Get("Access-Control-Request-Method")
	if origin == "" || method == "" {
		return Invalid("header", "Origin", "Preflight requests need Origin and Access-Control-Request-Method headers.")
	}
	h := c.Response().Header()
	if ok, _ := a.opts.originAllowed(origin); ok {
		h.Set("Access-Control-Allow-Methods", allow)
		reqHeaders := req.Header.Get("Access-Control-Request-Headers")
		if reqHeaders == "" {
			reqHeaders = "Authorization, Content-Type, If-Match, If-None-Match, Response-Behavior, X-CSRF-Token"
		}
		h.Set("Access-Control-Allow-Headers", reqHeaders)
		h.Set("Access-Control-Max-Age", fmt.Sprint(a.opts.corsMaxAge))
	}
	c.Response().WriteHeader(http.StatusOK)
	return nil
}

// Expose adds headers to Access-Control-Expose-Headers when the request is
// a CORS one.
func (r *Request) Expose(names ...string) {
	h := r.ResponseHeader()
	cur := h.Get("Access-Control-Expose-Headers")
	if cur == "" {
		return
	}
	h.Set("Access-Control-Expose-Headers", cur+", "+strings.Join(names, ", "))
}

func (a *App) logRequest(r *Request, start time.Time) {
	if r.rerun || !a.Logger.Enabled(r.Ctx(), slog.LevelInfo) {
		return
	}
	res := r.c.Response()
	errno := r.errno
	reqID := r.c.Request().Header.Get("X-Request-Id")
	a.Logger.Info("request", "method", r.c.Request().Method, "path", r.c.Request().URL.Path,
		"status", res.Status, "duration_ms", float64(time.Since(start).Microseconds())/1000,
		"uid", r.identity.UserID, "errno", errno, "request_id", reqID)
}

// handleError is the one place that writes Kinto's error JSON.
func (a *App) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	req := c.Request()
	var he *echo.HTTPError
	if errors.As(err, &he) && he.Code == http.StatusMethodNotAllowed && !sameShape(c.Path(), req.URL.Path) {
		// echo answers 405 for a path that only begins like a route.
		c.Set(echo.ContextKeyHeaderAllow, nil)
		err = echo.ErrNotFound
		he = echo.ErrNotFound
	}
	if errors.As(err, &he) && he.Code == http.StatusNotFound && a.trailingSlash(c) {
		return
	}
	e := ErrorFrom(err)
	if (e.Status == 500 || e.Status == 503) && errors.Is(req.Context().Err(), context.Canceled) {
		// The client went away mid-request (its connection closed): the
		// storage call was cut short, nothing is wrong with the server,
		// and nobody reads the answer. Logged as nginx's 499, not as a
		// server failure.
		a.Logger.Debug("client went away", "path", req.URL.Path, "error", err.Error())
		e = ClientClosed()
	}
	h := c.Response().Header()
	for k, v := range e.Headers {
		h.Set(k, v)
	}
	switch e.Status {
	case 405:
		if allow, ok := c.Get(echo.ContextKeyHeaderAllow).(string); ok && allow != "" && h.Get("Allow") == "" {
			h.Set("Allow", allow)
		}
	case 401:
		if requestOf(c).noChallenge {
			break
		}
		for _, p := range a.policies {
			if ch, ok := p.method.(Challenger); ok && ch.Challenge() != "" {
				h.Set("WWW-Authenticate", ch.Challenge())
				break
			}
		}
	case 409, 503:
		h.Set("Retry-After", fmt.Sprint(a.opts.retryAfter))
	case 500:
		if e.Info == "" && a.opts.errorInfo != "" {
			e.Info = a.opts.errorInfo
		}
		if errors.Is(err, errNeedsWrite) {
			// A batch of reads whose sub-request writes runs again as a
			// write batch (batchread.go): this attempt is not a failure,
			// and not logged.
			requestOf(c).rerun = true
		} else {
			a.Logger.Error("request failed", "error", err.Error(), "path", req.URL.Path)
		}
	}
	if e.Status == 503 {
		a.unavailable.warn(a.Logger, "backend unavailable", "error", err.Error())
	}
	requestOf(c).errno = e.Errno
	b, _ := EncodeJSON(e.Body())
	h.Set("Content-Type", "application/json")
	if req.Method == http.MethodHead {
		c.Response().WriteHeader(e.Status)
		return
	}
	c.Blob(e.Status, "application/json", b)
}

// sameShape tells whether a route pattern and a path have as many
// segments.
func sameShape(pattern, path string) bool {
	return pattern != "" && strings.Count(strings.TrimRight(pattern, "/"), "/") == strings.Count(strings.TrimRight(path, "/"), "/")
}

// trailingSlash answers a 404 with the redirects of CORE-08 when they
// apply; it reports whether it did.
func (a *App) trailingSlash(c echo.Context) bool {
	p := c.Request().URL.Path
	var target string
	switch {
	case p == "/v1":
		target = "/v1/"
	case strings.HasSuffix(p, "/") && p != "/v1/" && a.opts.slashRedirect:
		target = strings.TrimRight(p, "/")
	default:
		return false
	}
	if q := c.Request().URL.RawQuery; q != "" {
		target += "?" + q
	}
	a.cacheRedirect(c, a.opts.slashTTL)
	c.Redirect(http.StatusTemporaryRedirect, target)
	return true
}

// safeMethod tells whether a method only reads (RFC 9110 §9.2.1).
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}
