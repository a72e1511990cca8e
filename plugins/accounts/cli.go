package accounts

import (
	"context"
	"errors"
	"fmt"

	"github.com/nimbus-server/nimbus/config"
	"github.com/nimbus-server/nimbus/storage"
)

// CreateUser creates an account, or sets the password of an existing one,
// directly in storage (ACC-13). The account counts as validated and owns
// itself. It reports whether the account was created.
func CreateUser(ctx context.Context, backend storage.Backend, s *config.Settings, id, password string) (bool, error) {
	for _, st := range settings {
		s.SetDefault(st.Name, st.Default)
	}
	if !IDPattern.MatchString(id) {
		return false, fmt.Errorf("%q is not a valid account id (letters, digits and +.@_- , starting with a letter or digit)", id)
	}
	policy, err := checkStartup(s)
	if err != nil {
		return false, err
	}
	if f, ok := backend.(storage.LayoutFollower); ok {
		// Written without a server: the backend learns the accounts'
		// layout here as it would from the declared resource.
		f.SetLayout("account", accountLayout)
	}
	h := Hasher{Name: s.OneOf("account_password_hasher", "bcrypt", "argon2id")}
	if err := h.checkPassword(password); err != nil {
		return false, err
	}
	hash, err := h.Hash(password)
	if err != nil {
		return false, err
	}
	created := false
	err = backend.Update(ctx, func(tx storage.Tx) error {
		account, err := tx.Get(AccountRef, id)
		created = errors.Is(err, storage.ErrNotFound)
		if created {
			account = storage.Object{"id": id}
		} else if err != nil {
			return err
		}
		account["password"] = hash
		if _, ok := account["validated"]; ok {
			account["validated"] = true
		}
		delete(account, "last_modified")
		if _, err := tx.Replace(AccountRef, account); err != nil {
			return err
		}
		if _, err := tx.Delete(activationRef, id, 0); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		return tx.SetACL("/accounts/"+id, storage.ACL{"write": {policy + ":" + id}})
	})
	return created, err
}
