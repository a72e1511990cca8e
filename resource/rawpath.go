// The path and querystring as sent: what is decoded before the router
// sees the path, what after, and rerouting a request to another path.

package resource

import (
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
)

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

// trailingSegments tells whether the router handed segments past the
// route's path to one of its named parameters: no id holds a slash, so no
// route serves that path ("/records/r1/x"); a wildcard ("*") may.
func trailingSegments(c echo.Context) bool {
	for i, n := range c.ParamNames() {
		if n != "*" && strings.Contains(c.ParamValues()[i], "/") {
			return true
		}
	}
	return false
}

// Routed tells whether a route serves method on path (percent-encoded,
// under /v1, as Reroute takes it). An alias checks it before it does
// anything on the caller's behalf: a request the real URL answers 404 or
// 405 must leave nothing behind (Kinto's personal bucket is not created
// by a PUT on a list).
func (r *Request) Routed(method, path string) bool {
	probe := r.app.Echo.NewContext(r.c.Request(), nil)
	probe.SetHandler(nil)
	r.app.Echo.Router().Find(method, path, probe)
	h := probe.Handler()
	if h == nil {
		return false
	}
	// The router hands trailing segments to a route's last named
	// parameter ("records/r1/attachment"), which the route middleware
	// answers 404.
	if trailingSegments(probe) {
		return false
	}
	found := reflect.ValueOf(h).Pointer()
	return found != reflect.ValueOf(echo.NotFoundHandler).Pointer() && found != reflect.ValueOf(echo.MethodNotAllowedHandler).Pointer()
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
	r.aliasRoute = c.Path()
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
	if trailingSegments(c) {
		return ErrUnknownURL() // as the route middleware answers it
	}
	if err := decodeParams(c); err != nil {
		return err
	}
	_, notAllowed := c.Get(echo.ContextKeyHeaderAllow).(string)
	if r.app.aliases[req.Method+" "+r.aliasRoute] && c.Path() != r.aliasRoute && !notAllowed {
		// The alias left the Accept header to the route it reaches (the
		// router leaves the alias's path when it finds none: 404, and a
		// 405 comes first, as for any request).
		if err := r.app.negotiate(c, r); err != nil {
			return err
		}
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
