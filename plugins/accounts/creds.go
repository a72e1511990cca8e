package accounts

import (
	"github.com/nimbus-server/nimbus/resource"

	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
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

// Keys of the per-request state the authentication step leaves for later
// steps of the same request. They hold no data themselves: each request
// keeps its own values.
var (
	// credKey holds the credential that authenticated the request.
	credKey = resource.NewStateKey[*credential]("accounts.credential")
	// throttledKey holds the Retry-After seconds of a throttled pair.
	throttledKey = resource.NewStateKey[int]("accounts.throttled")
	// resetKey holds the account id a temporary password was used for.
	resetKey = resource.NewStateKey[string]("accounts.reset")
	// unavailableKey holds the storage error that kept the request's
	// credentials from being checked.
	unavailableKey = resource.NewStateKey[error]("accounts.unavailable")
)

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

// credCache remembers bearer credentials that passed a check, for a short
// time. Any revocation, password change or deletion bumps the generation,
// which empties it at once.
type credCache struct {
	mu      sync.Mutex
	gen     uint64
	entries map[string]cachedCred
	ttl     time.Duration
}

type cachedCred struct {
	user    string
	cred    credential
	gen     uint64
	until   time.Time
	expires int64
}

func (c *credCache) get(token string) (string, *credential, bool) {
	if c.ttl <= 0 {
		return "", nil, false
	}
	k := digest(token)
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok || e.gen != c.gen || time.Now().After(e.until) || (e.expires > 0 && e.expires < now()) {
		return "", nil, false
	}
	cred := e.cred
	return e.user, &cred, true
}

func (c *credCache) put(token, user string, cred *credential) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) > maxCacheEntries {
		c.entries = map[string]cachedCred{}
	}
	c.entries[digest(token)] = cachedCred{user: user, cred: *cred, gen: c.gen, until: time.Now().Add(c.ttl), expires: cred.expires}
}

// invalidate forgets every cached credential.
func (c *credCache) invalidate() {
	c.mu.Lock()
	c.gen++
	c.entries = nil
	c.mu.Unlock()
}

// revokes tells whether a committed change may revoke a credential: an
// account changed (password, validation) or deleted, a login token,
// session or embed credential deleted. Other instances sharing the
// database hear these changes too, so their streams end as well.
func revokes(ch storage.Change) bool {
	switch ch.Ref.Resource {
	case AccountRef.Resource:
		return ch.Action != "create"
	case tokenRef.Resource, sessionRef.Resource, embedRef.Resource:
		return ch.Action == "delete" || ch.Action == ""
	}
	return false
}
