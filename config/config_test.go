package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, text string) string {
	p := filepath.Join(t.TempDir(), "x.ini")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const kintoINI = `# A Kinto file
[app:main]
use = egg:kinto
pyramid.debug_notfound = false
kinto.storage_backend = kinto.core.storage.memory
kinto.paginate_by = 20
kinto.storage_url = %(here)s/db
multiauth.policies = account
multiauth.policy.account.use = kinto.plugins.accounts.AccountsPolicy
kinto.bucket_create_principals = system.Authenticated
    account:admin
kinto.url = http://localhost:%(http_port)s/v1

[server:main]
use = egg:waitress#main
host = 0.0.0.0
port = 9999

[loggers]
keys = root
`

func TestKintoINI(t *testing.T) {
	p := write(t, kintoINI)
	s, err := Load(p, true, []string{"NIMBUS_PAGINATE_BY=5", "NIMBUS_MULTIAUTH_POLICIES=basicauth", "OTHER=1"}, "")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"storage_backend":              "kinto.core.storage.memory",
		"paginate_by":                  "5",
		"multiauth.policies":           "basicauth",
		"multiauth.policy.account.use": "kinto.plugins.accounts.AccountsPolicy",
		"storage_url":                  filepath.Dir(p) + "/db",
		"url":                          "http://localhost:9999/v1",
		"bind_host":                    "0.0.0.0",
		"bind_port":                    "9999",
		"project_name":                 "nimbus",
	}
	for k, want := range cases {
		if got := s.String(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if got := s.List("bucket_create_principals"); len(got) != 2 || got[1] != "account:admin" {
		t.Errorf("multi-line list: %v", got)
	}
	if s.Hash == "" || s.Path != p {
		t.Error("file metadata")
	}
	withPort, _ := Load(p, true, nil, "7777")
	if withPort.String("bind_port") != "7777" || withPort.String("url") != "http://localhost:7777/v1" {
		t.Errorf("--port: %s %s", withPort.String("bind_port"), withPort.String("url"))
	}
}

func TestErrors(t *testing.T) {
	if _, err := Load("/nonexistent.ini", true, nil, ""); err == nil {
		t.Error("explicit missing file")
	}
	if s, err := Load("/nonexistent.ini", false, nil, ""); err != nil || s.Path != "" {
		t.Error("implicit missing file is fine")
	}
	if _, err := Load(write(t, "[nimbus]\nkinto.paginate_by = 1\npaginate_by = 2\n"), true, nil, ""); err == nil || !strings.Contains(err.Error(), "in conflict") {
		t.Errorf("conflict: %v", err)
	}
	for _, dup := range []struct{ text, want string }{
		{"[nimbus]\nuserid_hmac_secret = a\npaginate_by = 1\nuserid_hmac_secret = b\n", "userid_hmac_secret is set twice in [nimbus] (first on line 2)"},
		{"[nimbus]\nuserid_hmac_secret = a\nUserid_HMAC_Secret = a\n", "Userid_HMAC_Secret is set twice"},
		{"[app:main]\nkinto.paginate_by = 1\n[server:main]\nport = 1\n[app:main]\nkinto.includes = x\n", "section [app:main] appears twice (first on line 1)"},
		{"[server:main]\nport = 1\nport = 2\n[nimbus]\n", "port is set twice in [server:main]"},
	} {
		if _, err := Load(write(t, dup.text), true, nil, ""); err == nil || !strings.Contains(err.Error(), dup.want) {
			t.Errorf("%q: %v, want %q", dup.text, err, dup.want)
		}
	}
	// Sections Nimbus does not read (logging) may repeat what they like.
	if _, err := Load(write(t, "[nimbus]\npaginate_by = 1\n[logger_root]\nlevel = INFO\nlevel = DEBUG\n[logger_root]\n"), true, nil, ""); err != nil {
		t.Errorf("unread sections: %v", err)
	}
	if _, err := Load(write(t, "[nimbus]\nx = %(what)s\n"), true, nil, ""); err == nil {
		t.Error("unknown interpolation")
	}
	if _, err := Load(write(t, "[nimbus]\njust a line\n"), true, nil, ""); err == nil {
		t.Error("malformed line")
	}
	s := New(map[string]string{"a": "x", "b": "maybe", "c": `"quoted"`, "d": "yes", "e": "null"})
	s.Int("a")
	s.Bool("b")
	if s.String("c") != "quoted" || !s.Bool("d") {
		t.Error("value typing")
	}
	if _, ok := s.Int("e"); ok {
		t.Error("null reads as unset")
	}
	if err := s.Err(); err == nil || !strings.Contains(err.Error(), "setting a") || !strings.Contains(err.Error(), "setting b") {
		t.Errorf("typed errors: %v", err)
	}
}

func TestIntDefault(t *testing.T) {
	s := New(map[string]string{"set": "7", "empty": ""})
	s.SetDefault("declared", "30")
	s.SetDefault("empty", "5")
	for key, want := range map[string]int{"set": 7, "declared": 30, "empty": 5, "unknown": 0} {
		if got := s.IntDefault(key); got != want {
			t.Errorf("IntDefault(%s) = %d, want %d", key, got, want)
		}
	}
	bad := New(map[string]string{"n": "x"})
	bad.SetDefault("n", "3")
	if bad.IntDefault("n") != 3 || bad.Err() == nil {
		t.Error("a malformed value is reported and reads as the default")
	}
}

// TestKintoEnvironment: KINTO_<KEY> overrides the file as Kinto's own
// variables do, NIMBUS_<KEY> overrides both, and KINTO_INI is no setting.
func TestKintoEnvironment(t *testing.T) {
	p := write(t, kintoINI)
	cases := []struct {
		name    string
		environ []string
		key     string
		want    string
		source  string
	}{
		{"file alone", nil, "paginate_by", "20", "file"},
		{"kinto over file", []string{"KINTO_PAGINATE_BY=1"}, "paginate_by", "1", "environment"},
		{"nimbus over kinto", []string{"NIMBUS_PAGINATE_BY=5", "KINTO_PAGINATE_BY=1"}, "paginate_by", "5", "environment"},
		{"nimbus over kinto, other order", []string{"KINTO_PAGINATE_BY=1", "NIMBUS_PAGINATE_BY=5"}, "paginate_by", "5", "environment"},
		{"kinto over default", []string{"KINTO_BACKOFF=10"}, "backoff", "10", "environment"},
		{"quoted JSON string", []string{`KINTO_EOS="2030-01-01"`}, "eos", "2030-01-01", "environment"},
		{"dotted key", []string{"KINTO_MULTIAUTH_POLICIES=basicauth"}, "multiauth.policies", "basicauth", "environment"},
		{"KINTO_INI is not a setting", []string{"KINTO_INI=/elsewhere.ini"}, "ini", "", ""},
		{"other prefixes ignored", []string{"PAGINATE_BY=3", "KINTOX_PAGINATE_BY=4"}, "paginate_by", "20", "file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := Load(p, true, c.environ, "")
			if err != nil {
				t.Fatal(err)
			}
			if got := s.String(c.key); got != c.want {
				t.Errorf("%s = %q, want %q", c.key, got, c.want)
			}
			if got := s.Source(c.key); got != c.source {
				t.Errorf("source of %s = %q, want %q", c.key, got, c.source)
			}
		})
	}
	// Set (tests use it) still wins over both.
	s, err := Load(p, true, []string{"KINTO_PAGINATE_BY=1"}, "")
	if err != nil {
		t.Fatal(err)
	}
	s.Set("paginate_by", "7")
	if got := s.String("paginate_by"); got != "7" {
		t.Errorf("Set after KINTO_: %q", got)
	}
}
