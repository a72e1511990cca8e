package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

// zeroServer runs `nimbus serve` with no configuration file (or with
// the one args name) in dir, with env added, and waits for it.
func zeroServer(t *testing.T, bin, dir string, env []string, args ...string) (base string, stop func()) {
	t.Helper()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	var logs bytes.Buffer
	cmd := exec.Command(bin, append(args, "serve", "--port", fmt.Sprint(port))...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cmd.Process.Signal(os.Interrupt)
			cmd.Wait()
		}
	}
	t.Cleanup(stop)
	base = fmt.Sprintf("http://127.0.0.1:%d/v1", port)
	for i := 0; i < 200; i++ {
		if res, err := http.Get(base + "/__lbheartbeat__"); err == nil {
			res.Body.Close()
			return base, stop
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	t.Fatalf("the server did not start: %s", logs.String())
	return "", nil
}

// ask sends one request as user:password and decodes the answer.
func ask(t *testing.T, method, url, user, body string) (int, map[string]any) {
	t.Helper()
	res, raw := send(t, method, url, user, body)
	var out map[string]any
	json.Unmarshal(raw, &out)
	return res.StatusCode, out
}

// users are an account and a basicauth user (any Basic pair that is no
// account): the ids of the second derive from userid_hmac_secret, the
// personal buckets of both from default_bucket_hmac_secret.
var users = []string{"rosa:rosa-pw-123", "bob:bob-pw-456"}

// accountAndBasic makes the zero-configuration start accept Basic
// credentials that are no account, as a Kinto-style site does.
var accountAndBasic = []string{"NIMBUS_MULTIAUTH_POLICIES=account basicauth"}

// writeDiaries signs rosa up and has each user write a record through
// /buckets/default; it returns, per user, their id and the record ids.
func writeDiaries(t *testing.T, base string) map[string]string {
	t.Helper()
	if code, body := ask(t, "PUT", base+"/accounts/rosa", "", `{"data":{"password":"rosa-pw-123"}}`); code != 201 {
		t.Fatalf("sign-up: %d %v", code, body)
	}
	out := map[string]string{}
	for _, u := range users {
		code, body := ask(t, "POST", base+"/buckets/default/collections/diary/records", u, `{"data":{"text":"dear diary"}}`)
		if code != 201 {
			t.Fatalf("%s writes: %d %v", u, code, body)
		}
		out[u] = seen(t, base, u)
	}
	return out
}

// seen is what a user finds through /buckets/default: their id and
// their records.
func seen(t *testing.T, base, user string) string {
	t.Helper()
	_, root := ask(t, "GET", base+"/", user, "")
	who, _ := root["user"].(map[string]any)
	code, list := ask(t, "GET", base+"/buckets/default/collections/diary/records", user, "")
	var ids []string
	if items, ok := list["data"].([]any); ok {
		for _, it := range items {
			ids = append(ids, fmt.Sprint(it.(map[string]any)["id"]))
		}
	}
	sort.Strings(ids)
	return fmt.Sprintf("%v %v %d %v", who["id"], who["bucket"], code, ids)
}

func sameView(t *testing.T, step, base string, before map[string]string) {
	t.Helper()
	for _, u := range users {
		if now := seen(t, base, u); now != before[u] {
			t.Errorf("%s: %s sees %q, saw %q", step, strings.Split(u, ":")[0], now, before[u])
		}
	}
}

// TestSecretsSurviveInit: a zero-configuration start, then `nimbus init`
// and a start on its file: every user keeps their id, personal bucket
// and records (operator traps, row 1).
func TestSecretsSurviveInit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	bin, dir := buildNimbus(t), t.TempDir()
	base, stop := zeroServer(t, bin, dir, accountAndBasic)
	before := writeDiaries(t, base)
	stop()
	if out, err := runIn(dir, bin, "init"); err != nil {
		t.Fatalf("init: %v %s", err, out)
	}
	base, _ = zeroServer(t, bin, dir, accountAndBasic, "--ini", "config/nimbus.ini")
	sameView(t, "after init", base, before)
}

// TestSecretsSharedOnPostgreSQL: the README's PostgreSQL steps with no
// configuration file (environment variables), two instances and a
// restart: all see the same ids, buckets and records (row 2).
func TestSecretsSharedOnPostgreSQL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	pg := pgtest.Start(t)
	env := append([]string{"NIMBUS_STORAGE_BACKEND=postgresql", "NIMBUS_STORAGE_URL=" + pg.NewDatabase(t)}, accountAndBasic...)
	bin := buildNimbus(t)
	a, stopA := zeroServer(t, bin, t.TempDir(), env)
	b, _ := zeroServer(t, bin, t.TempDir(), env)
	before := writeDiaries(t, a)
	sameView(t, "second instance", b, before)
	stopA()
	a, _ = zeroServer(t, bin, t.TempDir(), env)
	sameView(t, "restarted instance", a, before)
}

// TestSecretsTravel: export from bolt and import into PostgreSQL, and a
// backup restored in another folder, keep every user's view (row 3).
func TestSecretsTravel(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	bin, dir := buildNimbus(t), t.TempDir()
	base, stop := zeroServer(t, bin, dir, accountAndBasic)
	before := writeDiaries(t, base)
	stop()
	export := filepath.Join(t.TempDir(), "export.jsonl")
	if out, err := runIn(dir, bin, "export", "-o", export); err != nil {
		t.Fatalf("export: %v %s", err, out)
	}
	t.Run("export to PostgreSQL", func(t *testing.T) {
		pg := pgtest.Start(t)
		env := append([]string{"NIMBUS_STORAGE_BACKEND=postgresql", "NIMBUS_STORAGE_URL=" + pg.NewDatabase(t)}, accountAndBasic...)
		// The target was started once already: it generated secrets of
		// its own, which the import replaces (it holds no data yet).
		_, stopPG := zeroServer(t, bin, t.TempDir(), env)
		stopPG()
		cmd := exec.Command(bin, "import", export)
		cmd.Dir, cmd.Env = t.TempDir(), append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("import: %v %s", err, out)
		}
		pgBase, _ := zeroServer(t, bin, t.TempDir(), env)
		sameView(t, "after export to PostgreSQL", pgBase, before)
	})
	t.Run("backup restored elsewhere", func(t *testing.T) {
		backup := filepath.Join(t.TempDir(), "backup.db")
		if out, err := runIn(dir, bin, "backup", backup); err != nil {
			t.Fatalf("backup: %v %s", err, out)
		}
		other := t.TempDir()
		if out, err := runIn(other, bin, "restore", backup); err != nil {
			t.Fatalf("restore: %v %s", err, out)
		}
		restored, _ := zeroServer(t, bin, other, accountAndBasic)
		sameView(t, "after backup and restore", restored, before)
	})
}

// runIn runs the binary in dir.
func runIn(dir, bin string, args ...string) ([]byte, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	return cmd.CombinedOutput()
}

// TestOperatorFiles: a cut export is reported (row 9), a failed start
// leaves no file behind and init does not write into the source tree
// (row 12), an import that would change users' ids is refused.
func TestOperatorFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin, dir := buildNimbus(t), t.TempDir()
	base, stop := zeroServer(t, bin, dir, accountAndBasic)
	writeDiaries(t, base)
	stop()
	export := filepath.Join(t.TempDir(), "export.jsonl")
	if out, err := runIn(dir, bin, "export", "-o", export); err != nil {
		t.Fatalf("export: %v %s", err, out)
	}
	whole, _ := os.ReadFile(export)
	lines := strings.SplitAfter(strings.TrimSpace(string(whole)), "\n")
	t.Run("a file cut at a line boundary", func(t *testing.T) {
		cut := filepath.Join(t.TempDir(), "cut.jsonl")
		os.WriteFile(cut, []byte(strings.Join(lines[:len(lines)-2], "")), 0o600)
		out, err := runIn(t.TempDir(), bin, "import", cut)
		if err == nil || !strings.Contains(string(out), "cut") || !strings.Contains(string(out), "were written") {
			t.Fatalf("import of a cut file: %v %s", err, out)
		}
	})
	t.Run("a file cut mid-line, then the whole file", func(t *testing.T) {
		target := t.TempDir()
		cut := filepath.Join(t.TempDir(), "cut.jsonl")
		os.WriteFile(cut, whole[:len(whole)-len(lines[len(lines)-1])-10], 0o600)
		out, err := runIn(target, bin, "import", cut)
		if err == nil || !strings.Contains(string(out), "resumes") {
			t.Fatalf("import of a file cut mid-line: %v %s", err, out)
		}
		if out, err := runIn(target, bin, "import", export); err != nil {
			t.Fatalf("import of the whole file after a cut one: %v %s", err, out)
		}
	})
	t.Run("an import into a database with other users", func(t *testing.T) {
		other := t.TempDir()
		b, stop := zeroServer(t, bin, other, accountAndBasic)
		ask(t, "PUT", b+"/buckets/theirs", "carol:carol-pw", `{}`)
		stop()
		out, err := runIn(other, bin, "import", export)
		if err == nil || !strings.Contains(string(out), "another userid_hmac_secret") {
			t.Fatalf("import over other secrets: %v %s", err, out)
		}
	})
	t.Run("a failed start leaves nothing", func(t *testing.T) {
		empty := t.TempDir()
		cmd := exec.Command(bin, "serve", "--port", "99999")
		cmd.Dir = empty
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Fatalf("serve on a bad port started: %s", out)
		}
		cmd = exec.Command(bin, "serve", "--port", "0")
		cmd.Dir, cmd.Env = empty, append(os.Environ(), "NIMBUS_INCLUDES=no_such_plugin")
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Fatalf("serve with a bad includes started: %s", out)
		}
		if entries, _ := os.ReadDir(empty); len(entries) > 0 {
			t.Errorf("failed starts left %v", entries)
		}
	})
	t.Run("init does not write into Go packages", func(t *testing.T) {
		src := t.TempDir()
		os.MkdirAll(filepath.Join(src, "config"), 0o750)
		os.WriteFile(filepath.Join(src, "config", "config.go"), []byte("package config\n"), 0o600)
		out, err := runIn(src, bin, "init")
		if err == nil || !strings.Contains(string(out), "--ini") {
			t.Fatalf("init in a source tree: %v %s", err, out)
		}
		if _, err := os.Stat(filepath.Join(src, "config", "nimbus.ini")); err == nil {
			t.Error("init wrote into the package folder")
		}
	})
}

// TestPasswordsMasked: the password of a PostgreSQL URL is printed
// nowhere: not by the start log, migrate (dry run or not) or an error
// (operator traps, row 6).
func TestPasswordsMasked(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	pg := pgtest.Start(t)
	// The test server trusts every connection: the password is ignored.
	url := strings.Replace(pg.NewDatabase(t), "postgres@", "postgres:hunter2@", 1)
	env := []string{"NIMBUS_STORAGE_BACKEND=postgresql", "NIMBUS_STORAGE_URL=" + url}
	bin := buildNimbus(t)
	var logs []string
	for _, args := range [][]string{{"migrate", "--dry-run"}, {"migrate"}} {
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = t.TempDir(), append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v %s", args, err, out)
		}
		logs = append(logs, string(out))
	}
	bad := strings.Replace(url, "127.0.0.1", "127.0.0.1:1", 1) // nothing listens there
	cmd := exec.Command(bin, "serve", "--port", "0")
	cmd.Dir, cmd.Env = t.TempDir(), append(os.Environ(), "NIMBUS_STORAGE_BACKEND=postgresql", "NIMBUS_STORAGE_URL="+bad)
	out, _ := cmd.CombinedOutput()
	logs = append(logs, string(out))
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	var buf bytes.Buffer
	srv := exec.Command(bin, "serve", "--port", fmt.Sprint(port))
	srv.Dir, srv.Env = t.TempDir(), append(os.Environ(), env...)
	srv.Stdout, srv.Stderr = &buf, &buf
	srv.Start()
	for i := 0; i < 100; i++ {
		if res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/v1/__lbheartbeat__", port)); err == nil {
			res.Body.Close()
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	srv.Process.Signal(os.Interrupt)
	srv.Wait()
	logs = append(logs, buf.String())
	for i, l := range logs {
		if strings.Contains(l, "hunter2") {
			t.Errorf("output %d shows the password:\n%s", i, l)
		}
	}
	if !strings.Contains(logs[0], "postgres:****@") {
		t.Errorf("migrate --dry-run does not show the masked URL: %s", logs[0])
	}
}

// TestPageTokensShared: with a configuration file that sets no
// userid_hmac_secret (accounts only, which need none), two instances on
// one PostgreSQL database, and one of them restarted, take each other's
// Next-Page links; each used to sign them with a key drawn at its start,
// so a link followed through another instance got 400.
func TestPageTokensShared(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	pg := pgtest.Start(t)
	dir := t.TempDir()
	ini := filepath.Join(dir, "nimbus.ini")
	conf := "[nimbus]\nstorage_backend = postgresql\nstorage_url = " + pg.NewDatabase(t) +
		"\nincludes = accounts\nmultiauth.policies = account\naccount_create_principals = system.Everyone\n" +
		"bucket_create_principals = system.Authenticated\npaginate_by = 1\n"
	if err := os.WriteFile(ini, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := buildNimbus(t)
	a, stopA := zeroServer(t, bin, dir, nil, "--ini", ini)
	b, _ := zeroServer(t, bin, dir, nil, "--ini", ini)
	const rosa = "rosa:rosa-pw-123"
	if code, body := ask(t, "PUT", a+"/accounts/rosa", "", `{"data":{"password":"rosa-pw-123"}}`); code != 201 {
		t.Fatalf("sign-up: %d %v", code, body)
	}
	for _, p := range []string{"/buckets/b", "/buckets/b/collections/c1", "/buckets/b/collections/c2"} {
		if code, body := ask(t, "PUT", a+p, rosa, `{}`); code != 201 {
			t.Fatalf("PUT %s: %d %v", p, code, body)
		}
	}
	next := func(base string) string {
		res, _ := send(t, "GET", base+"/buckets/b/collections", rosa, "")
		link := res.Header.Get("Next-Page")
		if link == "" {
			t.Fatalf("no Next-Page from %s", base)
		}
		return link[strings.Index(link, "/buckets/"):]
	}
	follow := func(step, base, link string) {
		t.Helper()
		if code, body := ask(t, "GET", base+link, rosa, ""); code != 200 {
			t.Errorf("%s: %d %v", step, code, body)
		}
	}
	follow("a's link through b", b, next(a))
	fromB := next(b)
	follow("b's link through a", a, fromB)
	stopA()
	a, _ = zeroServer(t, bin, dir, nil, "--ini", ini)
	follow("b's link through a restarted", a, fromB)
}
