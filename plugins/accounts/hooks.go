package accounts

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// checkBody applies the account schema's static rules to a POST or PUT,
// before any precondition (CORE-21): data is required, and so is its
// password unless passwordless sign-up may create the account without
// one (validate then decides, knowing whether the account exists).
func (p *Plugin) checkBody(_ *resource.Request, data storage.Object, hasData bool) *resource.Error {
	if !hasData {
		return resource.Invalid("body", "data", "Required")
	}
	pw, ok := data["password"]
	if !ok && !p.passwordless() || ok && pw == nil {
		return resource.Invalid("body", "data.password", "Required")
	}
	if _, isStr := pw.(string); ok && !isStr {
		return resource.Invalid("body", "data.password", resource.ValueText(pw)+" is not a string")
	}
	return nil
}

// passwordless tells whether sign-up may create an account without a
// password (it is then set through the activation e-mail).
func (p *Plugin) passwordless() bool {
	return p.validation && p.settings.Bool("account_validation.passwordless_signup")
}

// validate hashes a new password, keeps the validated flag honest and
// starts the activation flow of a new account (ACC-04, ACC-09, ACC-14).
func (p *Plugin) validate(w *resource.Write) error {
	r, data := w.Request, w.Data
	admin, err := p.isAdmin(r, w.Tx)
	if err != nil {
		return err
	}
	creating := w.Old == nil
	if creating && p.validation && !p.emailRe.MatchString(w.ID) {
		return resource.Invalid("body", "data.id", fmt.Sprintf("Account id must be an e-mail address matching %s", p.emailRe.String()))
	}
	pw, hasPW := data["password"]
	changed := hasPW && (creating || pw != w.Old["password"])
	if !hasPW {
		switch {
		case creating && !p.passwordless():
			return resource.Invalid("body", "data.password", "Required")
		case !creating && r.Request().Method == http.MethodPut:
			return resource.Invalid("body", "data.password", "Required")
		case !creating && w.Old["password"] != nil:
			// No PATCH form (merge with null, JSON-Patch remove) may
			// take the password away.
			return resource.Invalid("body", "data.password", "The password cannot be removed")
		}
	}
	if changed {
		s, ok := pw.(string)
		if !ok {
			return resource.Invalid("body", "data.password", resource.ValueText(pw)+" is not a string")
		}
		if s == "" {
			// Kinto's word for an empty password, as for a missing one.
			return resource.Invalid("body", "data.password", "Required")
		}
		if err := p.hasher.checkPassword(s); err != nil {
			return resource.Invalid("body", "data.password", err.Error())
		}
		hash, err := p.hashFor(r, s)
		if err != nil {
			return err
		}
		data["password"] = hash
	}
	if ctx, ok := data["email-context"]; ok {
		if _, isObj := ctx.(map[string]any); !isObj {
			return resource.Invalid("body", "data.email-context", "email-context must be an object")
		}
	}
	old, hadOld := w.Old["validated"]
	v, sent := data["validated"]
	switch {
	case sent && !admin && (!hadOld || !storage.Equal(old, v)) && !(creating && !p.validation):
		return resource.Invalid("body", "data.validated", "Only administrators can change validated")
	case sent:
		if _, isBool := v.(bool); !isBool {
			return resource.Invalid("body", "data.validated", "validated must be a boolean")
		}
	case !sent && hadOld:
		data["validated"] = old
	case creating && p.validation:
		data["validated"] = false
	}
	if creating && p.validation && data["validated"] == false {
		return p.startActivation(w)
	}
	return nil
}

// startActivation stores a fresh activation key and e-mails it. A mail
// failure fails the sign-up (the transaction rolls back), with 503.
func (p *Plugin) startActivation(w *resource.Write) error {
	// Usually prepare sent the key before the transaction; when the
	// account appeared or vanished in between, it is sent here.
	key, sent := resource.NewUUID4(), false
	if st := preparedOf(w.Request); st != nil && st.activationKey != "" {
		key, sent = st.activationKey, true
	}
	ttl := time.Duration(p.settings.IntDefault("account_validation.validation_key_cache_ttl_seconds")) * time.Second
	// Only a digest of the key is stored: reading the database does not
	// let anyone activate a pending account.
	entry := storage.Object{"id": w.ID, "key_digest": digest(key), "expires": time.Now().Add(ttl).UnixMilli()}
	if _, err := w.Tx.Replace(activationRef, entry); err != nil || sent {
		return err
	}
	err := p.send(w.Request, w.Data, "account_validation.email_subject_template", "account_validation.email_body_template",
		map[string]any{"activation-key": key}, nil)
	if err != nil {
		w.Request.Logger().Error("activation e-mail could not be sent", "account", w.ID, "error", err)
		return errActivationMail
	}
	return nil
}

// afterWrite forgets cached credentials of the account and consumes a
// temporary password that was used for this change.
func (p *Plugin) afterWrite(w *resource.Write) error {
	if w.Old != nil && w.Old["validated"] != w.Data["validated"] {
		p.creds.invalidate()
	}
	if w.Old == nil {
		// Failed checks of this id, remembered while it had no
		// account, no longer hold.
		p.cache.forget(w.ID)
	}
	if w.Old != nil && w.Old["password"] != w.Data["password"] {
		p.cache.forget(w.ID)
		p.creds.invalidate()
		var c *credential
		if p.ownID(w.Request) == w.ID {
			c = credOf(w.Request)
		}
		if err := p.revokeOnPasswordChange(w.Tx, w.ID, c); err != nil {
			return err
		}
	}
	if used, _ := resetKey.Get(w.Request); used == w.ID && used != "" {
		if _, err := w.Tx.Delete(resetRef, w.ID, 0); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
	}
	return nil
}

// afterDelete makes the account unusable at once and drops its pending
// keys.
func (p *Plugin) afterDelete(r *resource.Request, tx storage.Tx, uri string, old storage.Object) error {
	id := storage.ID(old)
	p.cache.forget(id)
	p.creds.invalidate()
	for _, ref := range []storage.Ref{activationRef, resetRef, termsRef} {
		if _, err := tx.Delete(ref, id, 0); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
	}
	for _, ref := range []storage.Ref{tokenRef, sessionRef, embedRef} {
		if _, err := revokeAll(tx, ref, id, ""); err != nil {
			return err
		}
	}
	return nil
}

// send fills and sends one of the configured e-mails to the account.
func (p *Plugin) send(r *resource.Request, account storage.Object, subjectKey, bodyKey string, extra, ctxOverride map[string]any) error {
	values := map[string]any{}
	for k, v := range account {
		if k != "password" {
			values[k] = v
		}
	}
	for k, v := range extra {
		values[k] = v
	}
	ctxValues, _ := account["email-context"].(map[string]any)
	if ctxOverride != nil {
		ctxValues = ctxOverride
	}
	for k, v := range ctxValues {
		values[k] = v
	}
	m := Message{From: p.settings.String("account_validation.email_sender"), To: storage.ID(account),
		Subject: fill(p.settings.String(subjectKey), values), Body: fill(p.settings.String(bodyKey), values)}
	return p.mailer.Send(r.Ctx(), m)
}
