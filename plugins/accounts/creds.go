package accounts

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/nimbus-server/nimbus/storage"
)

// Private lists of the credential features (never served as resources).
var (
	tokenRef    = storage.Ref{Resource: "account_token"}
	sessionRef  = storage.Ref{Resource: "account_session"}
	embedRef    = storage.Ref{Resource: "account_embed_credential"}
	termsRef    = storage.Ref{Resource: "account_terms_acceptance"}
	throttleRef = storage.Ref{Resource: "account_login_throttle"}
)

// Key prefixes of issued credentials.
const (
	tokenPrefix = "nbt_"
	embedPrefix = "nbe_"
)

// credential describes how the current request authenticated.
type credential struct {
	method   string // basic, token, session, embed
	key      string // token or embed key; session digest
	expires  int64  // 0 when none
	readOnly bool
	bucket   string // embed scope
	csrf     string // session CSRF token
}

const credKey = "accounts.credential"

func randomKey(prefix string) string {
	b := make([]byte, 16)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// randomSecret returns 32 random bytes as 43 base64url characters.
func randomSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func digest(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func sameDigest(stored, secret string) bool {
	return subtle.ConstantTimeCompare([]byte(stored), []byte(digest(secret))) == 1
}

// splitToken reads "<key>.<secret>" with the given key prefix.
func splitToken(token, prefix string) (key, secret string, ok bool) {
	key, secret, ok = strings.Cut(token, ".")
	if !ok || !strings.HasPrefix(key, prefix) || len(key) != len(prefix)+32 || len(secret) != 43 {
		return "", "", false
	}
	return key, secret, true
}

func now() int64 { return time.Now().UnixMilli() }

func getOrNil(tx storage.Tx, ref storage.Ref, id string) (storage.Object, error) {
	o, err := tx.Get(ref, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	return o, err
}

// ownedBy lists the live objects of a credential list that belong to an
// account.
func ownedBy(tx storage.Tx, ref storage.Ref, account string) ([]storage.Object, error) {
	return tx.List(ref, storage.Query{Filters: []storage.Filter{{Field: "account", Op: storage.OpEq, Value: account}}})
}

// revokeAll deletes an account's objects of a credential list, except
// the one with id keep; it returns the keys deleted.
func revokeAll(tx storage.Tx, ref storage.Ref, account, keep string) ([]string, error) {
	objs, err := ownedBy(tx, ref, account)
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, o := range objs {
		id := storage.ID(o)
		if id == keep {
			continue
		}
		if _, err := tx.Delete(ref, id, 0); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return nil, err
		}
		keys = append(keys, id)
	}
	if _, err := tx.PurgeDeleted(ref, 0, 0); err != nil {
		return nil, err
	}
	return keys, nil
}

func expired(o storage.Object) bool {
	e, ok := storage.Int(o["expires"])
	return ok && e > 0 && e < now()
}
