package cli

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/config"
	"github.com/nimbus-server/nimbus/storage/bolt"
)

// TestKintoIncludesStart: a Kinto configuration file naming each of
// Kinto's plugins by its Kinto name (PLUG-00's includes table) builds a
// server ready to serve; quotas, which Kinto 26 removed, is refused.
func TestKintoIncludesStart(t *testing.T) {
	cases := []struct {
		include string
		extra   string
		fails   bool
		// says is what the error must name.
		says string
	}{
		{include: "kinto.plugins.accounts", extra: "multiauth.policies = account\n"},
		{include: "kinto.plugins.default_bucket"},
		{include: "kinto.plugins.history"},
		{include: "kinto.plugins.admin"},
		{include: "kinto.plugins.flush"},
		{include: "kinto.plugins.counters"},
		{include: "kinto.plugins.prometheus"},
		{include: "kinto.plugins.statsd", extra: "kinto.statsd_url = udp://127.0.0.1:8125\n"},
		{include: "kinto_attachment", extra: "kinto.attachment.base_path = DIR/files\nkinto.attachment.base_url = http://0.0.0.0:8888/attachments\n" +
			"kinto.attachment.folder = {bucket_id}/{collection_id}\nkinto.attachment.keep_old_files = true\nkinto.attachment.extensions = any\n"},
		{include: "kinto_attachment", extra: "kinto.attachment.resources.b.c.randomize = false\nkinto.attachment.resources.b.max_size_bytes = 10\n"},
		{include: "kinto_attachment", extra: "kinto.attachment.resources.b.c.base_url = x\n", fails: true},
		{include: "kinto.plugins.openid", extra: "multiauth.policies = google\nmultiauth.policy.google.use = kinto.plugins.openid.OpenIDConnectPolicy\n" +
			"multiauth.policy.google.issuer = http://127.0.0.1:1\nmultiauth.policy.google.client_id = x\n"},
		{include: "kinto.plugins.openid", extra: "multiauth.policies = google\nmultiauth.policy.google.use = kinto.plugins.openid.OpenIDConnectPolicy\n", fails: true},
		{include: "kinto.plugins.quotas", fails: true, says: "removed the quotas plugin"},
		{include: "kinto.plugins.nope", fails: true, says: `"kinto.plugins.nope", which is not a known plugin`},
	}
	for _, c := range cases {
		t.Run(c.include, func(t *testing.T) {
			ini := writeINI(t, "[app:main]\nkinto.includes = "+c.include+"\nkinto.storage_backend = bolt\nkinto.storage_url = DIR/data.db\n"+
				"kinto.userid_hmac_secret = s\nkinto.default_bucket_hmac_secret = s\n"+c.extra)
			s, err := config.Load(ini, true, os.Environ(), "")
			if err != nil {
				t.Fatal(err)
			}
			b, err := bolt.Open(filepath.Join(t.TempDir(), "x.db"), bolt.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			app, err := buildServer(s, b, slog.New(slog.NewTextHandler(io.Discard, nil)), globals{ini: ini, explicit: true})
			if c.fails != (err != nil) {
				t.Fatalf("building with includes %s: %v (want failure: %v)", c.include, err, c.fails)
			}
			if err != nil && !strings.Contains(err.Error(), c.says) {
				t.Errorf("error %q, want it to say %q", err, c.says)
			}
			if app != nil {
				app.Shutdown()
			}
		})
	}
}
