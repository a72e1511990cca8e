package accounts

import (
	"crypto/subtle"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"time"

	"github.com/nimbus-server/nimbus/permissions"
	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

func constantEqual(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

var errNotAccount = &resource.Error{Status: 403, Errno: resource.ErrnoForbidden, Message: "This endpoint is for accounts only."}

// addRoutes registers the caller's-own-account endpoints (/account/...).
func (p *Plugin) addRoutes(r *resource.Registry) error {
	routes := []resource.Route{
		{Method: "GET", Path: "/account", Handler: p.me, Summary: "Who am I (fails on bad credentials)."},
		{Method: "DELETE", Path: "/account", Handler: p.deleteMe, Write: true, Summary: "Delete my account."},
		{Method: "PUT", Path: "/account/password", Handler: p.changePassword, Write: true, Summary: "Change my password."},
	}
	if p.tokens {
		routes = append(routes,
			resource.Route{Method: "POST", Path: "/account/tokens", Handler: p.login(false), Write: true, Summary: "Log in: get a login token."},
			resource.Route{Method: "GET", Path: "/account/tokens", Handler: p.listTokens, Summary: "My login tokens."},
			resource.Route{Method: "DELETE", Path: "/account/tokens", Handler: p.revokeTokens, Write: true, Summary: "Revoke all my login tokens."},
			resource.Route{Method: "DELETE", Path: "/account/tokens/:key", Handler: p.revokeToken, Write: true, Summary: "Revoke a login token (current: log out)."})
	}
	if p.sessions {
		routes = append(routes,
			resource.Route{Method: "POST", Path: "/account/session", Handler: p.login(true), Write: true, Summary: "Log in with a cookie session."},
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
	data := map[string]any{"id": nil, "user_id": r.Identity.UserID, "principals": ps, "auth_method": r.Identity.Policy,
		"expires": nil, "read_only": false}
	if c := credOf(r); c != nil && r.Identity.Policy == p.policy {
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

// deleteMe deletes the caller's account through the accounts endpoint,
// so that the answer and its effects are exactly those of ACC-10.
func (p *Plugin) deleteMe(r *resource.Request) error {
	id, c, err := p.requireAccount(r, true)
	if err != nil {
		return err
	}
	req := r.Request().Clone(r.Request().Context())
	req.URL.Path = "/v1/accounts/" + id
	req.URL.RawPath, req.URL.RawQuery = "", ""
	req.RequestURI = req.URL.RequestURI()
	req.Body, req.ContentLength = http.NoBody, 0
	rec := httptest.NewRecorder()
	r.App.ServeHTTP(rec, req)
	if c.method == "session" {
		p.clearCookies(r)
	}
	for k, v := range rec.Header() {
		if k != "Content-Length" {
			r.Response().Header()[k] = v
		}
	}
	return r.Blob(rec.Code, "application/json", rec.Body.Bytes())
}

// credentials reads username and password from the body, or a Basic
// header; the body wins.
func credentialsOf(r *resource.Request, body map[string]any) (string, string, *resource.Error) {
	data, _ := body["data"].(map[string]any)
	user, _ := data["username"].(string)
	pw, _ := data["password"].(string)
	if user == "" && pw == "" {
		if u, p, ok, valid := parseBasic(r); ok && valid {
			return u, p, nil
		}
		return "", "", resource.Invalid("body", "data.username", "username and password are required")
	}
	if user == "" || pw == "" {
		return "", "", resource.Invalid("body", "data.password", "username and password are required")
	}
	return user, pw, nil
}

var errLogin = &resource.Error{Status: 401, Errno: resource.ErrnoInvalidAuth, Message: "Invalid username or password."}

// verifyLogin checks explicit login credentials, with throttling.
func (p *Plugin) verifyLogin(r *resource.Request, user, pw string) error {
	if secs := p.throttle.retryAfter(r, user); secs > 0 {
		return tooMany(secs)
	}
	if !IDPattern.MatchString(user) || len(pw) > maxPasswordBytes {
		p.fakeVerify(pw)
		p.throttle.fail(r, user)
		return errLogin
	}
	if ok, _, _ := p.checkPassword(r, user, pw); !ok {
		p.throttle.fail(r, user)
		return errLogin
	}
	p.throttle.succeed(r, user)
	return nil
}

// login serves POST /account/tokens and POST /account/session.
func (p *Plugin) login(session bool) func(*resource.Request) error {
	return func(r *resource.Request) error {
		body, berr := r.BodyObject()
		if berr != nil {
			return berr
		}
		data, _ := body["data"].(map[string]any)
		if _, ok := body["data"]; ok && data == nil {
			return resource.Invalid("body", "data", "data must be an object")
		}
		user, pw, cerr := credentialsOf(r, body)
		if cerr != nil {
			return cerr
		}
		ttl, label, readOnly := p.tokenTTL, "", false
		if !session {
			var requested time.Duration
			var oerr *resource.Error
			if label, requested, oerr = labelAndTTL(data); oerr != nil {
				return oerr
			}
			if requested > 0 {
				ttl = minDuration(requested, p.tokenMaxTTL)
			}
			if v, ok := data["read_only"]; ok {
				b, isBool := v.(bool)
				if !isBool {
					return resource.Invalid("body", "data.read_only", "read_only must be a boolean")
				}
				readOnly = b
			}
		}
		if err := p.verifyLogin(r, user, pw); err != nil {
			return err
		}
		created := now()
		if session {
			return p.startSession(r, user, created)
		}
		key, secret := randomKey(tokenPrefix), randomSecret()
		rec := storage.Object{"id": key, "account": user, "digest": digest(secret), "label": label,
			"created": created, "expires": created + ttl.Milliseconds(), "read_only": readOnly}
		if err := r.Update(func(tx storage.Tx) error { _, err := tx.Create(tokenRef, rec); return err }); err != nil {
			return err
		}
		return r.JSON(http.StatusCreated, map[string]any{"data": map[string]any{
			"key": key, "secret": secret, "token": key + "." + secret, "type": "Bearer", "user_id": p.policy + ":" + user,
			"label": label, "created": created, "expires": rec["expires"], "read_only": readOnly}})
	}
}

// labelAndTTL reads the optional label (a string of at most 256 bytes)
// and ttl_seconds (a positive integer; 0 when absent) of a new credential.
func labelAndTTL(data map[string]any) (string, time.Duration, *resource.Error) {
	label := ""
	if v, ok := data["label"]; ok {
		s, isStr := v.(string)
		if !isStr || len(s) > 256 {
			return "", 0, resource.Invalid("body", "data.label", "label must be a string of at most 256 characters")
		}
		label = s
	}
	var ttl time.Duration
	if v, ok := data["ttl_seconds"]; ok {
		n, isInt := storage.Int(v)
		if _, isNum := v.(interface{ Int64() (int64, error) }); !isInt || !isNum {
			return "", 0, resource.Invalid("body", "data.ttl_seconds", "ttl_seconds must be an integer")
		}
		if n <= 0 {
			return "", 0, resource.Invalid("body", "data.ttl_seconds", "ttl_seconds must be positive")
		}
		ttl = secondsOf(n)
	}
	return label, ttl, nil
}

func (p *Plugin) listTokens(r *resource.Request) error {
	id, c, err := p.requireAccount(r, false)
	if err != nil {
		return err
	}
	var objs []storage.Object
	if err := r.View(func(tx storage.Tx) (err error) { objs, err = ownedBy(tx, tokenRef, id); return }); err != nil {
		return err
	}
	out := []map[string]any{}
	for _, o := range objs {
		if expired(o) {
			continue
		}
		out = append(out, map[string]any{"key": o["id"], "label": o["label"], "created": o["created"], "expires": o["expires"],
			"read_only": o["read_only"], "current": c.method == "token" && c.key == o["id"]})
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, _ := storage.Int(out[i]["created"])
		b, _ := storage.Int(out[j]["created"])
		return a > b
	})
	return r.JSON(http.StatusOK, map[string]any{"data": out})
}

func (p *Plugin) revokeTokens(r *resource.Request) error {
	id, _, err := p.requireAccount(r, true)
	if err != nil {
		return err
	}
	defer p.creds.invalidate()
	var keys []string
	if err := r.Update(func(tx storage.Tx) (err error) { keys, err = revokeAll(tx, tokenRef, id, ""); return }); err != nil {
		return err
	}
	out := []map[string]any{}
	for _, k := range keys {
		out = append(out, map[string]any{"key": k, "deleted": true})
	}
	return r.JSON(http.StatusOK, map[string]any{"data": out})
}

func (p *Plugin) revokeToken(r *resource.Request) error {
	id, c, err := p.requireAccount(r, false)
	if err != nil {
		return err
	}
	key := r.Param("key")
	if key == "current" {
		if c.method != "token" {
			return resource.Invalid("path", "key", "The request is not authenticated with a login token.")
		}
		key = c.key
	} else if c.readOnly {
		return errScope
	}
	return p.deleteOwned(r, tokenRef, id, key)
}

// deleteOwned deletes one credential of the caller (404 for others').
func (p *Plugin) deleteOwned(r *resource.Request, ref storage.Ref, account, key string) error {
	defer p.creds.invalidate()
	err := r.Update(func(tx storage.Tx) error {
		o, err := getOrNil(tx, ref, key)
		if err != nil {
			return err
		}
		if o == nil || o["account"] != account {
			return resource.NotFound(strings.TrimPrefix(ref.Resource, "account_"), key)
		}
		if _, err := tx.Delete(ref, key, 0); err != nil {
			return err
		}
		_, err = tx.PurgeDeleted(ref, 0, 0)
		return err
	})
	if err != nil {
		return err
	}
	return r.JSON(http.StatusOK, map[string]any{"data": map[string]any{"key": key, "deleted": true}})
}

func (p *Plugin) changePassword(r *resource.Request) error {
	id, c, data, err := p.requireAccountData(r)
	if err != nil {
		return err
	}
	cur, ok1 := data["current_password"].(string)
	next, ok2 := data["password"].(string)
	if !ok1 || cur == "" {
		return resource.Invalid("body", "data.current_password", "current_password is required")
	}
	if !ok2 {
		return resource.Invalid("body", "data.password", "password is required")
	}
	if err := p.hasher.checkPassword(next); err != nil {
		return resource.Invalid("body", "data.password", err.Error())
	}
	if secs := p.throttle.retryAfter(r, id); secs > 0 {
		return tooMany(secs)
	}
	if ok, _, _ := p.checkPassword(r, id, cur); !ok {
		p.throttle.fail(r, id)
		return resource.Invalid("body", "data.current_password", "The current password is wrong.")
	}
	hash, err := p.hash(next)
	if err != nil {
		return err
	}
	var stored storage.Object
	err = r.Update(func(tx storage.Tx) error {
		a, err := tx.Get(AccountRef, id)
		if err != nil {
			return err
		}
		a["password"] = hash
		delete(a, "last_modified")
		if stored, err = tx.Replace(AccountRef, a); err != nil {
			return err
		}
		return p.revokeOnPasswordChange(tx, id, c)
	})
	if err != nil {
		return err
	}
	p.cache.forget(id)
	return r.JSON(http.StatusOK, map[string]any{"data": map[string]any{"id": id, "last_modified": stored["last_modified"]}})
}

// revokeOnPasswordChange revokes the account's tokens and sessions but
// the credential in use (ACC-X-PWD).
func (p *Plugin) revokeOnPasswordChange(tx storage.Tx, id string, c *credential) error {
	p.creds.invalidate()
	keepToken, keepSession := "", ""
	if c != nil && c.method == "token" {
		keepToken = c.key
	}
	if c != nil && c.method == "session" {
		keepSession = c.key
	}
	if _, err := revokeAll(tx, tokenRef, id, keepToken); err != nil {
		return err
	}
	_, err := revokeAll(tx, sessionRef, id, keepSession)
	return err
}

func (p *Plugin) createEmbed(r *resource.Request) error {
	id, _, data, err := p.requireAccountData(r)
	if err != nil {
		return err
	}
	bucket, ok := data["bucket"].(string)
	if !ok || bucket == "" {
		return resource.Invalid("body", "data.bucket", "bucket is required")
	}
	label, ttl, oerr := labelAndTTL(data)
	if oerr != nil {
		return oerr
	}
	var expires int64
	if ttl > 0 {
		expires = now() + ttl.Milliseconds()
	}
	key, secret := randomKey(embedPrefix), randomSecret()
	created := now()
	err = r.Update(func(tx storage.Tx) error {
		chain := []permissions.Node{{Resource: "bucket", URI: "/buckets/" + bucket}, {Resource: permissions.Root}}
		ok, err := r.Allowed(tx, chain, "write")
		if err != nil {
			return err
		}
		if !ok {
			return r.Deny()
		}
		if exists, err := tx.Exists(storage.Ref{Resource: "bucket"}, bucket); err != nil || !exists {
			if err != nil {
				return err
			}
			return resource.MissingParent("bucket", bucket)
		}
		_, err = tx.Create(embedRef, storage.Object{"id": key, "account": id, "bucket": bucket, "digest": digest(secret),
			"label": label, "created": created, "expires": expires})
		return err
	})
	if err != nil {
		return err
	}
	return r.JSON(http.StatusCreated, map[string]any{"data": map[string]any{"key": key, "secret": secret, "token": key + "." + secret,
		"bucket": bucket, "label": label, "created": created, "expires": nullable(expires)}})
}

func embedView(o storage.Object) storage.Object {
	exp, _ := storage.Int(o["expires"])
	return storage.Object{"key": o["id"], "bucket": o["bucket"], "label": o["label"], "created": o["created"], "expires": nullable(exp)}
}

func (p *Plugin) listEmbeds(r *resource.Request) error {
	id, _, err := p.requireAccount(r, false)
	if err != nil {
		return err
	}
	var objs []storage.Object
	if err := r.View(func(tx storage.Tx) (err error) { objs, err = ownedBy(tx, embedRef, id); return }); err != nil {
		return err
	}
	var out []storage.Object
	for _, o := range objs {
		if !expired(o) {
			out = append(out, embedView(o))
		}
	}
	return r.App.ServeList(r, []string{"key", "bucket", "label", "created", "expires"}, []storage.Sort{{Field: "created", Desc: true}}, out)
}

func (p *Plugin) getEmbed(r *resource.Request) error {
	id, _, err := p.requireAccount(r, false)
	if err != nil {
		return err
	}
	key := r.Param("key")
	var o storage.Object
	if err := r.View(func(tx storage.Tx) (err error) { o, err = getOrNil(tx, embedRef, key); return }); err != nil {
		return err
	}
	if o == nil || o["account"] != id || expired(o) {
		return resource.NotFound("embed_credential", key)
	}
	return r.JSON(http.StatusOK, map[string]any{"data": embedView(o)})
}

func (p *Plugin) deleteEmbed(r *resource.Request) error {
	id, _, err := p.requireAccount(r, true)
	if err != nil {
		return err
	}
	return p.deleteOwned(r, embedRef, id, r.Param("key"))
}

func (p *Plugin) termsStatus(r *resource.Request, id string) (map[string]any, error) {
	var o storage.Object
	if err := r.View(func(tx storage.Tx) (err error) { o, err = getOrNil(tx, termsRef, id); return }); err != nil {
		return nil, err
	}
	out := map[string]any{"version": p.termsVersion, "url": p.termsURL, "valid": false, "accepted_version": nil,
		"accepted_at": nil, "enforced": p.termsEnforced}
	if o != nil {
		out["accepted_version"], out["accepted_at"] = o["version"], o["accepted_at"]
		out["valid"] = o["version"] == p.termsVersion
	}
	return out, nil
}

func (p *Plugin) getTerms(r *resource.Request) error {
	id, _, err := p.requireAccount(r, false)
	if err != nil {
		return err
	}
	st, err := p.termsStatus(r, id)
	if err != nil {
		return err
	}
	return r.JSON(http.StatusOK, map[string]any{"data": st})
}

func (p *Plugin) acceptTerms(r *resource.Request) error {
	id, _, data, err := p.requireAccountData(r)
	if err != nil {
		return err
	}
	if v, present := data["version"]; present && v != p.termsVersion {
		return resource.Invalid("body", "data.version", "The terms changed: fetch the current version and accept it.")
	}
	err = r.Update(func(tx storage.Tx) error {
		_, err := tx.Replace(termsRef, storage.Object{"id": id, "version": p.termsVersion, "accepted_at": now()})
		return err
	})
	if err != nil {
		return err
	}
	return p.getTerms(r)
}
