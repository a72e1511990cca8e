package resource

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// subPrep is what a batch did for one of its sub-requests before its
// write transaction opened, so that the slow parts of serving it do not
// run while the transaction holds the one writer of a bolt file (or a
// list's lock): checking credentials the sub-request sends of its own
// (a password takes a quarter of a second to verify, by design), and its
// resource's Prepare hook (hashing a new password, sending an e-mail).
type subPrep struct {
	// checked: auth and cookie were checked, giving identity and the
	// request state the policies set.
	checked      bool
	auth, cookie string
	identity     Identity
	values       map[any]any
	// prepared: res's Prepare ran for the object id, leaving prepState.
	prepared  bool
	res       *Resource
	id        string
	prepState map[any]any
}

type subPrepKey struct{}

// prepareSubs does, before the batch's transaction, what may be done of
// each sub-request outside it. The result has one entry per sub-request,
// nil where nothing was done. What a sub-request's handler finds done it
// does not do again; what is not done (a Prepare that failed, or that an
// earlier sub-request of the batch would have allowed) it does itself,
// in the transaction, as before.
func (a *App) prepareSubs(parent *Request, subs []subRequest) []*subPrep {
	out := make([]*subPrep, len(subs))
	h := parent.Request().Header
	outerAuth, outerCookie := h.Get("Authorization"), h.Get("Cookie")
	for i, s := range subs {
		// Most sub-requests need nothing: find out without building them.
		auth, cookie := outerAuth, outerCookie
		for k, v := range s.headers {
			switch http.CanonicalHeaderKey(k) {
			case "Authorization":
				auth = v
			case "Cookie":
				cookie = v
			}
		}
		own := (auth != outerAuth || cookie != outerCookie) && (auth != "" || cookie != "")
		if !own && (a.opts.readonly || !a.mayPrepare(s.method, s.path)) {
			continue
		}
		req, err := subHTTPRequest(parent.Ctx(), parent, s, s.path)
		if err != nil {
			continue
		}
		sp := &subPrep{}
		c := a.Echo.NewContext(req, &subResponse{header: http.Header{}})
		r := requestOf(c)
		r.app, r.body = a, s.bodyBytes()
		auth, cookie = req.Header.Get("Authorization"), req.Header.Get("Cookie")
		switch {
		case auth == outerAuth && cookie == outerCookie:
			// The batch's own credentials: authMemo has their outcome.
			r.identity = parent.identity
			r.mergeState(parent.state)
		case auth == "" && cookie == "":
			// Anonymous: nothing slow to check.
		default:
			sp.checked, sp.auth, sp.cookie = true, auth, cookie
			sp.values = a.checkCredentials(r, true)
			sp.identity = r.identity
		}
		if !a.opts.readonly {
			a.prepareWrite(r, c, req, sp)
		}
		if sp.checked || sp.prepared {
			out[i] = sp
		}
	}
	return out
}

// prepareWrite runs the Prepare hook of the write req would make, if it
// makes one, and keeps in sp what the hook left for the write.
func (a *App) prepareWrite(r *Request, c echo.Context, req *http.Request, sp *subPrep) {
	res, id, ok := a.preparer(c, req)
	if !ok || req.Method != http.MethodPatch && a.parseWriteBody(r, res).err != nil {
		// No such write, or a body it refuses: its handler would not
		// run Prepare either (no hash, no e-mail for it).
		return
	}
	before := make(map[any]bool, len(r.state))
	for k := range r.state {
		before[k] = true
	}
	if err := res.Prepare(r, id); err != nil {
		return
	}
	sp.prepared, sp.res, sp.id = true, res, id
	for k, v := range r.state { // what Prepare left for the write
		if !before[k] {
			if sp.prepState == nil {
				sp.prepState = map[any]any{}
			}
			sp.prepState[k] = v
		}
	}
}

// mayPrepare tells, from the method and path alone, whether a
// sub-request may be a write that runs a Prepare hook: its path starts
// as the route of one does, up to the route's first parameter.
func (a *App) mayPrepare(method, path string) bool {
	for _, p := range a.preparePrefixes {
		if p.method == method && strings.HasPrefix(path, p.prefix) {
			return true
		}
	}
	return false
}

// preparer finds the resource whose Prepare hook a sub-request's write
// would run, and the object id it would run it with.
func (a *App) preparer(c echo.Context, req *http.Request) (*Resource, string, bool) {
	if req.Method != http.MethodPost && req.Method != http.MethodPut && req.Method != http.MethodPatch {
		return nil, "", false
	}
	a.Echo.Router().Find(req.Method, echo.GetPath(req), c)
	res := a.preparers[req.Method+" "+c.Path()]
	if res == nil {
		return nil, "", false
	}
	r := requestOf(c)
	if req.Method != http.MethodPost {
		return res, pathIDs(c)[res.Name+"_id"], true
	}
	// POST names its id in data.id, or none.
	body, err := r.BodyObject()
	if err != nil {
		return nil, "", false
	}
	data, _ := body["data"].(map[string]any)
	id, isStr := data["id"].(string)
	if _, sent := data["id"]; sent && (!isStr || !res.idOK(id)) {
		return nil, "", false
	}
	return res, id, true
}

// prepare runs res's Prepare hook for the write of object id, unless the
// batch ran it for this sub-request before its transaction.
func (r *Request) prepare(res *Resource, id string) error {
	if res.Prepare == nil {
		return nil
	}
	if sp, ok := r.c.Request().Context().Value(subPrepKey{}).(*subPrep); ok && sp.prepared && sp.res == res && sp.id == id {
		r.mergeState(sp.prepState)
		return nil
	}
	return res.Prepare(r, id)
}
