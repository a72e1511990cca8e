package basicauth_test

import (
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/config"
	"github.com/nimbus-server/nimbus/plugins"
	"github.com/nimbus-server/nimbus/storage/memory"
)

// TestEmptySecretRefused: a configuration with the basicauth policy and
// no userid_hmac_secret does not start (security review, row 15), under
// every name Kinto's .ini files give the policy; with a secret it does.
// Commands that serve no request (export, import) still build the app.
func TestEmptySecretRefused(t *testing.T) {
	cases := []struct {
		name     string
		settings map[string]string
		wantErr  bool
	}{
		{"basicauth, no secret", map[string]string{"multiauth.policies": "basicauth"}, true},
		{"account basicauth, no secret", map[string]string{"multiauth.policies": "account basicauth", "includes": "accounts"}, true},
		{"Kinto's dotted name, no secret", map[string]string{"multiauth.policies": "basic",
			"multiauth.policy.basic.use": "kinto.core.authentication.BasicAuthAuthenticationPolicy"}, true},
		{"basicauth with a secret", map[string]string{"multiauth.policies": "basicauth", "userid_hmac_secret": "s3cret"}, false},
		{"accounts alone, no secret", map[string]string{"multiauth.policies": "account", "includes": "accounts"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			app, err := plugins.NewApp(config.New(c.settings), memory.New(), nil, nil)
			if err != nil {
				t.Fatalf("maintenance commands build the app whatever the secret: %v", err)
			}
			err = app.CheckServe()
			if c.wantErr {
				if err == nil || !strings.Contains(err.Error(), "userid_hmac_secret") {
					t.Fatalf("started, or the error does not name the setting: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
		})
	}
}
