package accounts

import (
	"errors"
	"net/http"
	"time"

	"github.com/nimbus-server/nimbus/plugins/basicauth"
	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// Authenticate implements resource.AuthMethod for Basic credentials of an
// account (ACC-02, ACC-03).
func (p *Plugin) Authenticate(r *resource.Request) (string, resource.AuthResult) {
	user, pw, ok, valid := basicauth.ParseBasic(r.Request())
	if !ok {
		return "", resource.NotMine
	}
	if !valid || user == "" || pw == "" || len(pw) > maxPasswordBytes || !IDPattern.MatchString(user) {
		return "", resource.Rejected
	}
	if p.cache.hit(user, pw) {
		return user, resource.Accepted
	}
	var account, reset storage.Object
	err := r.View(func(tx storage.Tx) error {
		var err error
		if account, err = tx.Get(AccountRef, user); errors.Is(err, storage.ErrNotFound) {
			account, err = nil, nil
		}
		if err != nil || account == nil {
			return err
		}
		if reset, err = tx.Get(resetRef, user); errors.Is(err, storage.ErrNotFound) {
			reset, err = nil, nil
		}
		return err
	})
	if err != nil {
		r.App.Logger.Warn("account lookup failed", "error", err)
		return "", resource.Rejected
	}
	if account == nil {
		p.fake.verify(pw)
		return "", resource.Rejected
	}
	hash, _ := account["password"].(string)
	if hash == "" {
		p.fake.verify(pw)
		return "", resource.Rejected
	}
	if Verify(hash, pw) {
		if account["validated"] == false {
			return "", resource.Rejected
		}
		p.cache.put(user, pw)
		return user, resource.Accepted
	}
	if reset != nil && account["validated"] != false && p.resetUsable(r, user, reset, pw) {
		r.Values = ensure(r.Values)
		r.Values["accounts.reset"] = user
		return user, resource.Accepted
	}
	return "", resource.Rejected
}

func ensure(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
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
	return Verify(hash, pw)
}

// Challenge implements resource.Challenger.
func (p *Plugin) Challenge() string { return `Basic realm="Realm"` }
