package resource

import (
	"context"
	"net/http"
	"sync"
)

// authMemo remembers how a client request was authenticated, so that the
// requests the server makes on its behalf (batch sub-requests, the default
// bucket's implicit creations) reuse the outcome instead of checking the
// credentials again: a password is verified, and a failure counted by the
// login throttle, at most once per client request (ACC-X-THR).
type authMemo struct {
	mu       sync.Mutex
	done     bool
	auth     string // the credentials the outcome is for
	cookie   string
	identity Identity
	values   map[any]any
}

type authMemoKey struct{}

// withAuthMemo gives a client request its memo; requests made on its
// behalf inherit the context, and so the memo.
func withAuthMemo(req *http.Request) *http.Request {
	if req.Context().Value(authMemoKey{}) != nil {
		return req
	}
	return req.WithContext(context.WithValue(req.Context(), authMemoKey{}, &authMemo{}))
}

// authenticate runs the policies in order; the first that accepts the
// credentials decides the user id. Bad credentials leave the request
// anonymous (CORE-20). A request made on behalf of a client request, with
// the same credentials, takes the client request's outcome.
func (a *App) authenticate(r *Request) {
	memo, _ := r.c.Request().Context().Value(authMemoKey{}).(*authMemo)
	auth, cookie := r.c.Request().Header.Get("Authorization"), r.c.Request().Header.Get("Cookie")
	if sp, ok := r.c.Request().Context().Value(subPrepKey{}).(*subPrep); ok && sp.checked && sp.auth == auth && sp.cookie == cookie {
		r.identity = sp.identity
		r.mergeState(sp.values)
		return
	}
	if memo != nil {
		memo.mu.Lock()
		defer memo.mu.Unlock()
		if memo.done && memo.auth == auth && memo.cookie == cookie {
			r.identity = memo.identity
			r.mergeState(memo.values)
			return
		}
	}
	values := a.checkCredentials(r, auth != "" || cookie != "")
	if memo == nil || memo.done {
		return
	}
	memo.done, memo.auth, memo.cookie, memo.identity, memo.values = true, auth, cookie, r.identity, values
}

// checkCredentials runs the policies on r and returns the request state
// they set, which requests reusing the outcome are given too.
func (a *App) checkCredentials(r *Request, sent bool) map[any]any {
	var before map[any]bool
	if len(r.state) > 0 {
		before = make(map[any]bool, len(r.state))
		for k := range r.state {
			before[k] = true
		}
	}
	a.runPolicies(r)
	if len(a.onAuth) > 0 && sent {
		st := AuthStats{Policy: r.identity.Policy, Outcome: "success"}
		if st.Policy == "" {
			st.Outcome = "failure"
		}
		a.observeAuth(st)
	}
	var values map[any]any
	for k, v := range r.state {
		if !before[k] {
			if values == nil {
				values = map[any]any{}
			}
			values[k] = v
		}
	}
	return values
}

// mergeState gives r the state values of an outcome it reuses.
func (r *Request) mergeState(values map[any]any) {
	if len(values) == 0 {
		return
	}
	if r.state == nil {
		r.state = map[any]any{}
	}
	for k, v := range values {
		r.state[k] = v
	}
}

func (a *App) runPolicies(r *Request) {
	for _, p := range a.policies {
		r.credential = ""
		name, res := p.method.Authenticate(r)
		if res == Accepted && name != "" {
			r.identity = Identity{UserID: p.name + ":" + name, Policy: p.name, Credential: r.credential}
			return
		}
	}
	r.credential = ""
}
