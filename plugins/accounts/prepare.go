package accounts

import (
	"net/http"
	"strings"

	"github.com/nimbus-server/nimbus/permissions"
	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// prepared is the slow work of an account write done before its write
// transaction: the hash of the password sent, and the activation key
// already e-mailed for a sign-up.
type prepared struct {
	plain, hash   string
	activationKey string
}

// preparedKey holds what Prepare did for the write of this request.
var preparedKey = resource.NewStateKey[*prepared]("accounts.prepared")

func preparedOf(r *resource.Request) *prepared {
	st, _ := preparedKey.Get(r)
	return st
}

// prepare runs before the write transaction of a POST, PUT or PATCH on
// /accounts (resource.Resource.Prepare). When the caller may write that
// account, it hashes the password sent and, for a sign-up that needs
// activation, sends the activation e-mail: a write transaction holds the
// one writer of a bolt file, and neither bcrypt (~230 ms at cost 12) nor
// an SMTP exchange may stall every other write. A mail failure answers
// 503 before anything is written.
func (p *Plugin) prepare(r *resource.Request, id string) error {
	body, berr := r.BodyObject()
	if berr != nil {
		return nil // the engine reports it, after authorization
	}
	data, _ := body["data"].(map[string]any)
	if id == "" {
		id, _ = data["id"].(string)
	}
	if id == "" || !IDPattern.MatchString(id) {
		return nil
	}
	var creating, allowed, admin bool
	err := r.View(func(tx storage.Tx) error {
		a, err := getOrNil(tx, AccountRef, id)
		if err != nil {
			return err
		}
		if admin, err = p.isAdmin(r, tx); err != nil {
			return err
		}
		creating = a == nil
		switch {
		case admin || p.ownID(r) == id && !creating:
			allowed = true
		case creating:
			allowed, err = r.Allowed(tx, []permissions.Node{{Resource: permissions.Root}}, "account:create")
		}
		return err
	})
	if err != nil || !allowed {
		return err // a refused caller costs no hash: the transaction answers
	}
	st := &prepared{}
	if pw, ok := data["password"].(string); ok && p.hasher.checkPassword(pw) == nil {
		hash, err := p.hash(pw)
		if err != nil {
			return err
		}
		st.plain, st.hash = pw, hash
	}
	preparedKey.Set(r, st)
	if v, sent := data["validated"]; !creating || !p.validation || !p.emailRe.MatchString(id) || sent && v == true && admin {
		return nil
	}
	account := make(storage.Object, len(data)+1)
	for k, v := range data {
		account[k] = v
	}
	account["id"] = id
	key := resource.NewUUID4()
	if err := p.send(r, account, "account_validation.email_subject_template", "account_validation.email_body_template",
		map[string]any{"activation-key": key}, nil); err != nil {
		r.Logger().Error("activation e-mail could not be sent", "account", id, "error", err)
		return errActivationMail
	}
	st.activationKey = key
	return nil
}

var errActivationMail = &resource.Error{Status: 503, Errno: resource.ErrnoBackend,
	Message: "The activation e-mail could not be sent; the account was not created. Please retry later."}

// hashFor returns the hash of pw, computed before the transaction when
// prepare could (the usual case), else now.
func (p *Plugin) hashFor(r *resource.Request, pw string) (string, error) {
	if st := preparedOf(r); st != nil && st.hash != "" && st.plain == pw {
		return st.hash, nil
	}
	return p.hash(pw)
}

// signUpOf tells whether the request creates the account user with the
// credentials it carries (PUT /accounts/{user} or POST /accounts with
// that id): checking them against a fake hash would only double the cost
// of the sign-up, whose answer tells anyway whether the account existed.
func (p *Plugin) signUpOf(r *resource.Request, user string) bool {
	req := r.Request()
	path := strings.TrimRight(req.URL.Path, "/")
	switch req.Method {
	case http.MethodPut:
		return path == "/v1/accounts/"+user
	case http.MethodPost:
		if path != "/v1/accounts" {
			return false
		}
		body, err := r.BodyObject()
		if err != nil {
			return false
		}
		data, _ := body["data"].(map[string]any)
		return data["id"] == user
	}
	return false
}
