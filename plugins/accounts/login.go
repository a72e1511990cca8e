package accounts

import (
	"net/http"
	"time"

	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// Logging in: credentials from a body or a Basic header, login tokens and sessions.

// credentialsOf reads username and password from the body, or a Basic
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
	if secs, err := p.throttle.retryAfter(r, user); err != nil {
		return err
	} else if secs > 0 {
		return tooMany(secs)
	}
	if !IDPattern.MatchString(user) || len(pw) > maxPasswordBytes {
		p.fakeVerify(pw)
		p.throttle.fail(r, user)
		return errLogin
	}
	ok, _, _, err := p.checkPassword(r, user, pw)
	if err != nil {
		return err
	}
	if !ok {
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
		if session {
			// Login CSRF: a page of another site must not sign the
			// browser into an account of the attacker's choosing.
			if origin := r.Request().Header.Get("Origin"); origin != "" && !p.originTrusted(r, origin) {
				return &resource.Error{Status: 403, Errno: resource.ErrnoForbidden, Message: "Origin not allowed for cookie sessions."}
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
