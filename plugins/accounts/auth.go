package accounts

import (
	"net/http"
	"strings"
	"time"

	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// Authenticate implements resource.AuthMethod. Inside the accounts
// method, a Basic header wins, then a Bearer nbt_/nbe_ token, then the
// session cookie when there is no Authorization header at all.
func (p *Plugin) Authenticate(r *resource.Request) (string, resource.AuthResult) {
	h := r.Request().Header.Get("Authorization")
	scheme, value, _ := strings.Cut(h, " ")
	switch {
	case strings.EqualFold(scheme, "basic"):
		return p.authBasic(r)
	case strings.EqualFold(scheme, "bearer") && strings.HasPrefix(value, tokenPrefix) && p.tokens:
		return p.authToken(r, strings.TrimSpace(value))
	case strings.EqualFold(scheme, "bearer") && strings.HasPrefix(value, embedPrefix) && p.embeds:
		return p.authEmbed(r, strings.TrimSpace(value))
	case h == "" && p.sessions:
		if c, err := r.Request().Cookie(p.cookieName); err == nil && c.Value != "" {
			return p.authSession(r, c.Value)
		}
	}
	return "", resource.NotMine
}

func (p *Plugin) setCred(r *resource.Request, c *credential) {
	credKey.Set(r, c)
	if c.method == "embed" {
		// Each embed credential counts apart from its owner (streams).
		r.SetCredential("embed:" + c.key)
	}
}

func credOf(r *resource.Request) *credential {
	c, _ := credKey.Get(r)
	return c
}

// authBasic checks an id and password (ACC-02, ACC-03, ACC-X-THR).
func (p *Plugin) authBasic(r *resource.Request) (string, resource.AuthResult) {
	user, pw, _, valid := r.BasicAuth()
	if !valid || user == "" || pw == "" || len(pw) > maxPasswordBytes || !IDPattern.MatchString(user) {
		return "", resource.Rejected
	}
	// A throttled pair is refused before any hash or cache: with 429
	// when accounts are the only policy, by leaving the request to the
	// next policy otherwise.
	// On a shared database, the account is read with the pair's counter,
	// for stillValid below.
	var pre accountRead
	var also func(storage.Tx) error
	if p.shared {
		also = pre.read(user)
	}
	secs, err := p.throttle.retryAfterWith(r, user, also)
	if err != nil {
		unavailable(r, err)
		return "", resource.Rejected
	}
	if secs > 0 {
		if !p.fallback {
			throttledKey.Set(r, secs)
		}
		return "", resource.Rejected
	}
	if r.Recheck() {
		// A stream checks its credentials again: the password it was
		// opened with is still good if the stored hash is the one it
		// was verified against (a change of password drops the entry).
		if e, ok := p.cache.remembered(user, pw); ok && p.stillValid(r, user, e, &pre) {
			p.cache.put(user, pw, e.hash, false)
			p.setCred(r, &credential{method: "basic"})
			return user, resource.Accepted
		}
	}
	cached := func() (resource.AuthResult, bool) {
		e, ok := p.cache.hit(user, pw)
		if !ok || (p.shared && !p.stillValid(r, user, e, &pre)) {
			return 0, false
		}
		if e.negative {
			return resource.Rejected, true
		}
		p.setCred(r, &credential{method: "basic"})
		return resource.Accepted, true
	}
	if res, ok := cached(); ok {
		return userIf(res, user), res
	}
	// Another request checking the same pair right now: its outcome is
	// this one's, once cached (a failure is checked again, and counted).
	if wait, done := p.cache.join(user, pw); wait != nil {
		select {
		case <-wait:
		case <-r.Ctx().Done():
			return "", resource.Rejected
		}
		if res, ok := cached(); ok {
			return userIf(res, user), res
		}
	} else {
		defer done()
	}
	ok, account, reset, err := p.checkPassword(r, user, pw)
	if err != nil {
		unavailable(r, err)
		return "", resource.Rejected
	}
	if !ok && account == nil && p.signUpOf(r, user) {
		return "", resource.Rejected // the account is being created: no failure
	}
	hash, _ := account["password"].(string)
	if ok {
		p.throttle.succeed(r, user)
		p.cache.put(user, pw, hash, false)
		p.setCred(r, &credential{method: "basic"})
		return user, resource.Accepted
	}
	if account != nil && reset != nil && account["validated"] != false && p.resetUsable(r, user, reset, pw) {
		resetKey.Set(r, user)
		p.setCred(r, &credential{method: "basic"})
		return user, resource.Accepted
	}
	p.throttle.fail(r, user)
	if p.fallback {
		// The next policy takes the pair: remember the failure so that
		// its requests cost no hash and count no further failure until
		// the account changes.
		p.cache.put(user, pw, hash, true)
	}
	return "", resource.Rejected
}

// userIf is user when res accepts it.
func userIf(res resource.AuthResult, user string) string {
	if res == resource.Accepted {
		return user
	}
	return ""
}

// stillValid confirms a cached check against the account as it is now
// in the shared database: another instance may have created the account,
// changed its password or deleted it. The account is read unless pre
// holds it already (read in this request's first transaction).
func (p *Plugin) stillValid(r *resource.Request, user string, e cacheEntry, pre *accountRead) bool {
	if !pre.done {
		if err := r.View(pre.read(user)); err != nil {
			return false
		}
	}
	a := pre.account
	stored, _ := a["password"].(string)
	if e.negative {
		return stored == e.hash
	}
	return a != nil && stored == e.hash && a["validated"] != false
}

// accountRead is an account read in a transaction of the request.
type accountRead struct {
	account storage.Object
	done    bool
}

func (a *accountRead) read(user string) func(storage.Tx) error {
	return func(tx storage.Tx) (err error) {
		a.account, err = getOrNil(tx, AccountRef, user)
		a.done = err == nil
		return err
	}
}

// checkPassword verifies a password, costing the same time for unknown
// accounts; it also returns the account and its pending reset, if any.
// An error is the storage's: the password was not checked, and the
// caller must neither count a failure nor remember one (the request
// fails, unavailableKey).
func (p *Plugin) checkPassword(r *resource.Request, user, pw string) (bool, storage.Object, storage.Object, error) {
	var account, reset storage.Object
	err := r.View(func(tx storage.Tx) error {
		var err error
		if account, err = getOrNil(tx, AccountRef, user); err != nil || account == nil {
			return err
		}
		reset, err = getOrNil(tx, resetRef, user)
		return err
	})
	if err != nil {
		return false, nil, nil, err
	}
	hash, _ := account["password"].(string)
	if account == nil && p.signUpOf(r, user) {
		return false, nil, nil, nil
	}
	if account == nil || hash == "" {
		p.fakeVerify(pw)
		return false, account, nil, nil
	}
	if !p.verify(hash, pw) {
		return false, account, reset, nil
	}
	return account["validated"] != false, account, nil, nil
}

// unavailable marks the request as failed by the storage during its
// authentication: checkRequest answers it with err (503 for a backend
// error) whatever a later policy makes of its credentials, as Kinto
// answers a request whose account it could not read.
func unavailable(r *resource.Request, err error) {
	// The request fails with err, which the server logs (once a second
	// while the storage is down).
	r.Logger().Debug("account lookup failed", "error", err)
	unavailableKey.Set(r, err)
}

// live loads a credential record by id and checks its secret and expiry.
func (p *Plugin) live(r *resource.Request, ref storage.Ref, id, secret string) storage.Object {
	var o storage.Object
	if err := r.View(func(tx storage.Tx) (err error) { o, err = getOrNil(tx, ref, id); return }); err != nil {
		unavailable(r, err)
		return nil
	}
	if o == nil || expired(o) {
		return nil
	}
	d, _ := o["digest"].(string)
	if secret != "" && !sameDigest(d, secret) {
		return nil
	}
	return o
}

// accountUsable tells whether the account exists and may authenticate.
func (p *Plugin) accountUsable(r *resource.Request, id string) bool {
	var a storage.Object
	if err := r.View(func(tx storage.Tx) (err error) { a, err = getOrNil(tx, AccountRef, id); return }); err != nil {
		unavailable(r, err)
		return false
	}
	return a != nil && a["validated"] != false
}

func (p *Plugin) authToken(r *resource.Request, token string) (string, resource.AuthResult) {
	if user, c, ok := p.creds.get(token); ok {
		p.setCred(r, c)
		return user, resource.Accepted
	}
	key, secret, ok := splitToken(token, tokenPrefix)
	if !ok {
		return "", resource.Rejected
	}
	o := p.live(r, tokenRef, key, secret)
	user, _ := o["account"].(string)
	if o == nil || !p.accountUsable(r, user) {
		return "", resource.Rejected
	}
	exp, _ := storage.Int(o["expires"])
	ro, _ := o["read_only"].(bool)
	c := &credential{method: "token", key: key, expires: exp, readOnly: ro}
	p.creds.put(token, user, c)
	p.setCred(r, c)
	return user, resource.Accepted
}

func (p *Plugin) authEmbed(r *resource.Request, token string) (string, resource.AuthResult) {
	if user, c, ok := p.creds.get(token); ok {
		p.setCred(r, c)
		return user, resource.Accepted
	}
	key, secret, ok := splitToken(token, embedPrefix)
	if !ok {
		return "", resource.Rejected
	}
	o := p.live(r, embedRef, key, secret)
	user, _ := o["account"].(string)
	if o == nil || !p.accountUsable(r, user) {
		return "", resource.Rejected
	}
	exp, _ := storage.Int(o["expires"])
	bucket, _ := o["bucket"].(string)
	c := &credential{method: "embed", key: key, expires: exp, readOnly: true, bucket: bucket}
	p.creds.put(token, user, c)
	p.setCred(r, c)
	return user, resource.Accepted
}

func (p *Plugin) authSession(r *resource.Request, cookie string) (string, resource.AuthResult) {
	id := digest(cookie)
	o := p.live(r, sessionRef, id, "")
	user, _ := o["account"].(string)
	if o == nil || !p.accountUsable(r, user) {
		return "", resource.Rejected
	}
	exp, _ := storage.Int(o["expires"])
	// Sliding expiry, written at most once a minute.
	if next := now() + p.sessionTTL.Milliseconds(); next-exp > 60_000 {
		o["expires"] = next
		exp = next
		delete(o, "last_modified")
		r.Update(func(tx storage.Tx) error { _, err := tx.Replace(sessionRef, o); return err })
	}
	csrf, _ := o["csrf"].(string)
	p.setCred(r, &credential{method: "session", key: id, expires: exp, csrf: csrf})
	return user, resource.Accepted
}

// resetUsable tells whether a temporary password may authenticate this
// request: only a PUT or PATCH of the account's own password (ACC-16).
func (p *Plugin) resetUsable(r *resource.Request, user string, reset storage.Object, pw string) bool {
	req := r.Request()
	if req.Method != http.MethodPut && req.Method != http.MethodPatch {
		return false
	}
	if req.URL.Path != "/v1/accounts/"+user {
		return false
	}
	expires, _ := storage.Int(reset["expires"])
	if time.Now().UnixMilli() > expires {
		return false
	}
	body, err := r.BodyObject()
	if err != nil || len(body) != 1 {
		return false
	}
	data, ok := body["data"].(map[string]any)
	if !ok || len(data) != 1 {
		return false
	}
	if _, ok := data["password"].(string); !ok {
		return false
	}
	hash, _ := reset["hash"].(string)
	return p.verify(hash, pw)
}

var (
	_ resource.AuthMethod      = (*Plugin)(nil)
	_ resource.Challenger      = (*Plugin)(nil)
	_ resource.SecurityDefiner = (*Plugin)(nil)
)

// Challenge implements resource.Challenger.
func (p *Plugin) Challenge() string { return `Basic realm="Realm"` }

// SecurityDefinitions adds the bearer credentials to the OpenAPI document.
func (p *Plugin) SecurityDefinitions() map[string]any {
	if !p.tokens && !p.embeds {
		return nil
	}
	return map[string]any{"token": map[string]any{"type": "apiKey", "in": "header", "name": "Authorization",
		"description": "Bearer nbt_... (login token) or Bearer nbe_... (embed credential)"}}
}
