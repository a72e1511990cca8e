package accounts

import (
	"net/http"

	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// Password change (ACC-X-PWD).

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
	if secs, err := p.throttle.retryAfter(r, id); err != nil {
		return err
	} else if secs > 0 {
		return tooMany(secs)
	}
	ok, _, _, err := p.checkPassword(r, id, cur)
	if err != nil {
		return err
	}
	if !ok {
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
