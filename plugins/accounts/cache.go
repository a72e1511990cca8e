package accounts

import (
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nimbus-server/nimbus/resource"
)

// verifiedCache remembers credentials that passed a hash check, keyed by
// an HMAC of (account id, password), for a sliding TTL (ACC-03). Entries of
// an account are dropped at once when the account changes.
type verifiedCache struct {
	mu      sync.Mutex
	mac     *resource.MAC
	ttl     time.Duration
	entries map[string]cacheEntry
	byUser  map[string]map[string]struct{}
	// hits and misses count lookups, for metrics.
	hits, misses atomic.Int64
	// checks are the pairs being verified now (join).
	checks map[string]chan struct{}
}

type cacheEntry struct {
	user    string
	hash    string // the stored hash the password was checked against ("" for no account)
	expires time.Time
	// negative entries remember a failed check, kept only when another
	// policy takes over the pair (ACC-X-THR).
	negative bool
}

const maxCacheEntries = 100_000

func newCache(secret string, ttl time.Duration) *verifiedCache {
	return &verifiedCache{mac: resource.NewMAC([]byte(secret)), ttl: ttl, entries: map[string]cacheEntry{}, byUser: map[string]map[string]struct{}{}}
}

func (c *verifiedCache) key(user, pw string) string {
	var buf [sha256.Size]byte
	return string(c.mac.Sum(buf[:0], []byte(user), []byte{0}, []byte(pw)))
}

// join lets one request at a time verify a pair that is not cached: the
// first gets done, to call once its outcome is cached (or not); the
// others get a channel closed then, and look at the cache again instead
// of hashing too. Without it, a server that starts with many clients
// logged in hashes the same password once per connection, one after the
// other in the hash pool, and every first request waits for all of them.
func (c *verifiedCache) join(user, pw string) (wait <-chan struct{}, done func()) {
	if c.ttl <= 0 {
		return nil, func() {}
	}
	k := c.key(user, pw)
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.checks[k]; ok {
		return ch, nil
	}
	if c.checks == nil {
		c.checks = map[string]chan struct{}{}
	}
	ch := make(chan struct{})
	c.checks[k] = ch
	return nil, func() {
		c.mu.Lock()
		delete(c.checks, k)
		c.mu.Unlock()
		close(ch)
	}
}

// hit returns the recent check of the credentials, if any, renewing it.
func (c *verifiedCache) hit(user, pw string) (cacheEntry, bool) {
	if c.ttl <= 0 {
		return cacheEntry{}, false
	}
	k := c.key(user, pw)
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok || e.user != user {
		c.misses.Add(1)
		return cacheEntry{}, false
	}
	now := time.Now()
	if now.After(e.expires) {
		c.dropLocked(k, user)
		c.misses.Add(1)
		return cacheEntry{}, false
	}
	c.hits.Add(1)
	if !e.negative {
		// Failures do not slide: the pair is checked again once the
		// period is over.
		e.expires = now.Add(c.ttl)
		c.entries[k] = e
	}
	return e, true
}

// remembered returns the last successful check of the credentials even
// when its period is over (a stream's recheck confirms it against the
// stored hash instead of hashing again); entries dropped because the
// account changed are gone.
func (c *verifiedCache) remembered(user, pw string) (cacheEntry, bool) {
	if c.ttl <= 0 {
		return cacheEntry{}, false
	}
	k := c.key(user, pw)
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	return e, ok && e.user == user && !e.negative
}

// put remembers a check of the credentials against hash, passed or
// failed (negative).
func (c *verifiedCache) put(user, pw, hash string, negative bool) {
	if c.ttl <= 0 {
		return
	}
	k := c.key(user, pw)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCacheEntries {
		c.entries = map[string]cacheEntry{}
		c.byUser = map[string]map[string]struct{}{}
	}
	c.entries[k] = cacheEntry{user: user, hash: hash, expires: time.Now().Add(c.ttl), negative: negative}
	if c.byUser[user] == nil {
		c.byUser[user] = map[string]struct{}{}
	}
	c.byUser[user][k] = struct{}{}
}

func (c *verifiedCache) dropLocked(k, user string) {
	delete(c.entries, k)
	if m := c.byUser[user]; m != nil {
		delete(m, k)
		if len(m) == 0 {
			delete(c.byUser, user)
		}
	}
}

// forget drops every cached credential of an account.
func (c *verifiedCache) forget(user string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.byUser[user] {
		delete(c.entries, k)
	}
	delete(c.byUser, user)
}

// clear forgets everything.
func (c *verifiedCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = map[string]cacheEntry{}
	c.byUser = map[string]map[string]struct{}{}
}
