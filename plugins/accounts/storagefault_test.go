package accounts_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/memory"
)

// failingReads fails every read transaction while on, as a database
// that cannot be reached (or a pool that times out) does; writes still
// go through, as they may on another connection.
type failingReads struct {
	storage.Backend
	on atomic.Bool
	// once fails the next read only.
	once atomic.Bool
}

func (b *failingReads) View(ctx context.Context, fn func(storage.Tx) error) error {
	if b.on.Load() || b.once.CompareAndSwap(true, false) {
		return &storage.BackendError{Op: "view", Err: errors.New("database unreachable")}
	}
	return b.Backend.View(ctx, fn)
}

// TestStorageFailureIsNotAWrongPassword: when the account cannot be read,
// the credentials were not checked. The request answers 503 (as Kinto's
// does), whatever policy follows; no login failure is counted and none is
// remembered, so the account's owner is neither throttled nor served as
// another user (basicauth) once the storage is back.
func TestStorageFailureIsNotAWrongPassword(t *testing.T) {
	for _, policies := range []string{"account", "account basicauth"} {
		for _, cred := range []string{"basic", "token"} {
			t.Run(policies+"/"+cred, func(t *testing.T) {
				backend := &failingReads{Backend: memory.New()}
				settings := map[string]string{"multiauth.policies": policies, "account_login_max_failures": "3"}
				for k, v := range base {
					if _, set := settings[k]; !set {
						settings[k] = v
					}
				}
				s := apitest.NewWithBackend(t, backend, settings)
				signup(t, s, "alice", "alice-pw")
				auth := basic("alice", "alice-pw")
				if cred == "token" {
					auth = bearer(login(t, s, `{"data":{"username":"alice","password":"alice-pw"}}`))
				}

				backend.on.Store(true)
				for i := 0; i < 5; i++ {
					r := s.Do(R{Method: "GET", Path: "/v1/", Auth: auth}).Expect(t, 503, 201)
					if r.Header.Get("Retry-After") == "" {
						t.Fatalf("503 without Retry-After: %v", r.Header)
					}
				}
				s.Do(R{Method: "POST", Path: "/v1/account/tokens", Body: `{"data":{"username":"alice","password":"alice-pw"}}`}).Expect(t, 503, 201)
				backend.on.Store(false)

				if id := whoami(s, auth); id != "account:alice" {
					t.Fatalf("once the storage is back, alice is %q", id)
				}
				login(t, s, `{"data":{"username":"alice","password":"alice-pw"}}`)
				if id := whoami(s, basic("alice", "alice-pw")); id != "account:alice" {
					t.Fatalf("once the storage is back, alice's password makes %q", id)
				}
			})
		}
	}
}

// TestUnreadableCounterIsNotAPass (ACC-X-THR): when the pair's failure
// counter cannot be read (a client that half-closes its connection can
// make that read fail, and still read the answer), the password is not
// checked: the request answers 503, never the verdict of a throttled
// pair.
func TestUnreadableCounterIsNotAPass(t *testing.T) {
	backend := &failingReads{Backend: memory.New()}
	s := malServer(t, backend)
	for i := 0; i < 3; i++ {
		s.Do(R{Method: "GET", Path: "/v1/accounts/mal", Auth: basic("mal", fmt.Sprintf("guess-%d", i))}).Expect(t, 401, 104)
	}
	s.Do(R{Method: "GET", Path: "/v1/accounts/mal", Auth: basic("mal", "mal-right-pw")}).Expect(t, 429, 117)
	backend.once.Store(true)
	s.Do(R{Method: "GET", Path: "/v1/accounts/mal", Auth: basic("mal", "mal-right-pw")}).Expect(t, 503, 201)
	backend.once.Store(true)
	s.Do(R{Method: "POST", Path: "/v1/account/tokens", Body: `{"data":{"username":"mal","password":"mal-right-pw"}}`}).Expect(t, 503, 201)
	s.Do(R{Method: "GET", Path: "/v1/accounts/mal", Auth: basic("mal", "mal-right-pw")}).Expect(t, 429, 117)
}
