package accounts

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Password limits (ACC-04).
const (
	maxPasswordBytes = 1024
	bcryptMaxBytes   = 72
	bcryptCost       = 12
)

// argon2id parameters: OWASP's recommended minimum (19 MiB, 2 passes).
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// Hasher makes password hashes in one format; Verify accepts every
// supported format whatever the hasher.
type Hasher struct {
	// Name is "bcrypt" or "argon2id".
	Name string
	// Cost is the bcrypt cost (tests lower it).
	Cost int
}

// checkPassword applies the length rules of ACC-04.
func (h Hasher) checkPassword(pw string) error {
	if pw == "" {
		return fmt.Errorf("password must be a non-empty string")
	}
	if len(pw) > maxPasswordBytes {
		return fmt.Errorf("password is longer than %d bytes", maxPasswordBytes)
	}
	if h.Name == "bcrypt" && len(pw) > bcryptMaxBytes {
		return fmt.Errorf("password is longer than %d bytes, which bcrypt cannot use", bcryptMaxBytes)
	}
	return nil
}

// Hash returns the stored form of a password.
func (h Hasher) Hash(pw string) (string, error) {
	if h.Name == "argon2id" {
		salt := make([]byte, 16)
		rand.Read(salt)
		key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
		return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
			base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
	}
	cost := h.Cost
	if cost == 0 {
		cost = bcryptCost
	}
	b, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	if err != nil {
		return "", err
	}
	// Go writes the $2a$ identifier; Kinto writes $2b$. The algorithm is
	// the same for passwords bcrypt accepts, so use Kinto's.
	return "$2b$" + strings.TrimPrefix(string(b), "$2a$"), nil
}

// Verify checks a password against a stored hash of any supported format.
func Verify(hash, pw string) bool {
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		return verifyArgon(hash, pw)
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		return bcrypt.CompareHashAndPassword([]byte("$2a$"+hash[4:]), []byte(pw)) == nil
	}
	return false
}

func verifyArgon(hash, pw string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 {
		return false
	}
	var version int
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 || m > 1<<22 || t > 64 {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(key) == 0 || len(key) > 128 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1
}

// fakeHash is verified for unknown accounts so that they cost as much
// time as a wrong password (timing does not reveal which accounts exist).
type fakeHash struct {
	once sync.Once
	h    Hasher
	hash string
}

func (f *fakeHash) verify(pw string) {
	f.once.Do(func() {
		f.hash, _ = f.h.Hash("nimbus-timing-equaliser")
	})
	Verify(f.hash, pw)
}

// hashPool bounds how many password hashes run at once. bcrypt at cost 12
// is ~230 ms of one core without a pause: with as many hashes as cores,
// every other request waits behind them. One core always stays free for
// the rest of the server; hashes beyond the bound queue. It counts the
// hashes it ran (tests check that a sign-up costs one).
type hashPool struct {
	slots chan struct{}
	runs  atomic.Int64
}

func newHashPool() *hashPool {
	n := runtime.GOMAXPROCS(0) - 1
	if n < 1 {
		n = 1
	}
	return &hashPool{slots: make(chan struct{}, n)}
}

func (hp *hashPool) run(fn func()) {
	if hp != nil {
		hp.runs.Add(1)
		hp.slots <- struct{}{}
		defer func() { <-hp.slots }()
	}
	fn()
}

// hash hashes a password in the pool.
func (p *Plugin) hash(pw string) (h string, err error) {
	p.pool.run(func() { h, err = p.hasher.Hash(pw) })
	return
}

// verify checks a password against a hash in the pool.
func (p *Plugin) verify(hash, pw string) (ok bool) {
	p.pool.run(func() { ok = Verify(hash, pw) })
	return
}

// fakeVerify costs what a wrong password costs, in the pool.
func (p *Plugin) fakeVerify(pw string) { p.pool.run(func() { p.fake.verify(pw) }) }
