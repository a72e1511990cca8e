package accounts

import (
	"net/http"
	"strings"
	"time"

	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

func parseBasic(r *resource.Request) (string, string, bool, bool) {
	return r.BasicAuth()
}

func secondsOf(n int64) time.Duration {
	if n > int64(1<<62)/int64(time.Second) {
		return time.Duration(1 << 62)
	}
	return time.Duration(n) * time.Second
}

func minDuration(a, b time.Duration) time.Duration {
	if a < b {
		return a
	}
	return b
}

// secure tells whether cookies get the Secure attribute.
func (p *Plugin) secure(r *resource.Request) bool {
	if p.sameSite == "None" {
		return true
	}
	switch p.cookieSecure {
	case "true":
		return true
	case "false":
		return false
	}
	return strings.HasPrefix(r.BaseURL(), "https://")
}

func (p *Plugin) cookie(r *resource.Request, name, value string, maxAge int, httpOnly bool) *http.Cookie {
	same := map[string]http.SameSite{"Lax": http.SameSiteLaxMode, "Strict": http.SameSiteStrictMode, "None": http.SameSiteNoneMode}[p.sameSite]
	return &http.Cookie{Name: name, Value: value, Path: "/v1", MaxAge: maxAge, HttpOnly: httpOnly, Secure: p.secure(r), SameSite: same}
}

// startSession creates a server-side session and sets its cookies.
func (p *Plugin) startSession(r *resource.Request, user string, created int64) error {
	sid, csrf := randomSecret(), randomSecret()
	expires := created + p.sessionTTL.Milliseconds()
	err := r.Update(func(tx storage.Tx) error {
		_, err := tx.Create(sessionRef, storage.Object{"id": digest(sid), "account": user, "csrf": csrf, "created": created, "expires": expires})
		return err
	})
	if err != nil {
		return err
	}
	age := int(p.sessionTTL.Seconds())
	r.SetCookie(p.cookie(r, p.cookieName, sid, age, true))
	r.SetCookie(p.cookie(r, "nimbus_csrf", csrf, age, false))
	return r.JSON(http.StatusCreated, map[string]any{"data": map[string]any{
		"user_id": p.policy + ":" + user, "id": user, "expires": expires, "csrf_token": csrf}})
}

func (p *Plugin) checkSession(r *resource.Request) error {
	c := credOf(r)
	if c == nil || c.method != "session" {
		return resource.Unauthorized()
	}
	id := p.ownID(r)
	return r.JSON(http.StatusOK, map[string]any{"data": map[string]any{"user_id": r.Identity().UserID, "id": id, "expires": c.expires}})
}

func (p *Plugin) clearCookies(r *resource.Request) {
	r.SetCookie(p.cookie(r, p.cookieName, "", -1, true))
	r.SetCookie(p.cookie(r, "nimbus_csrf", "", -1, false))
}

// logout destroys the session of the cookie, if any; it always succeeds.
func (p *Plugin) logout(r *resource.Request) error {
	if ck, err := r.Request().Cookie(p.cookieName); err == nil && ck.Value != "" {
		if err := p.endSession(r, digest(ck.Value)); err != nil {
			return err
		}
	}
	p.clearCookies(r)
	return r.JSON(http.StatusOK, map[string]any{"data": map[string]any{"deleted": true}})
}

// endSession deletes the session id. Anyone may send a cookie: one that
// names no session is found out by a read, and takes no write transaction
// (on bolt, the server's only writer).
func (p *Plugin) endSession(r *resource.Request, id string) error {
	var exists bool
	if err := r.View(func(tx storage.Tx) (err error) { exists, err = tx.Exists(sessionRef, id); return }); err != nil || !exists {
		return err
	}
	return r.Update(func(tx storage.Tx) error {
		if _, err := tx.Delete(sessionRef, id, 0); err != nil && err != storage.ErrNotFound {
			return err
		}
		_, err := tx.PurgeDeleted(sessionRef, 0, 0)
		return err
	})
}
