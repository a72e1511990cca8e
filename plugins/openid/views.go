package openid

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// stateRef is where login states wait for their code, in the storage
// backend: a login begun on one instance may end on another.
var stateRef = storage.Ref{Resource: "openid_state", Parent: "/__openid__"}

// maxCallback bounds the callback URL a login keeps.
const maxCallback = 2048

func invalid(name, description string) *resource.Error {
	return resource.Invalid("querystring", name, description)
}

// unreachable is the answer when the provider cannot be reached.
func unreachable(p *provider) *resource.Error {
	return &resource.Error{Status: http.StatusServiceUnavailable, Errno: resource.ErrnoBackend,
		Message: "The OpenID Connect provider " + p.name + " cannot be reached; retry later."}
}

// providerOf returns the provider the path names, or the 400 Kinto gives.
func (pl *Plugin) providerOf(r *resource.Request) (*provider, error) {
	name := r.Param("provider")
	p, ok := pl.providers[name]
	if !ok {
		return nil, resource.Invalid("path", "provider", "Unknown provider '"+name+"'")
	}
	return p, nil
}

// validCallback tells whether a login's callback is an absolute http(s)
// URL of reasonable length.
func validCallback(v string) bool {
	if v == "" || len(v) > maxCallback {
		return false
	}
	u, err := url.Parse(v)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// login serves GET /openid/{p}/login: the callback is kept under a fresh
// one-time state, and the browser goes to the provider.
func (pl *Plugin) login(r *resource.Request) error {
	p, err := pl.providerOf(r)
	if err != nil {
		return err
	}
	q := r.QueryParams()
	callback, scope := q.Get("callback"), q.Get("scope")
	switch {
	case !validCallback(callback):
		return invalid("callback", "An absolute http(s) URL of at most 2048 characters is required.")
	case !p.callbackAllowed(callback, pl.origin(r)):
		return invalid("callback", "The callback's origin is not one of this provider's callback_origins.")
	case scope == "":
		return invalid("scope", "Required")
	case q.Has("prompt") && q.Get("prompt") != "none":
		return invalid("prompt", "Only 'none' is accepted.")
	case p.useridField == "email" && !strings.Contains(scope, "email"):
		return invalid("scope", "Provider "+p.name+" requires 'email' scope")
	}
	_, d, _, ok := p.discovered()
	if !ok {
		if p.discover(r.Ctx()) != nil {
			return unreachable(p)
		}
		_, d, _, _ = p.discovered()
	}
	buf := make([]byte, p.stateLength)
	rand.Read(buf)
	state := hex.EncodeToString(buf)
	now := time.Now()
	err = pl.states.add(r.View, r.Update, now, storage.Object{"id": state, "provider": p.name, "callback": callback,
		"expires": now.Add(p.stateTTL).UnixMilli()})
	if errors.Is(err, errTooManyLogins) {
		if pl.states.warnDue(now) {
			r.Logger().Warn("openid: too many logins waiting for the provider's answer; new logins are refused until some end or expire",
				"max_pending", maxPendingLogins, "state_ttl_seconds", int(p.stateTTL.Seconds()))
		}
		return &resource.Error{Status: http.StatusServiceUnavailable, Errno: resource.ErrnoBackend,
			Message: "Too many logins are in progress; retry later."}
	}
	if err != nil {
		return err
	}
	params := url.Values{"client_id": {p.clientID}, "response_type": {"code"}, "scope": {scope},
		"redirect_uri": {pl.tokenURI(r, p)}, "state": {state}}
	if q.Has("prompt") {
		params.Set("prompt", "none")
	}
	if p.audience != "" {
		params.Set("audience", p.audience)
	}
	sep := "?"
	if strings.Contains(d.Auth, "?") {
		sep = "&"
	}
	return r.Redirect(http.StatusTemporaryRedirect, d.Auth+sep+params.Encode())
}

// origin is the scheme and host clients reach this server at (as the
// accounts plugin reads its own origin).
func (pl *Plugin) origin(r *resource.Request) string {
	return strings.TrimSuffix(r.BaseURL(), "/v1")
}

// tokenURI is the absolute URL of the provider's token endpoint here,
// the redirect_uri of the login.
func (pl *Plugin) tokenURI(r *resource.Request, p *provider) string {
	return r.AbsoluteURL("/openid/"+p.name+"/token", nil)
}

// maxTokenResponse bounds what is read of the provider's token answer.
const maxTokenResponse = 64 << 10

// token serves GET /openid/{p}/token: the state is used up, the code
// traded at the provider, and the browser sent back to the login's
// callback with the provider's answer, base64-encoded.
func (pl *Plugin) token(r *resource.Request) error {
	p, err := pl.providerOf(r)
	if err != nil {
		return err
	}
	q := r.QueryParams()
	code, state := q.Get("code"), q.Get("state")
	switch {
	case code == "":
		return invalid("code", "Required")
	case state == "":
		return invalid("state", "Required")
	}
	// A state nobody stored takes no write transaction (on bolt, the
	// server's only writer): anyone may send one.
	err = r.View(func(tx storage.Tx) error {
		_, err := tx.Get(stateRef, state)
		return err
	})
	if errors.Is(err, storage.ErrNotFound) {
		return invalid("state", "Invalid state")
	}
	if err != nil {
		return err
	}
	var callback string
	err = r.Update(func(tx storage.Tx) error {
		obj, err := tx.Get(stateRef, state)
		if err != nil {
			return err
		}
		if _, err := tx.Delete(stateRef, state, 0); err != nil {
			return err
		}
		exp, _ := storage.Int(obj["expires"])
		if obj["provider"] != p.name || exp < time.Now().UnixMilli() {
			return storage.ErrNotFound
		}
		callback, _ = obj["callback"].(string)
		return nil
	})
	if errors.Is(err, storage.ErrNotFound) {
		return invalid("state", "Invalid state")
	}
	if err != nil {
		return err
	}
	_, d, _, ok := p.discovered()
	if !ok {
		return unreachable(p)
	}
	form := url.Values{"code": {code}, "client_id": {p.clientID}, "client_secret": {p.clientSecret},
		"redirect_uri": {pl.tokenURI(r, p)}, "grant_type": {"authorization_code"}}
	req, err := http.NewRequestWithContext(r.Ctx(), http.MethodPost, d.Token, strings.NewReader(form.Encode()))
	if err != nil {
		return unreachable(p)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	res, err := p.client.Do(req)
	if err != nil {
		r.Logger().Warn("openid: the token endpoint cannot be reached", "policy", p.name, "error", err)
		return unreachable(p)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxTokenResponse))
	if err != nil {
		return unreachable(p)
	}
	return r.Redirect(http.StatusTemporaryRedirect, callback+quote(base64.StdEncoding.EncodeToString(body)))
}

// quote percent-encodes base64 text as Python's urllib.parse.quote does
// (what Kinto Admin and kinto-http.py decode): "+" and "=" escaped, "/"
// kept.
func quote(b64 string) string {
	return strings.NewReplacer("+", "%2B", "=", "%3D").Replace(b64)
}
