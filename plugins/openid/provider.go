package openid

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/nimbus-server/nimbus/config"
)

// provider is one configured OpenID Connect policy.
type provider struct {
	name                                     string
	issuer, clientID, clientSecret, audience string
	headerType, useridField, realm           string
	ttl, stateTTL                            time.Duration
	stateLength                              int
	// callbackOrigins, when set, are the origins a login's callback may
	// have besides the server's own (callback_origins).
	callbackOrigins []string

	client *http.Client
	log    *slog.Logger

	// mu guards what discovery found; until it succeeds, op is nil.
	mu       sync.RWMutex
	op       *oidc.Provider
	claims   discovery
	verifier *oidc.IDTokenVerifier
}

// discovery is what Nimbus reads of the provider's configuration.
type discovery struct {
	Issuer   string `json:"issuer"`
	Auth     string `json:"authorization_endpoint"`
	Token    string `json:"token_endpoint"`
	UserInfo string `json:"userinfo_endpoint"`
	JWKS     string `json:"jwks_uri"`
}

// requestTimeout bounds every call to a provider: a provider that does
// not answer makes a request fail, never hang.
const requestTimeout = 10 * time.Second

// readProvider reads the settings of policy name (Kinto's names, under
// multiauth.policy.<name>.).
func readProvider(s *config.Settings, name string, log *slog.Logger) (*provider, error) {
	key := func(k string) string { return "multiauth.policy." + name + "." + k }
	num := func(k string, def int) (int, error) {
		v := strings.TrimSpace(s.String(key(k)))
		if v == "" {
			return def, nil
		}
		var n int
		if _, err := fmt.Sscanf(v, "%d", &n); err != nil || n < 0 {
			return 0, fmt.Errorf("config: setting %s: %q is not a number", key(k), v)
		}
		return n, nil
	}
	p := &provider{name: name, issuer: s.String(key("issuer")), clientID: s.String(key("client_id")),
		clientSecret: s.String(key("client_secret")), audience: s.String(key("audience")),
		headerType: s.String(key("header_type")), useridField: s.String(key("userid_field")), realm: s.String(key("realm")),
		client: &http.Client{Timeout: requestTimeout}, log: log}
	if p.issuer == "" || p.clientID == "" {
		return nil, fmt.Errorf("config: the OpenID Connect policy %s needs %s and %s", name, key("issuer"), key("client_id"))
	}
	if p.headerType == "" {
		p.headerType = "Bearer"
	}
	if p.useridField == "" {
		p.useridField = "sub"
	}
	if p.realm == "" {
		p.realm = "Realm"
	}
	ttl, err := num("verification_ttl_seconds", 86400)
	if err != nil {
		return nil, err
	}
	stateTTL, err := num("state_ttl_seconds", 3600)
	if err != nil {
		return nil, err
	}
	if p.stateLength, err = num("state_length", 32); err != nil {
		return nil, err
	}
	if p.stateLength < 16 {
		return nil, fmt.Errorf("config: setting %s: at least 16 bytes", key("state_length"))
	}
	p.ttl, p.stateTTL = time.Duration(ttl)*time.Second, time.Duration(stateTTL)*time.Second
	for _, o := range strings.Fields(s.String(key("callback_origins"))) {
		u, err := url.Parse(o)
		if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return nil, fmt.Errorf("config: setting %s: %q is not an origin (scheme://host[:port])", key("callback_origins"), o)
		}
		p.callbackOrigins = append(p.callbackOrigins, originOf(u))
	}
	return p, nil
}

// originOf is a URL's origin as compared: lower case, without the
// scheme's default port.
func originOf(u *url.URL) string {
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if scheme == "https" {
		host = strings.TrimSuffix(host, ":443")
	} else if scheme == "http" {
		host = strings.TrimSuffix(host, ":80")
	}
	return scheme + "://" + host
}

// callbackAllowed tells whether a login may send its token to callback:
// any absolute URL unless callback_origins is set (Kinto's rule), else
// one of those origins or the server's own (self).
func (p *provider) callbackAllowed(callback, self string) bool {
	if len(p.callbackOrigins) == 0 {
		return true
	}
	u, err := url.Parse(callback)
	if err != nil {
		return false
	}
	origin := originOf(u)
	if s, err := url.Parse(self); err == nil && origin == originOf(s) {
		return true
	}
	return slices.Contains(p.callbackOrigins, origin)
}

// ctx is a context whose HTTP calls use the provider's client.
func (p *provider) ctx(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(parent, requestTimeout)
	return oidc.ClientContext(ctx, p.client), cancel
}

// discover reads the provider's configuration; it is called at start and
// again until it succeeds.
func (p *provider) discover(parent context.Context) error {
	ctx, cancel := p.ctx(parent)
	defer cancel()
	op, err := oidc.NewProvider(ctx, p.issuer)
	if err != nil {
		return err
	}
	var d discovery
	if err := op.Claims(&d); err != nil {
		return err
	}
	if d.Auth == "" || d.Token == "" || d.UserInfo == "" {
		return errors.New("the provider's configuration lacks an authorization, token or userinfo endpoint")
	}
	// The verifier checks a JWT access token's signature (the provider's
	// keys, fetched and refreshed by go-oidc), issuer, expiry and
	// audience.
	verifier := op.VerifierContext(oidc.ClientContext(context.Background(), p.client), &oidc.Config{ClientID: p.audience})
	p.mu.Lock()
	p.op, p.claims, p.verifier = op, d, verifier
	p.mu.Unlock()
	return nil
}

// discovered returns what discovery found (ok false before it succeeds).
func (p *provider) discovered() (*oidc.Provider, discovery, *oidc.IDTokenVerifier, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.op, p.claims, p.verifier, p.op != nil
}

// keepDiscovering retries discovery with a growing delay until it
// succeeds or stop closes.
func (p *provider) keepDiscovering(stop <-chan struct{}) {
	delay := 2 * time.Second
	for {
		select {
		case <-stop:
			return
		case <-time.After(delay):
		}
		if err := p.discover(context.Background()); err == nil {
			p.log.Info("openid: provider discovered", "policy", p.name, "issuer", p.issuer)
			return
		} else {
			p.log.Warn("openid: provider still unreachable", "policy", p.name, "issuer", p.issuer, "error", err)
		}
		if delay < time.Minute {
			delay *= 2
		}
	}
}

// profile checks a token with the provider: its JWT first when an
// audience is set, then the userinfo endpoint. A nil profile means the
// token was refused; an error means the provider could not answer.
func (p *provider) profile(parent context.Context, token string) (map[string]any, error) {
	_, claims, verifier, ok := p.discovered()
	if !ok {
		if err := p.discover(parent); err != nil {
			return nil, fmt.Errorf("openid: provider %s unreachable: %w", p.name, err)
		}
		_, claims, verifier, _ = p.discovered()
	}
	ctx, cancel := p.ctx(parent)
	defer cancel()
	if p.audience != "" {
		if _, err := verifier.Verify(ctx, token); err != nil {
			p.log.Debug("openid: invalid JWT access token", "policy", p.name, "error", err)
			return nil, nil
		}
	}
	profile, err := p.userinfo(ctx, claims.UserInfo, token)
	if err != nil {
		return nil, fmt.Errorf("openid: userinfo of %s: %w", p.name, err)
	}
	return profile, nil
}
