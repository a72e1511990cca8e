package openid

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/nimbus-server/nimbus/resource"
)

// Plugin is the openid plugin (PLUG-OIDC).
type Plugin struct {
	providers map[string]*provider
	methods   []*method
	// states bounds the logins waiting for their code (views.go).
	states stateKeeper
}

// Name implements resource.Plugin.
func (*Plugin) Name() string { return "openid" }

// isOpenID tells whether a multiauth.policy.<p>.use value names this
// plugin's policy (Kinto's class path, or Nimbus's short name).
func isOpenID(use string) bool {
	return use == "openid" || strings.HasSuffix(use, "OpenIDConnectPolicy")
}

// Register implements resource.Plugin.
func (pl *Plugin) Register(r *resource.Registry) error {
	s := r.Settings()
	log := r.Logger()
	pl.providers = map[string]*provider{}
	secret := s.String("userid_hmac_secret")
	var infos []any
	stop := make(chan struct{})
	for _, name := range s.List("multiauth.policies") {
		if !isOpenID(s.String("multiauth.policy." + name + ".use")) {
			continue
		}
		p, err := readProvider(s, name, log)
		if err != nil {
			return err
		}
		pl.providers[name] = p
		m := &method{p: p, mac: resource.NewMAC([]byte(secret)), cache: newProfiles()}
		pl.methods = append(pl.methods, m)
		// Nimbus starts when a provider is down (Kinto would not): it
		// says so, and keeps trying.
		if err := p.discover(context.Background()); err != nil {
			log.Error("openid: the provider cannot be reached; its users are refused until it is", "policy", name, "issuer", p.issuer, "error", err)
			go p.keepDiscovering(stop)
		}
		_, d, _, _ := p.discovered()
		issuer := d.Issuer
		if issuer == "" {
			issuer = p.issuer
		}
		infos = append(infos, map[string]any{"name": name, "issuer": issuer, "auth_path": "/openid/" + name + "/login",
			"client_id": p.clientID, "audience": p.audience, "header_type": p.headerType, "userinfo_endpoint": d.UserInfo})
	}
	r.OnShutdown(func() { close(stop) })
	byName := map[string]*method{}
	for _, m := range pl.methods {
		byName[m.p.name] = m
	}
	r.AddAuthMethod([]string{"openid", "OpenIDConnectPolicy"}, func(policy string) (resource.AuthMethod, error) {
		m, ok := byName[policy]
		if !ok {
			return nil, fmt.Errorf("the OpenID Connect policy %s is not configured", policy)
		}
		return m, nil
	})
	if len(pl.providers) == 0 {
		return nil
	}
	r.AddServeCheck(func() error {
		if secret == "" {
			return errors.New("config: the openid policies need userid_hmac_secret (the key of their token cache)")
		}
		return nil
	})
	if err := r.AddCapability("openid", "OpenID connect support.", "http://kinto.readthedocs.io/en/stable/api/1.x/authentication.html",
		map[string]any{"providers": infos}); err != nil {
		return err
	}
	r.AddUserInfo(func(req *resource.Request, user map[string]any) {
		profile := map[string]any{}
		if m, ok := byName[req.Identity().Policy]; ok {
			if p := m.profileOf(req); p != nil {
				profile = p
			}
		}
		user["profile"] = profile
	})
	r.AddHeartbeat("openid", func(ctx context.Context) error {
		for _, p := range pl.providers {
			if _, _, _, ok := p.discovered(); !ok {
				return fmt.Errorf("provider %s not discovered yet", p.name)
			}
		}
		return nil
	})
	for _, rt := range []struct {
		path    string
		handler func(*resource.Request) error
		summary string
	}{
		{"/openid/:provider/login", pl.login, "Begin an OpenID Connect login (redirects to the provider)."},
		{"/openid/:provider/token", pl.token, "End an OpenID Connect login (redirects to the callback with the tokens)."},
	} {
		// NoBatch: the token exchange calls the provider, which must not
		// happen inside a batch's transaction.
		if err := r.AddRoute(resource.Route{Method: http.MethodGet, Path: rt.path, Handler: rt.handler, Summary: rt.summary, NoBatch: true}); err != nil {
			return err
		}
	}
	return nil
}
