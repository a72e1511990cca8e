package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/bolt"
)

func writeINI(t *testing.T, body string) string {
	dir := t.TempDir()
	path := filepath.Join(dir, "nimbus.ini")
	body = strings.ReplaceAll(body, "DIR", dir)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const accountsINI = `[app:main]
kinto.includes = accounts
multiauth.policies = account
kinto.storage_backend = bolt
kinto.storage_url = DIR/data.db
account_bcrypt_cost = 4
`

func TestCreateUserCommand(t *testing.T) {
	ini := writeINI(t, accountsINI)
	cases := []struct {
		name  string
		ini   string
		args  []string
		stdin string
		code  int
		out   string
	}{
		{"flags", ini, []string{"-u", "admin", "-p", "pw"}, "", 0, "Account admin created."},
		{"again changes the password", ini, []string{"-u", "admin", "-p", "pw2"}, "", 0, "Password of account admin changed."},
		{"prompts, re-asks on a bad id and on a mismatch", ini, nil, "-bad\nrosa\none\ntwo\nsame\nsame\n", 0, "Account rosa created."},
		{"end of input", ini, nil, "rosa\n", 53, ""},
		{"readonly", writeINI(t, accountsINI+"readonly = true\n"), []string{"-u", "a", "-p", "b"}, "", 51, ""},
		{"no accounts plugin", writeINI(t, "[app:main]\nmultiauth.policies = basicauth\n"), []string{"-u", "a", "-p", "b"}, "", 52, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := createUser(globals{ini: c.ini, explicit: true}, c.args, strings.NewReader(c.stdin), &out, &errb)
			if code != c.code || !strings.Contains(out.String(), c.out) {
				t.Errorf("exit %d (want %d), out %q, err %q", code, c.code, out.String(), errb.String())
			}
		})
	}
}

func TestCommandLine(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Run([]string{"version"}, nil, &out, &errb); code != 0 || strings.TrimSpace(out.String()) != Version {
		t.Errorf("version: %d %q", code, out.String())
	}
	if code := Run([]string{"frobnicate"}, nil, &out, &errb); code != 2 {
		t.Errorf("unknown command: %d", code)
	}
	if code := Run([]string{"--ini", "/nonexistent/x.ini", "migrate"}, nil, &out, &errb); code != 1 {
		t.Errorf("an explicit missing file must fail: %d", code)
	}
	dir := t.TempDir()
	ini := filepath.Join(dir, "conf", "nimbus.ini")
	out.Reset()
	if code := Run([]string{"--ini", ini, "init"}, nil, &out, &errb); code != 0 {
		t.Fatalf("init: %d %s", code, errb.String())
	}
	text, _ := os.ReadFile(ini)
	for _, want := range []string{"multiauth.policies = account", "includes = ", "userid_hmac_secret = ", "account_create_principals = system.Everyone"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("init output lacks %q", want)
		}
	}
	if code := Run([]string{"--ini", ini, "init"}, nil, &out, &errb); code != 1 {
		t.Error("init must refuse to overwrite")
	}
	bad := writeINI(t, "[nimbus]\npaginate_by = lots\nmultiauth.policies = basicauth\n")
	errb.Reset()
	// Port 0: the bad setting must be named whatever listens on 8888.
	if code := Run([]string{"--ini", bad, "serve", "--port", "0"}, nil, &out, &errb); code != 1 || !strings.Contains(errb.String(), "paginate_by") {
		t.Errorf("a bad setting must stop start-up naming it: %d %q", code, errb.String())
	}
	interp := writeINI(t, "[app:main]\nkinto.storage_url = %(nope)s\n")
	errb.Reset()
	if code := Run([]string{"--ini", interp, "serve"}, nil, &out, &errb); code != 1 || !strings.Contains(errb.String(), "nope") {
		t.Errorf("unknown interpolation: %d %q", code, errb.String())
	}
}

func TestPurgeDeleted(t *testing.T) {
	ini := writeINI(t, "[nimbus]\nstorage_url = DIR/data.db\nmultiauth.policies = basicauth\n")
	b, err := bolt.Open(filepath.Join(filepath.Dir(ini), "data.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, parent := range []string{"/buckets/a/collections/c", "/buckets/b/collections/c"} {
		ref := storage.Ref{Resource: "record", Parent: parent}
		b.Update(context.Background(), func(tx storage.Tx) error {
			for i := 0; i < 3; i++ {
				id := fmt.Sprintf("r%d", i)
				if _, err := tx.Create(ref, storage.Object{"id": id}); err != nil {
					return err
				}
				if _, err := tx.Delete(ref, id, 0); err != nil {
					return err
				}
			}
			return nil
		})
	}
	b.Close()
	var out, errb bytes.Buffer
	if code := Run([]string{"--ini", ini, "purge-deleted", "record", "1"}, nil, &out, &errb); code != 0 || !strings.Contains(out.String(), "record: 4 tombstones deleted") {
		t.Errorf("purge-deleted: %d %q %q", code, out.String(), errb.String())
	}
	if code := Run([]string{"--ini", ini, "purge-deleted", "record", "x"}, nil, &out, &errb); code != 1 {
		t.Error("a bad max-retained must fail")
	}
	if code := Run([]string{"flush-cache"}, nil, &out, &errb); code != 0 {
		t.Error("flush-cache")
	}
}

// TestDeclaredSettings checks the three places a plugin's declared
// settings show up: start-up refuses a value of the wrong type naming the
// setting, "nimbus init" writes them commented with their defaults, and
// docs/settings.md is the current output of "nimbus settings --doc".
func TestDeclaredSettings(t *testing.T) {
	cases := []struct {
		name, ini, want string
	}{
		{"integer", "[nimbus]\nstorage_backend = memory\nincludes = history\nmultiauth.policies = basicauth\nhistory.auto_trim_threshold = lots\n", "history.auto_trim_threshold"},
		{"boolean", "[nimbus]\nstorage_backend = memory\nincludes = accounts\nmultiauth.policies = account\naccount_tokens_enabled = maybe\n", "account_tokens_enabled"},
		{"one of", "[nimbus]\nstorage_backend = memory\nincludes = accounts\nmultiauth.policies = account\naccount_session_cookie_samesite = Sometimes\n", "account_session_cookie_samesite"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Run([]string{"--ini", writeINI(t, c.ini), "serve", "--port", "0"}, nil, &out, &errb)
			if code != 1 || !strings.Contains(errb.String(), c.want) {
				t.Errorf("exit %d, stderr %q: want 1 and a message naming %s", code, errb.String(), c.want)
			}
		})
	}
	var out, errb bytes.Buffer
	ini := filepath.Join(t.TempDir(), "nimbus.ini")
	if code := Run([]string{"--ini", ini, "init"}, nil, &out, &errb); code != 0 {
		t.Fatalf("init: %d %s", code, errb.String())
	}
	text, _ := os.ReadFile(ini)
	if !strings.Contains(string(text), "# account_token_ttl_seconds = 86400") {
		t.Errorf("init lists the included plugins' settings with their defaults:\n%s", text)
	}
	out.Reset()
	if code := Run([]string{"settings", "--doc"}, nil, &out, &errb); code != 0 {
		t.Fatalf("settings: %d", code)
	}
	doc, err := os.ReadFile("../../../docs/settings.md")
	if err != nil || string(doc) != out.String() {
		t.Errorf("docs/settings.md is not the output of `nimbus settings --doc` (run: go run ./cmd/nimbus settings --doc > docs/settings.md)")
	}
}
