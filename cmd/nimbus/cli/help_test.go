package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHelpNeverActs: every command given --help (or -h) prints its usage
// and exits 0 without acting (compact --help compacted the database);
// --version and version print the version (operator traps, row 8). An
// invalid id given to create-user is an error without a prompt, and
// purge-deleted names an unknown resource (row 13).
func TestHelpNeverActs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin, dir := buildNimbus(t), t.TempDir()
	db := filepath.Join(dir, "data", "nimbus.db")
	base, stop := startServer(t, bin, dir, db)
	request("PUT", base+"/buckets/b", `{}`)
	stop()
	ini := filepath.Join(dir, "n.ini")
	os.WriteFile(ini, []byte("[nimbus]\nstorage_backend = bolt\nstorage_url = "+db+"\nuserid_hmac_secret = s\n"+
		"includes = accounts\nmultiauth.policies = account\n"), 0o600)
	before, _ := os.ReadFile(db)
	run := func(args ...string) (int, string, string) {
		cmd := exec.Command(bin, append([]string{"--ini", ini}, args...)...)
		cmd.Dir = dir
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		cmd.Run()
		return cmd.ProcessState.ExitCode(), out.String(), errb.String()
	}
	for _, c := range []string{"serve", "start", "migrate", "init", "create-user", "purge-deleted", "flush-cache", "settings",
		"backup", "restore", "compact", "export", "import", "version"} {
		for _, flag := range []string{"--help", "-h"} {
			code, out, errOut := run(c, flag)
			if code != 0 || !strings.Contains(out, "usage: nimbus") || !strings.Contains(out, c) {
				t.Errorf("%s %s: exit %d\n%s%s", c, flag, code, out, errOut)
			}
		}
	}
	if after, _ := os.ReadFile(db); string(after) != string(before) {
		t.Error("a --help changed the database")
	}
	if _, err := os.Stat(filepath.Join(dir, "config")); err == nil {
		t.Error("init --help wrote a file")
	}
	for _, args := range [][]string{{"--version"}, {"version"}} {
		if code, out, _ := run(args...); code != 0 || strings.TrimSpace(out) != Version {
			t.Errorf("%v: exit %d %q", args, code, out)
		}
	}
	if code, out, errOut := run("create-user", "-u", "bad id!", "-p", "x-pw-1234"); code != 1 ||
		strings.Contains(out+errOut, "Username:") || !strings.Contains(errOut, "not a valid account id") {
		t.Errorf("create-user with a bad id: exit %d %q %q", code, out, errOut)
	}
	if code, _, errOut := run("purge-deleted", "bogus", "0"); code != 1 || !strings.Contains(errOut, `"bogus"`) {
		t.Errorf("purge-deleted of an unknown resource: exit %d %q", code, errOut)
	}
	if code, out, _ := run("purge-deleted", "record", "0"); code != 0 || !strings.Contains(out, "record: 0 tombstones deleted") {
		t.Errorf("purge-deleted record: exit %d %q", code, out)
	}
}
