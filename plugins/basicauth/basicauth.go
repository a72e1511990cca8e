package basicauth

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/nimbus-server/nimbus/resource"
)

// Plugin registers the basicauth method.
type Plugin struct{}

// Name implements resource.Plugin.
func (Plugin) Name() string { return "basicauth" }

// Aliases are the names multiauth.policy.<name>.use accepts for it.
var Aliases = []string{"basicauth", "kinto.core.authentication.BasicAuthAuthenticationPolicy", "BasicAuthAuthenticationPolicy"}

// Register implements resource.Plugin.
func (Plugin) Register(r *resource.Registry) error {
	secret := r.Settings().String("userid_hmac_secret")
	used := ""
	r.AddAuthMethod(Aliases, func(policy string) (resource.AuthMethod, error) {
		used = policy
		return Method{Secret: secret, mac: resource.NewMAC([]byte(secret))}, nil
	})
	r.AddServeCheck(func() error {
		// With an empty key, a Basic user id is an unkeyed hash of the
		// password: anyone who reads a principal could crack it offline.
		if used != "" && secret == "" {
			return fmt.Errorf("config: the %s policy needs userid_hmac_secret (a long random value, the same on every instance: "+
				"\"openssl rand -hex 32\"); without it Basic user ids are unkeyed hashes of passwords", used)
		}
		return nil
	})
	for _, name := range r.Settings().List("multiauth.policies") {
		use := r.Settings().String("multiauth.policy." + name + ".use")
		if (use == "" && name == "basicauth") || slices.Contains(Aliases, use) {
			return r.AddCapability("basicauth", "Very basic authentication sessions. Not for production use.",
				"http://kinto.readthedocs.io/en/stable/api/1.x/authentication.html", nil)
		}
	}
	return nil
}

// Method authenticates Basic credentials by their HMAC.
type Method struct {
	Secret string
	mac    *resource.MAC // NewMAC(Secret), set by the plugin; nil: made per call
}

// Authenticate implements resource.AuthMethod.
func (m Method) Authenticate(r *resource.Request) (string, resource.AuthResult) {
	user, pass, ok, valid := r.BasicAuth()
	if !ok {
		return "", resource.NotMine
	}
	if !valid || user == "" {
		return "", resource.Rejected
	}
	mac := m.mac
	if mac == nil {
		mac = resource.NewMAC([]byte(m.Secret))
	}
	var buf [sha256.Size]byte
	return hex.EncodeToString(mac.Sum(buf[:0], []byte(user), []byte{':'}, []byte(pass))), resource.Accepted
}

// Challenge implements resource.Challenger.
func (Method) Challenge() string { return `Basic realm="Realm"` }
