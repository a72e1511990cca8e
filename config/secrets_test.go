package config

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestConfigHashHidesSecrets: the config hash the root URL shows to
// anyone (security review, row 17) is the same whatever the secrets and
// URL passwords are, and changes with any other setting.
func TestConfigHashHidesSecrets(t *testing.T) {
	base := "[nimbus]\nuserid_hmac_secret = %s\nmail.password = %s\nstorage_url = postgresql://nimbus:%s@db/nimbus\n" +
		"default_bucket_hmac_secret =\n    %s\npaginate_by = %s\n"
	hash := func(secret, page string) string {
		path := filepath.Join(t.TempDir(), "nimbus.ini")
		os.WriteFile(path, []byte(fmt.Sprintf(base, secret, secret, secret, secret, page)), 0o600)
		s, err := Load(path, true, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		return s.Hash
	}
	a, b := hash("guess-one", "10"), hash("another-guess", "10")
	if a != b {
		t.Fatalf("the hash depends on the secrets: %s vs %s", a, b)
	}
	if c := hash("guess-one", "20"); c == a {
		t.Fatal("the hash does not change when a plain setting changes")
	}
}

func TestMask(t *testing.T) {
	cases := []struct{ key, value, want string }{
		{"storage_url", "postgresql://nimbus:hunter2@localhost:5432/nimbus", "postgresql://nimbus:****@localhost:5432/nimbus"},
		{"storage_url", "postgresql://nimbus@localhost/nimbus", "postgresql://nimbus@localhost/nimbus"},
		{"storage_url", "host=db user=x password=y", "host=db user=x password=****"},
		{"storage_url", "host=db password='a b' sslmode=require", "host=db password=**** sslmode=require"},
		{"storage_url", "postgresql://nimbus@db/nimbus?password=hunter2&sslmode=require", "postgresql://nimbus@db/nimbus?password=****&sslmode=require"},
		{"storage_url", "postgresql://db/nimbus?sslmode=require&Password=hunter2#x", "postgresql://db/nimbus?sslmode=require&Password=****#x"},
		{"storage_url", "postgresql://nimbus:hunter2@db/nimbus?password=again&connect_timeout=3", "postgresql://nimbus:****@db/nimbus?password=****&connect_timeout=3"},
		{"storage_url", "password=y host=db", "password=**** host=db"},
		{"storage_url", "x=1 storage_url=password=y", "x=1 storage_url=password=****"},
		{"error", "cannot reach postgresql://db/x: password=y rejected", "cannot reach postgresql://db/x: password=**** rejected"},
		{"cache_url", "redis://:p%40ss@cache:6379/0", "redis://:****@cache:6379/0"},
		{"userid_hmac_secret", "abc", "****"},
		{"mail.password", "", ""},
		{"paginate_by", "10", "10"},
	}
	for _, c := range cases {
		if got := Mask(c.key, c.value); got != c.want {
			t.Errorf("Mask(%s, %q) = %q, want %q", c.key, c.value, got, c.want)
		}
	}
}
