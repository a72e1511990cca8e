package resource

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// buildEcho creates the echo instance with the middleware chain and mounts
// the core endpoints, every declared resource and every plain route.
func (a *App) buildEcho() {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = a.handleError
	e.IPExtractor = a.clientIP
	e.Pre(a.pre)
	e.Use(a.route)
	a.Echo = e
	g := e.Group("/v1")
	wrap := func(h func(*Request) error) echo.HandlerFunc {
		return func(c echo.Context) error { return h(requestOf(c)) }
	}
	get := func(path string, h func(*Request) error) {
		g.GET(path, wrap(h))
		g.HEAD(path, wrap(h))
	}
	get("/", a.rootHandler)
	get("/__heartbeat__", notInBatch(a.heartbeatHandler))
	get("/__lbheartbeat__", func(r *Request) error { return r.JSON(http.StatusOK, map[string]any{}) })
	get("/__version__", a.versionHandler)
	get("/contribute.json", a.contributeHandler)
	get("/__api__", a.openAPIHandler)
	g.POST("/batch", wrap(a.batchHandler))
	for _, res := range a.resourceOrder {
		a.mountResource(g, res)
	}
	for _, rt := range a.routes {
		rt := rt
		handler := rt.Handler
		if rt.NoBatch || rt.StreamBody {
			handler = notInBatch(handler)
		}
		h := func(c echo.Context) error {
			r := requestOf(c)
			if rt.Access == Authenticated && !r.Authenticated() {
				return Unauthorized()
			}
			return handler(r)
		}
		g.Add(rt.Method, rt.Path, h)
		if rt.Method == http.MethodGet {
			g.Add(http.MethodHead, rt.Path, h)
		}
		if len(rt.Produces) > 0 {
			if a.produces == nil {
				a.produces = map[string][]string{}
			}
			a.produces["/v1"+rt.Path] = rt.Produces
		}
		if rt.StreamBody {
			if a.streaming == nil {
				a.streaming = map[string]bool{}
			}
			a.streaming[rt.Method+" /v1"+rt.Path] = true
		}
		if rt.Alias {
			if a.aliases == nil {
				a.aliases = map[string]bool{}
			}
			a.aliases[rt.Method+" /v1"+rt.Path] = true
			if rt.Method == http.MethodGet {
				a.aliases[http.MethodHead+" /v1"+rt.Path] = true
			}
		}
		if len(rt.Consumes) > 0 {
			if a.consumes == nil {
				a.consumes = map[string][]string{}
			}
			a.consumes[rt.Method+" /v1"+rt.Path] = rt.Consumes
		}
	}
}

func (a *App) enabled(kind, res, method string) bool {
	key := kind + "_" + res + "_" + method + "_enabled"
	if v, ok := a.Settings.Lookup(key); !ok || v == "" {
		return true
	}
	return a.Settings.Bool(key)
}

func (a *App) mountResource(g *echo.Group, res *Resource) {
	plural, object := res.pluralPath(), res.objectPath()
	actions := map[string]string{"plural GET": "list", "plural HEAD": "list", "plural POST": "create", "plural DELETE": "delete-list",
		"object GET": "read", "object HEAD": "read", "object PUT": "put", "object PATCH": "update", "object DELETE": "delete"}
	add := func(kind, path, method string, allowed []string, h echo.HandlerFunc) {
		if !methodAllowed(allowed, method) || !a.enabled(kind, res.Name, lower(method)) {
			return
		}
		if res.Guard != nil {
			inner, action := h, actions[kind+" "+method]
			h = func(c echo.Context) error {
				if err := res.Guard(requestOf(c), action, pathIDs(c)[res.Name+"_id"]); err != nil {
					return err
				}
				return inner(c)
			}
		}
		g.Add(method, path, h)
		if res.Prepare != nil && (method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch) {
			// What a batch prepares before its transaction (prepareSubs).
			if a.preparers == nil {
				a.preparers = map[string]*Resource{}
			}
			a.preparers[method+" /v1"+path] = res
			prefix, _, _ := strings.Cut("/v1"+path, ":")
			a.preparePrefixes = append(a.preparePrefixes, routePrefix{method, prefix})
		}
	}
	if a.pluralRoutes == nil {
		a.pluralRoutes = map[string]bool{}
	}
	a.pluralRoutes["/v1"+plural] = methodAllowed(res.PluralMethods, http.MethodGet) && a.enabled("plural", res.Name, "get")
	add("plural", plural, http.MethodGet, res.PluralMethods, a.pluralGet(res))
	add("plural", plural, http.MethodHead, res.PluralMethods, a.pluralGet(res))
	add("plural", plural, http.MethodPost, res.PluralMethods, a.pluralPost(res))
	add("plural", plural, http.MethodDelete, res.PluralMethods, a.pluralDelete(res))
	add("object", object, http.MethodGet, res.ObjectMethods, a.objectGet(res))
	add("object", object, http.MethodHead, res.ObjectMethods, a.objectGet(res))
	add("object", object, http.MethodPut, res.ObjectMethods, a.objectPut(res))
	add("object", object, http.MethodPatch, res.ObjectMethods, a.objectPatch(res))
	add("object", object, http.MethodDelete, res.ObjectMethods, a.objectDelete(res))
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

// notInBatch answers a sub-request of a batch with 400 instead of running
// h (Route.NoBatch): h works outside the request's transaction.
func notInBatch(h func(*Request) error) func(*Request) error {
	return func(r *Request) error {
		if r.InBatch() {
			req := r.Request()
			return Invalid("path", "", req.Method+" "+req.URL.Path+" cannot be used inside a batch")
		}
		return h(r)
	}
}

// routePrefix is a route's method and its path up to its first parameter.
type routePrefix struct{ method, prefix string }
