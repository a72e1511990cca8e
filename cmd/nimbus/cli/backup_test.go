package cli

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// buildNimbus builds the nimbus command into a temporary folder.
func buildNimbus(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "nimbus")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Join("..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startServer runs `nimbus serve` on a bolt file and waits for it.
func startServer(t *testing.T, bin, dir, db string) (base string, stop func()) {
	t.Helper()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ini := filepath.Join(dir, fmt.Sprintf("nimbus-%d.ini", port))
	os.WriteFile(ini, []byte(fmt.Sprintf("[nimbus]\nbind_host = 127.0.0.1\nbind_port = %d\nstorage_backend = bolt\nstorage_url = %s\n"+
		"multiauth.policies = basicauth\nuserid_hmac_secret = s\nbucket_create_principals = system.Authenticated\n", port, db)), 0o600)
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--ini", ini, "-q", "serve")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	base = fmt.Sprintf("http://127.0.0.1:%d/v1", port)
	for i := 0; i < 200; i++ {
		if res, err := http.Get(base + "/__lbheartbeat__"); err == nil {
			res.Body.Close()
			return base, func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Kill()
	t.Fatalf("the server did not start: %s", logs.String())
	return "", nil
}

func request(method, url, body string) (int, error) {
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("alice:pw")))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}

// TestOnlineBackup takes a backup through a running server while four
// writers keep creating records, restores it, serves it, and finds every
// record whose creation was acknowledged before the backup started.
func TestOnlineBackup(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	bin := buildNimbus(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "data", "nimbus.db")
	base, stop := startServer(t, bin, dir, db)
	if code, err := request("PUT", base+"/buckets/b", `{}`); err != nil || code != 201 {
		t.Fatalf("bucket: %d %v", code, err)
	}
	request("PUT", base+"/buckets/b/collections/c", `{}`)
	var (
		mu       sync.Mutex
		acked    []string
		stopping atomic.Bool
		wg       sync.WaitGroup
		n        atomic.Int64
	)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; !stopping.Load(); i++ {
				id := fmt.Sprintf("w%d-%05d", w, i)
				if code, err := request("PUT", base+"/buckets/b/collections/c/records/"+id, `{"data":{"n":1}}`); err == nil && code == 201 {
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
					n.Add(1)
				}
			}
		}(w)
	}
	for n.Load() < 200 {
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	before := append([]string(nil), acked...)
	mu.Unlock()
	copyPath := filepath.Join(dir, "backup.db")
	var out, errb bytes.Buffer
	ini := filepath.Join(dir, "backup.ini")
	os.WriteFile(ini, []byte("[nimbus]\nstorage_backend = bolt\nstorage_url = "+db+"\n"), 0o600)
	if code := Run([]string{"--ini", ini, "backup", copyPath}, nil, &out, &errb); code != 0 {
		t.Fatalf("backup: %d %s", code, errb.String())
	}
	time.Sleep(200 * time.Millisecond) // writes go on after the backup
	stopping.Store(true)
	wg.Wait()
	stop()
	if !strings.Contains(out.String(), "written to") {
		t.Errorf("backup output %q", out.String())
	}
	// Restore into another place and serve it.
	restored := filepath.Join(dir, "restored", "nimbus.db")
	rini := filepath.Join(dir, "restore.ini")
	os.WriteFile(rini, []byte("[nimbus]\nstorage_backend = bolt\nstorage_url = "+restored+"\n"), 0o600)
	if code := Run([]string{"--ini", rini, "restore", copyPath}, nil, &out, &errb); code != 0 {
		t.Fatalf("restore: %d %s", code, errb.String())
	}
	base2, stop2 := startServer(t, bin, dir, restored)
	defer stop2()
	missing := 0
	for _, id := range before {
		if code, _ := request("GET", base2+"/buckets/b/collections/c/records/"+id, ""); code != 200 {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of the %d records acknowledged before the backup are missing from it", missing, len(before))
	}
	t.Logf("%d records acknowledged before the backup, %d in all", len(before), n.Load())
	// Compact refuses a file in use, and works on a stopped one.
	if code := Run([]string{"--ini", rini, "compact"}, nil, &out, &errb); code == 0 {
		t.Error("compact must refuse a file the server holds")
	}
	stop2()
	out.Reset()
	if code := Run([]string{"--ini", rini, "compact"}, nil, &out, &errb); code != 0 || !strings.Contains(out.String(), "compacted") {
		t.Errorf("compact: %d %s %s", code, out.String(), errb.String())
	}
	// Restoring something that is not a database is refused.
	junk := filepath.Join(dir, "junk.db")
	os.WriteFile(junk, []byte("not a database"), 0o600)
	if code := Run([]string{"--ini", rini, "restore", junk}, nil, &out, &errb); code == 0 {
		t.Error("restore of a file that is not a database")
	}
	// PostgreSQL points to pg_dump.
	errb.Reset()
	pini := filepath.Join(dir, "pg.ini")
	os.WriteFile(pini, []byte("[nimbus]\nstorage_backend = postgresql\nstorage_url = postgresql://x@localhost/x\n"), 0o600)
	if code := Run([]string{"--ini", pini, "backup", filepath.Join(dir, "x.db")}, nil, &out, &errb); code == 0 || !strings.Contains(errb.String(), "pg_dump") {
		t.Errorf("postgresql backup: %d %s", code, errb.String())
	}
}
