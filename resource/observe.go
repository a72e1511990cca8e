package resource

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// RequestStats is what request observers hear of each answered request.
type RequestStats struct {
	// Route is the route template ("/v1/buckets/:bucket_id"), never the
	// raw path, so that ids do not become labels; "" for unknown URLs.
	// A request an alias served on another route (Request.Reroute) is
	// told under the alias's template, as Kinto names it.
	Route    string
	Method   string
	Status   int
	Errno    int
	Duration time.Duration
	// UserID and Policy are the caller's identity ("" when anonymous).
	UserID, Policy string
	// BodyBytes is the size of the request body read.
	BodyBytes int
	// ResponseBytes is the size of the response body written.
	ResponseBytes int64
	// Sub is true for a sub-request of a batch (the batch itself is
	// heard of too, as one request). Kinto's metrics count sub-requests;
	// an observer that counts client requests skips them.
	Sub bool
}

// TxStats is what transaction observers hear of each storage
// transaction a request opened.
type TxStats struct {
	Write    bool
	Duration time.Duration
	Failed   bool
}

// AuthStats is what authentication observers hear once per client
// request that carried credentials: the policy that accepted them, or
// Outcome "failure" (Policy "") when none did.
type AuthStats struct {
	Policy  string
	Outcome string
}

// Gauge is a figure a plugin offers to metrics plugins (open change
// streams, cache sizes), read when metrics are collected.
type Gauge struct {
	// Name is the full metric name ("nimbus_change_streams_open").
	Name, Help string
	Value      func() float64
	// Counter is true for a total that only grows.
	Counter bool
}

// OnRequest registers fn to hear of every answered request, batch
// sub-requests included (RequestStats.Sub tells them). fn runs on
// the request's goroutine and must be quick.
func (r *Registry) OnRequest(fn func(RequestStats)) { r.app.onRequest = append(r.app.onRequest, fn) }

// OnTransaction registers fn to hear of every storage transaction
// requests open.
func (r *Registry) OnTransaction(fn func(TxStats)) { r.app.onTx = append(r.app.onTx, fn) }

// OnAuthentication registers fn to hear how requests with credentials
// were authenticated.
func (r *Registry) OnAuthentication(fn func(AuthStats)) { r.app.onAuth = append(r.app.onAuth, fn) }

// AddGauge offers a figure to metrics plugins.
func (r *Registry) AddGauge(g Gauge) { r.app.gauges = append(r.app.gauges, g) }

// Gauges returns the figures plugins offered, as they stand when it is
// called (a metrics plugin calls it when collecting, after every plugin
// registered).
func (r *Registry) Gauges() []Gauge { return r.app.gauges }

// observeRequest tells the request observers about an answered request.
func (a *App) observeRequest(c echo.Context, r *Request, start time.Time) {
	if len(a.onRequest) == 0 {
		return
	}
	route := c.Path()
	if r.aliasRoute != "" {
		route = r.aliasRoute
	}
	st := RequestStats{Route: a.knownRoute(route), Method: knownMethod(c.Request().Method), Status: c.Response().Status,
		Errno: r.errno, Duration: time.Since(start), UserID: r.identity.UserID, Policy: r.identity.Policy, BodyBytes: len(r.body),
		ResponseBytes: c.Response().Size, Sub: r.pending != nil}
	for _, fn := range a.onRequest {
		fn(st)
	}
}

// knownMethod bounds the method label: a client may send any token as a
// method, and each distinct value would otherwise become a time series.
func knownMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// knownRoute bounds the route label to the templates the engine
// declared: anything else (a path the router did not match) is "".
func (a *App) knownRoute(path string) string {
	a.routeSetOnce.Do(func() {
		a.routeSet = map[string]bool{}
		for _, rt := range a.Echo.Routes() {
			a.routeSet[rt.Path] = true
		}
	})
	if a.routeSet[path] {
		return path
	}
	return ""
}

// observeTx tells the transaction observers about one transaction.
func (a *App) observeTx(write bool, start time.Time, err error) {
	for _, fn := range a.onTx {
		fn(TxStats{Write: write, Duration: time.Since(start), Failed: err != nil})
	}
}

// observeAuth tells the authentication observers about one request.
func (a *App) observeAuth(st AuthStats) {
	for _, fn := range a.onAuth {
		fn(st)
	}
}
