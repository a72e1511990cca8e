package resource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"runtime/debug"
	"slices"
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
			a.observeRequest(c, r, start)
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
			// Kinto's words: eos_message is in the Alert header, and may be
			// unset (an error must never have an empty message).
			return &Error{Status: 410, Errno: ErrnoDeprecated, Message: "The service you are trying to connect no longer exists at this location."}
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
		allow, notAllowed := c.Get(echo.ContextKeyHeaderAllow).(string)
		if notAllowed && req.Method != http.MethodOptions {
			// The path exists, the method does not (or is disabled): 405
			// comes before content negotiation and the body (CORE-21).
			return next(c)
		}
		// The router hands trailing segments to a route's last named
		// parameter ("records/r1/x"): no route serves such a path, and it
		// is answered so before anything else, whoever asks (Kinto's
		// router finds no route either).
		if trailingSegments(c) {
			return ErrUnknownURL()
		}
		if err := decodeParams(c); err != nil {
			return err
		}
		if notAllowed {
			return a.preflight(c, allow)
		}
		if a.opts.readonly && req.Method != http.MethodGet && req.Method != http.MethodHead && req.Method != http.MethodOptions {
			return MethodNotAllowed("The server is in read-only mode.")
		}
		if !a.aliases[req.Method+" "+c.Path()] {
			// An alias's requests are judged by the route they reach
			// (Reroute).
			if err := a.negotiate(c, r); err != nil {
				return err
			}
		}
		streaming := a.streaming[req.Method+" "+c.Path()]
		if (req.Method == http.MethodPost || req.Method == http.MethodPut || req.Method == http.MethodPatch) && !streaming {
			// A route that streams its body checks its type itself.
			if ct := req.Header.Get("Content-Type"); ct != "" {
				allowed := a.bodyTypes(req.Method, c.Path())
				mt, _, err := mime.ParseMediaType(ct)
				if err != nil || !slices.Contains(allowed, strings.ToLower(mt)) {
					return unsupportedType(allowed)
				}
			}
		}
		if !streaming {
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

// runRequestHooks asks every request hook about an operation.
func (a *App) runRequestHooks(r *Request, op Operation) error {
	for _, hook := range a.requestHooks {
		if err := hook(r, op); err != nil {
			return err
		}
	}
	return nil
}

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
		// One challenge per policy that has one, in the policies' order, as
		// Kinto sends them (it repeats a challenge two policies share; once
		// says the same).
		h.Del("WWW-Authenticate")
		for _, p := range a.policies {
			if ch, ok := p.method.(Challenger); ok && ch.Challenge() != "" && !slices.Contains(h.Values("WWW-Authenticate"), ch.Challenge()) {
				h.Add("WWW-Authenticate", ch.Challenge())
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
	var ob overBudget
	switch {
	case e.Status == 503 && errors.As(err, &ob):
		a.overBudget.warn(a.Logger, "busy: a large body or answer waited too long for its share of memory", "setting", ob.what)
	case e.Status == 503:
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

// negotiate judges the Accept header for the route c matched (CORE-21:
// 406 before the body): JSON, a type the route produces, or, for a GET of
// a list, a change stream (the request is then marked to be served as
// one).
func (a *App) negotiate(c echo.Context, r *Request) error {
	req := c.Request()
	acc := req.Header.Get("Accept")
	if acc == "" || acceptsJSON(acc) || accepts(acc, a.produces[c.Path()]) {
		return nil
	}
	if a.streamer == nil || req.Method != http.MethodGet || !a.pluralRoutes[c.Path()] || !wantsStream(acc) {
		return InvalidStatus(406, "header", "Accept", "Accept header should be one of ['application/json']")
	}
	if req.Context().Value(batchKey{}) != nil {
		// A stream never ends, and a batch holds its write transaction
		// until its last sub-request does.
		return InvalidStatus(406, "header", "Accept", "A change stream cannot be opened inside a batch: Accept header should be one of ['application/json']")
	}
	r.stream = true
	if r.served != nil {
		r.served() // a stream never ends: a flush does not wait for it
	}
	return nil
}
