package defaultbucket_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/config"
	"github.com/nimbus-server/nimbus/plugins"
	"github.com/nimbus-server/nimbus/plugins/defaultbucket"
	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/storage/memory"
)

// TestPersonalBucketHijack: Mallory computes gina's personal bucket id
// and creates that bucket first (security review, row 1). gina's writes
// through /buckets/default must then be refused, never stored where
// Mallory reads them, under the configurations sites run: no
// default_bucket_hmac_secret (Kinto's default), a secret, accounts with
// basicauth after them, buckets readable by every authenticated user, and
// Mallory's bucket inviting anyone to create collections.
func TestPersonalBucketHijack(t *testing.T) {
	type config struct {
		name     string
		settings map[string]string
		gina     string // gina's user id prefix
		invite   string // the ACL Mallory gives her bucket
	}
	var cases []config
	for _, secret := range []string{"", "s3cret"} {
		for _, invite := range []string{`{}`, `{"permissions":{"collection:create":["system.Authenticated"],"read":["system.Everyone"]}}`} {
			cases = append(cases,
				config{"basicauth", map[string]string{"includes": "default_bucket", "default_bucket_hmac_secret": secret}, "basicauth", invite},
				config{"account basicauth, buckets readable", map[string]string{"includes": "default_bucket accounts",
					"default_bucket_hmac_secret": secret, "multiauth.policies": "account basicauth",
					"account_create_principals": "system.Everyone", "account_write_principals": "account:admin",
					"bucket_create_principals": "system.Authenticated", "bucket_read_principals": "system.Authenticated",
					"account_bcrypt_cost": "4"}, "account", invite})
		}
	}
	for _, c := range cases {
		name := c.name + " secret=" + c.settings["default_bucket_hmac_secret"] + " invite=" + c.invite
		t.Run(name, func(t *testing.T) {
			s := apitest.New(t, c.settings)
			mallory, gina := apitest.Basic("mallory", "m-pw-123"), apitest.Basic("gina", "g-pw-123")
			if c.gina == "account" {
				for _, u := range []string{"mallory", "gina"} {
					s.Do(R{Method: "PUT", Path: "/v1/accounts/" + u, Body: `{"data":{"password":"` + u[:1] + `-pw-123"}}`}).Expect(t, 201, 0)
				}
			}
			ginaID := s.Do(R{Method: "GET", Path: "/v1/", Auth: gina}).Body["user"].(map[string]any)["id"].(string)
			target := defaultbucket.BucketID(c.settings["default_bucket_hmac_secret"], ginaID)
			s.Do(R{Method: "PUT", Path: "/v1/buckets/" + target, Auth: mallory, Body: c.invite}).Expect(t, 201, 0)
			for _, req := range []R{
				{Method: "POST", Path: "/v1/buckets/default/collections/diary/records", Body: `{"data":{"secret":"dear diary"}}`},
				{Method: "PUT", Path: "/v1/buckets/default/collections/diary", Body: `{"data":{}}`},
				{Method: "GET", Path: "/v1/buckets/default/collections/diary/records"},
				{Method: "POST", Path: "/v1/batch", Body: `{"requests":[{"method":"POST","path":"/buckets/default/collections/diary/records","body":{"data":{"secret":"x"}}}]}`},
			} {
				req.Auth = gina
				r := s.Do(req)
				if req.Path == "/v1/batch" {
					if !strings.Contains(string(r.Raw), `"status":403`) {
						t.Errorf("batch through the alias: %d %s", r.Status, r.Raw)
					}
					continue
				}
				r.Expect(t, 403, 121)
			}
			if ids := s.Do(R{Method: "GET", Path: "/v1/buckets/" + target + "/collections", Auth: mallory}).Expect(t, 200, 0).IDs(); len(ids) != 0 {
				t.Fatalf("gina's data went into Mallory's bucket: collections %v", ids)
			}
			// Someone else's personal bucket stays theirs too.
			s.Do(R{Method: "POST", Path: "/v1/buckets/default/collections/notes/records", Auth: mallory, Body: `{"data":{}}`}).Expect(t, 201, 0)
		})
	}
}

// TestEmptySecretWarns: a start without default_bucket_hmac_secret logs
// a warning naming the setting; ids stay Kinto's (HMAC with an empty key).
func TestEmptySecretWarns(t *testing.T) {
	for _, secret := range []string{"", "s3"} {
		var logs bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&logs, nil))
		_, err := plugins.NewApp(config.New(map[string]string{"includes": "default_bucket", "multiauth.policies": "basicauth",
			"userid_hmac_secret": "x", "default_bucket_hmac_secret": secret}), memory.New(), logger, nil)
		if err != nil {
			t.Fatal(err)
		}
		warned := strings.Contains(logs.String(), "level=WARN") && strings.Contains(logs.String(), "default_bucket_hmac_secret")
		if warned != (secret == "") {
			t.Errorf("secret %q: warned %v: %s", secret, warned, logs.String())
		}
	}
	// Ids stay Kinto's: HMAC-SHA256 of the user id keyed with the secret
	// (here empty), its first 32 hex digits as a UUID (value computed
	// with Python's hmac module).
	if got, want := defaultbucket.BucketID("", "account:gina"), "3d73adcf-ede9-1c82-aecd-c4ddd137e309"; got != want {
		t.Errorf("id %q, want %q", got, want)
	}
}
