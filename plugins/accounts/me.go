package accounts

import (
	"crypto/subtle"
	"net/http"

	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

func constantEqual(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

var errNotAccount = &resource.Error{Status: 403, Errno: resource.ErrnoForbidden, Message: "This endpoint is for accounts only."}

// addRoutes registers the caller's-own-account endpoints (/account/...).
// Those that verify or hash a password are kept out of batches
// (NoBatch): a batch's transaction would wait on them, and every other
// write of the server with it.
func (p *Plugin) addRoutes(r *resource.Registry) error {
	routes := []resource.Route{
		{Method: "GET", Path: "/account", Handler: p.me, Summary: "Who am I (fails on bad credentials)."},
		{Method: "DELETE", Path: "/account", Handler: p.deleteMe, Write: true, Summary: "Delete my account."},
		{Method: "PUT", Path: "/account/password", Handler: p.changePassword, Write: true, NoBatch: true, Summary: "Change my password."},
	}
	if p.tokens {
		routes = append(routes,
			resource.Route{Method: "POST", Path: "/account/tokens", Handler: p.login(false), Write: true, NoBatch: true, Summary: "Log in: get a login token."},
			resource.Route{Method: "GET", Path: "/account/tokens", Handler: p.listTokens, Summary: "My login tokens."},
			resource.Route{Method: "DELETE", Path: "/account/tokens", Handler: p.revokeTokens, Write: true, Summary: "Revoke all my login tokens."},
			resource.Route{Method: "DELETE", Path: "/account/tokens/:key", Handler: p.revokeToken, Write: true, Summary: "Revoke a login token (current: log out)."})
	}
	if p.sessions {
		routes = append(routes,
			resource.Route{Method: "POST", Path: "/account/session", Handler: p.login(true), Write: true, NoBatch: true, Summary: "Log in with a cookie session."},
			resource.Route{Method: "GET", Path: "/account/session", Handler: p.checkSession, Summary: "Check the cookie session."},
			resource.Route{Method: "DELETE", Path: "/account/session", Handler: p.logout, Write: true, Summary: "Log out of the cookie session."})
	}
	if p.embeds {
		routes = append(routes,
			resource.Route{Method: "POST", Path: "/account/embed-credentials", Handler: p.createEmbed, Write: true, Summary: "Create a read-only credential for one bucket."},
			resource.Route{Method: "GET", Path: "/account/embed-credentials", Handler: p.listEmbeds, Summary: "My embed credentials."},
			resource.Route{Method: "GET", Path: "/account/embed-credentials/:key", Handler: p.getEmbed, Summary: "One embed credential."},
			resource.Route{Method: "DELETE", Path: "/account/embed-credentials/:key", Handler: p.deleteEmbed, Write: true, Summary: "Revoke an embed credential."})
	}
	if p.termsVersion != "" {
		routes = append(routes,
			resource.Route{Method: "GET", Path: "/account/terms", Handler: p.getTerms, Summary: "Terms of service status."},
			resource.Route{Method: "PUT", Path: "/account/terms", Handler: p.acceptTerms, Write: true, Summary: "Accept the current terms."})
	}
	for _, rt := range routes {
		if err := r.AddRoute(rt); err != nil {
			return err
		}
	}
	return nil
}

// requireAccount answers 401 for anonymous callers and 403 for users of
// other methods; full also refuses read-only and embed credentials.
// requireAccountData is requireAccount(r, true) for a request with a JSON
// object body; data is its "data" member (nil when absent or not an object).
func (p *Plugin) requireAccountData(r *resource.Request) (string, *credential, map[string]any, error) {
	id, c, err := p.requireAccount(r, true)
	if err != nil {
		return "", nil, nil, err
	}
	body, berr := r.BodyObject()
	if berr != nil {
		return "", nil, nil, berr
	}
	data, _ := body["data"].(map[string]any)
	return id, c, data, nil
}

func (p *Plugin) requireAccount(r *resource.Request, full bool) (string, *credential, error) {
	if !r.Authenticated() {
		return "", nil, resource.Unauthorized()
	}
	id := p.ownID(r)
	c := credOf(r)
	if id == "" || c == nil {
		return "", nil, errNotAccount
	}
	if c.method == "embed" || full && c.readOnly {
		return "", nil, errScope
	}
	return id, c, nil
}

func nullable(v int64) any {
	if v == 0 {
		return nil
	}
	return v
}

func (p *Plugin) me(r *resource.Request) error {
	if !r.Authenticated() {
		return resource.Unauthorized()
	}
	var ps []string
	if err := r.View(func(tx storage.Tx) (err error) { ps, err = r.Principals(tx); return }); err != nil {
		return err
	}
	data := map[string]any{"id": nil, "user_id": r.Identity().UserID, "principals": ps, "auth_method": r.Identity().Policy,
		"expires": nil, "read_only": false}
	if c := credOf(r); c != nil && r.Identity().Policy == p.policy {
		data["id"] = p.ownID(r)
		data["auth_method"] = c.method
		data["expires"] = nullable(c.expires)
		data["read_only"] = c.readOnly
		if c.method == "embed" {
			data["scope"] = map[string]any{"type": "embed", "bucket": c.bucket, "key": c.key}
		}
	}
	return r.JSON(http.StatusOK, map[string]any{"data": data})
}

// deleteMe deletes the caller's account through the object service, as
// the caller, so that the answer and its effects are exactly those of
// ACC-10 (DELETE /accounts/{id}).
func (p *Plugin) deleteMe(r *resource.Request) error {
	id, c, err := p.requireAccount(r, true)
	if err != nil {
		return err
	}
	tomb, err := r.Objects().Delete("/accounts/" + id)
	if err != nil {
		return err
	}
	if c.method == "session" {
		p.clearCookies(r)
	}
	r.SetETag(storage.LastModified(tomb))
	return r.JSON(http.StatusOK, map[string]any{"data": tomb})
}
