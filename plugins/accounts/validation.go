package accounts

import (
	"errors"
	"net/http"
	"time"

	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

var errKeyMismatch = &resource.Error{Status: 403, Errno: resource.ErrnoForbidden, Message: "Account ID and activation key do not match"}

// activate serves POST /accounts/{id}/validate/{key} (ACC-15).
func (p *Plugin) activate(r *resource.Request) error {
	id, key := r.Param("account_id"), r.Param("activation_key")
	body, berr := r.BodyObject()
	var newPW any
	var hasPW bool
	if berr == nil {
		if d, ok := body["data"].(map[string]any); ok {
			newPW, hasPW = d["password"]
		}
	}
	// The key is checked by a read first: anyone may send keys, and a
	// wrong one takes no write transaction (on bolt, the server's only
	// writer). The write checks it again.
	var keyOK bool
	if err := r.View(func(tx storage.Tx) error {
		entry, err := getOrNil(tx, activationRef, id)
		stored, _ := entry["key_digest"].(string)
		expires, _ := storage.Int(entry["expires"])
		keyOK = err == nil && entry != nil && sameDigest(stored, key) && time.Now().UnixMilli() <= expires
		return err
	}); err != nil {
		return err
	}
	if !keyOK {
		return errKeyMismatch
	}
	// A password chosen at activation is hashed before the write
	// transaction, once the key is known to be right.
	var prehash string
	if s, ok := newPW.(string); ok && hasPW && p.hasher.checkPassword(s) == nil {
		h, err := p.hash(s)
		if err != nil {
			return err
		}
		prehash = h
	}
	var account storage.Object
	err := r.Update(func(tx storage.Tx) error {
		entry, err := tx.Get(activationRef, id)
		if errors.Is(err, storage.ErrNotFound) {
			return errKeyMismatch
		}
		if err != nil {
			return err
		}
		stored, _ := entry["key_digest"].(string)
		expires, _ := storage.Int(entry["expires"])
		if !sameDigest(stored, key) || time.Now().UnixMilli() > expires {
			return errKeyMismatch
		}
		if berr != nil {
			return berr
		}
		if account, err = tx.Get(AccountRef, id); errors.Is(err, storage.ErrNotFound) {
			return errKeyMismatch
		} else if err != nil {
			return err
		}
		_, hasStored := account["password"]
		switch {
		case hasStored && hasPW:
			return resource.Invalid("body", "data.password", "A password is already set for this account")
		case !hasStored && !hasPW:
			return resource.Invalid("body", "data.password", "A password is required to activate this account")
		case hasPW:
			s, ok := newPW.(string)
			if !ok {
				return resource.Invalid("body", "data.password", "password must be a string")
			}
			if err := p.hasher.checkPassword(s); err != nil {
				return resource.Invalid("body", "data.password", err.Error())
			}
			hash := prehash
			if hash == "" {
				var err error
				if hash, err = p.hash(s); err != nil {
					return err
				}
			}
			account["password"] = hash
		}
		account["validated"] = true
		if account, err = tx.Replace(AccountRef, account); err != nil {
			return err
		}
		_, err = tx.Delete(activationRef, id, 0)
		return err
	})
	if err != nil {
		return err
	}
	p.cache.forget(id)
	if err := p.send(r, account, "account_validation.email_confirmation_subject_template",
		"account_validation.email_confirmation_body_template", nil, nil); err != nil {
		r.Logger().Error("confirmation e-mail could not be sent", "account", id, "error", err)
	}
	return r.JSON(http.StatusOK, p.readFilter(r, account))
}

// resetPassword serves POST /accounts/{id}/reset-password (ACC-16). The
// answer is the same whether or not the account exists.
func (p *Plugin) resetPassword(r *resource.Request) error {
	id := r.Param("account_id")
	body, berr := r.BodyObject()
	if berr != nil {
		return berr
	}
	var ctxOverride map[string]any
	if d, ok := body["data"].(map[string]any); ok {
		if c, ok := d["email-context"]; ok {
			if ctxOverride, ok = c.(map[string]any); !ok {
				return resource.Invalid("body", "data.email-context", "email-context must be an object")
			}
		}
	}
	temp := resource.NewUUID4()
	ok := map[string]any{"message": "A temporary reset password has been sent by mail"}
	var account storage.Object
	err := r.View(func(tx storage.Tx) error {
		var err error
		if account, err = tx.Get(AccountRef, id); errors.Is(err, storage.ErrNotFound) {
			account, err = nil, nil
		}
		return err
	})
	if err != nil {
		return err
	}
	if account == nil || account["validated"] == false {
		p.fakeVerify(temp) // same cost as hashing a real temporary password
		return r.JSON(http.StatusOK, ok)
	}
	if !p.emailRe.MatchString(id) {
		return resource.Invalid("body", "data.id", "Account id must be an e-mail address matching "+p.emailRe.String())
	}
	hash, err := p.hash(temp)
	if err != nil {
		return err
	}
	ttl := time.Duration(p.settings.IntDefault("account_validation.reset_password_cache_ttl_seconds")) * time.Second
	err = r.Update(func(tx storage.Tx) error {
		_, err := tx.Replace(resetRef, storage.Object{"id": id, "hash": hash, "expires": time.Now().Add(ttl).UnixMilli()})
		return err
	})
	if err != nil {
		return err
	}
	if err := p.send(r, account, "account_validation.email_reset_password_subject_template",
		"account_validation.email_reset_password_body_template", map[string]any{"reset-password": temp}, ctxOverride); err != nil {
		r.Logger().Error("reset e-mail could not be sent", "account", id, "error", err)
	}
	return r.JSON(http.StatusOK, ok)
}
