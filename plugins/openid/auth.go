package openid

import (
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-server/nimbus/resource"
)

// method authenticates the bearer tokens of one provider.
type method struct {
	p     *provider
	mac   *resource.MAC
	cache *profiles
}

var (
	_ resource.AuthMethod      = (*method)(nil)
	_ resource.Challenger      = (*method)(nil)
	_ resource.SecurityDefiner = (*method)(nil)
)

// token returns the credential of the request when it is this method's:
// its header type (compared without case), and never a Nimbus token,
// which must not reach a provider.
func (m *method) token(req *resource.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(req.Header().Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, m.p.headerType) || tok == "" {
		return "", false
	}
	if strings.HasPrefix(tok, "nbt_") || strings.HasPrefix(tok, "nbe_") {
		return "", false
	}
	return tok, true
}

// key is the cache key of a token for this provider's settings: an HMAC,
// never the token itself.
func (m *method) key(token string) string {
	return hex.EncodeToString(m.mac.Sum(nil, []byte(m.p.issuer), []byte{0}, []byte(m.p.clientID), []byte{0}, []byte(m.p.audience), []byte{0}, []byte(token)))
}

// Authenticate implements resource.AuthMethod.
func (m *method) Authenticate(req *resource.Request) (string, resource.AuthResult) {
	tok, ok := m.token(req)
	if !ok {
		return "", resource.NotMine
	}
	key := m.key(tok)
	profile := m.cache.get(key, m.p.ttl)
	if profile == nil {
		var err error
		profile, err = m.p.profile(req.Ctx(), tok)
		if err != nil {
			req.Logger().Warn("openid: a token could not be checked", "policy", m.p.name, "error", err)
			return "", resource.Rejected
		}
		if profile == nil {
			return "", resource.Rejected
		}
		m.cache.put(key, profile, m.p.ttl)
	}
	id, ok := profileID(profile[m.p.useridField])
	if !ok {
		return "", resource.Rejected
	}
	return id, resource.Accepted
}

// profileOf returns the profile cached for the request's token, if any.
func (m *method) profileOf(req *resource.Request) map[string]any {
	tok, ok := m.token(req)
	if !ok {
		return nil
	}
	return m.cache.peek(m.key(tok))
}

// Challenge implements resource.Challenger.
func (m *method) Challenge() string {
	return fmt.Sprintf(`%s realm="%s"`, m.p.headerType, m.p.realm)
}

// SecurityDefinitions implements resource.SecurityDefiner.
func (m *method) SecurityDefinitions() map[string]any {
	_, d, _, _ := m.p.discovered()
	def := map[string]any{"type": "oauth2", "flow": "accessCode", "scopes": map[string]any{"openid": "OpenID Connect"}}
	if d.Auth != "" {
		def["authorizationUrl"], def["tokenUrl"] = d.Auth, d.Token
	}
	return map[string]any{m.p.name: def}
}

// profiles caches verified profiles by token key, each for a sliding
// TTL, up to maxProfiles entries (the oldest expiries go first).
type profiles struct {
	mu      sync.Mutex
	entries map[string]cached
}

type cached struct {
	profile map[string]any
	expires time.Time
}

const maxProfiles = 100_000

func newProfiles() *profiles { return &profiles{entries: map[string]cached{}} }

// get returns a live profile and renews its TTL.
func (c *profiles) get(key string, ttl time.Duration) map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return nil
	}
	if time.Now().After(e.expires) {
		delete(c.entries, key)
		return nil
	}
	e.expires = time.Now().Add(ttl)
	c.entries[key] = e
	return e.profile
}

// peek returns a live profile without renewing it.
func (c *profiles) peek(key string) map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok && time.Now().Before(e.expires) {
		return e.profile
	}
	return nil
}

func (c *profiles) put(key string, profile map[string]any, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxProfiles {
		now := time.Now()
		for k, e := range c.entries {
			if now.After(e.expires) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) < maxProfiles {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[key] = cached{profile: profile, expires: time.Now().Add(ttl)}
}
