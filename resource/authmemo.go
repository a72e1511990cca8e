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
	if memo != nil {
		memo.mu.Lock()
		defer memo.mu.Unlock()
		if memo.done && memo.auth == auth && memo.cookie == cookie {
			r.identity = memo.identity
			if len(memo.values) > 0 {
				if r.state == nil {
					r.state = map[any]any{}
				}
				for k, v := range memo.values {
					r.state[k] = v
				}
			}
			return
		}
	}
	var before map[any]bool
	if len(r.state) > 0 {
		before = make(map[any]bool, len(r.state))
		for k := range r.state {
			before[k] = true
		}
	}
	a.runPolicies(r)
	if len(a.onAuth) > 0 && (auth != "" || cookie != "") {
		st := AuthStats{Policy: r.identity.Policy, Outcome: "success"}
		if st.Policy == "" {
			st.Outcome = "failure"
		}
		a.observeAuth(st)
	}
	if memo == nil || memo.done {
		return
	}
	memo.done, memo.auth, memo.cookie, memo.identity = true, auth, cookie, r.identity
	for k, v := range r.state {
		if !before[k] {
			if memo.values == nil {
				memo.values = map[any]any{}
			}
			memo.values[k] = v
		}
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
