package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAdminSocketNeverOverwrites asks a running server's admin socket
// for backups onto the live database and onto an existing file (security
// review, row 14): both are refused, and the server keeps serving its
// data.
func TestAdminSocketNeverOverwrites(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	bin := buildNimbus(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "data", "nimbus.db")
	base, stop := startServer(t, bin, dir, db)
	defer stop()
	if code, err := request("PUT", base+"/buckets/b", `{}`); err != nil || code != 201 {
		t.Fatalf("bucket: %d %v", code, err)
	}
	other := filepath.Join(dir, "precious.txt")
	os.WriteFile(other, []byte("keep me"), 0o600)
	before, _ := os.Stat(db)
	for _, target := range []string{db, other, filepath.Join(dir, "data", ".", "nimbus.db")} {
		err := askServer(adminSocket(db), "backup "+target)
		if err == nil {
			t.Fatalf("backup onto %s was accepted", target)
		}
		t.Logf("backup onto %s: %v", target, err)
	}
	if b, _ := os.ReadFile(other); string(b) != "keep me" {
		t.Fatalf("the existing file was overwritten: %q", b)
	}
	after, _ := os.Stat(db)
	if after.Size() != before.Size() {
		t.Fatalf("the live database changed size: %d -> %d", before.Size(), after.Size())
	}
	if code, err := request("GET", base+"/buckets/b", ""); err != nil || code != 200 {
		t.Fatalf("the server no longer serves its data: %d %v", code, err)
	}
	// A fresh path works.
	if err := askServer(adminSocket(db), "backup "+filepath.Join(dir, "fresh.db")); err != nil {
		t.Fatalf("backup to a new file: %v", err)
	}
}

// TestTruncatedBoltFile runs every command that opens a bolt file on a
// truncated copy (operator traps, row 4): each exits 1 with one line
// saying the file is truncated or corrupt, never a fault and a goroutine
// dump, and compact leaves nothing behind.
func TestTruncatedBoltFile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildNimbus(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good", "nimbus.db")
	base, stop := startServer(t, bin, dir, good)
	request("PUT", base+"/buckets/b", `{}`)
	request("PUT", base+"/buckets/b/collections/c", `{}`)
	for i := 0; i < 300; i++ {
		request("PUT", fmt.Sprintf("%s/buckets/b/collections/c/records/r%03d", base, i), `{"data":{"text":"`+strings.Repeat("x", 900)+`"}}`)
	}
	stop()
	whole, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut", "nimbus.db")
	os.MkdirAll(filepath.Dir(cut), 0o750)
	// bbolt grows its file ahead of use: cut inside the pages it uses.
	used := bytes.TrimRight(whole, "\x00")
	os.WriteFile(cut, whole[:len(used)/2], 0o600)
	ini := filepath.Join(dir, "cut.ini")
	os.WriteFile(ini, []byte("[nimbus]\nbind_host = 127.0.0.1\nbind_port = 0\nstorage_backend = bolt\nstorage_url = "+cut+
		"\nmultiauth.policies = basicauth\nuserid_hmac_secret = s\n"), 0o600)
	for _, args := range [][]string{{"serve"}, {"export", "-o", filepath.Join(dir, "out.jsonl")}, {"compact"},
		{"backup", filepath.Join(dir, "b.db")}, {"migrate"}} {
		code, text := runBinary(t, bin, append([]string{"--ini", ini}, args...)...)
		if code != 1 || !strings.Contains(text, "truncated or corrupt") || strings.Contains(text, "goroutine") ||
			strings.Count(text, "\n") > 1 {
			t.Errorf("%v on a truncated file: exit %d\n%.400s", args, code, text)
		}
	}
	if _, err := os.Stat(cut + ".compact"); err == nil {
		t.Error("compact left its temporary file behind")
	}
	// restore of a truncated backup is refused; restore over a truncated
	// live file (the usual repair) works.
	rini := filepath.Join(dir, "restore.ini")
	os.WriteFile(rini, []byte("[nimbus]\nstorage_backend = bolt\nstorage_url = "+filepath.Join(dir, "target", "nimbus.db")+"\n"), 0o600)
	if code, text := runBinary(t, bin, "--ini", rini, "restore", cut); code == 0 || !strings.Contains(text, "truncated or corrupt") {
		t.Errorf("restore of a truncated backup: exit %d %s", code, text)
	}
	if code, text := runBinary(t, bin, "--ini", ini, "restore", good); code != 0 {
		t.Errorf("restore over a truncated file: exit %d %s", code, text)
	}
}

// runBinary runs the built binary in the package's folder; see runWith.
func runBinary(t *testing.T, bin string, args ...string) (int, string) {
	t.Helper()
	return runWith(t, "", nil, bin, args...)
}

// runWith runs the built binary in dir (the package's when empty) with env
// added to the environment, for at most 30 s, and returns its exit status
// and what it printed, trimmed.
func runWith(t *testing.T, dir string, env []string, bin string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Run()
	return cmd.ProcessState.ExitCode(), strings.TrimSpace(out.String())
}

// TestOnlineBackupDeepPath: a data file whose socket path beside it would
// be over the Unix limit still gets its online backup (row 11).
func TestOnlineBackupDeepPath(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	bin := buildNimbus(t)
	dir := filepath.Join(t.TempDir(), strings.Repeat("deep-folder-", 10))
	db := filepath.Join(dir, "data", "nimbus.db")
	if len(db+".admin.sock") < 108 {
		t.Fatalf("the path is not deep enough: %d bytes", len(db))
	}
	base, stop := startServer(t, bin, t.TempDir(), db)
	defer stop()
	if code, err := request("PUT", base+"/buckets/b", `{}`); err != nil || code != 201 {
		t.Fatalf("bucket: %d %v", code, err)
	}
	ini := filepath.Join(t.TempDir(), "b.ini")
	os.WriteFile(ini, []byte("[nimbus]\nstorage_backend = bolt\nstorage_url = "+db+"\n"), 0o600)
	copyPath := filepath.Join(t.TempDir(), "copy.db")
	if code, out := runBinary(t, bin, "--ini", ini, "backup", copyPath); code != 0 || !strings.Contains(out, "written to") {
		t.Fatalf("online backup of a deep file: exit %d %s", code, out)
	}
}
