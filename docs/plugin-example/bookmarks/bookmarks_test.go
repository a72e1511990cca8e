package bookmarks_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// binary is the custom nimbus built from this module's main package, as
// its users build it: the tests talk to it over HTTP, like any client.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "nimbus-bookmarks")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "nimbus-bookmarks")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Dir = ".."
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the custom nimbus:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is one running custom nimbus.
type server struct {
	t    *testing.T
	base string
}

// start runs the binary with an .ini of settings on a free port and
// waits for its heartbeat.
func start(t *testing.T, settings string) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ini := filepath.Join(t.TempDir(), "nimbus.ini")
	text := "[nimbus]\nbind_host = 127.0.0.1\nstorage_backend = memory\nmultiauth.policies = basicauth\n" +
		"userid_hmac_secret = test-secret\nbucket_create_principals = system.Authenticated\n" + settings
	if err := os.WriteFile(ini, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(binary, "--ini", ini, "-q", "serve", "--port", fmt.Sprint(port))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
	})
	s := &server{t: t, base: fmt.Sprintf("http://127.0.0.1:%d/v1", port)}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-done:
			t.Fatalf("the server stopped: %s", logs.String())
		default:
		}
		if res, err := http.Get(s.base + "/__lbheartbeat__"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return s
			}
		}
	}
	t.Fatalf("the server did not answer: %s", logs.String())
	return nil
}

func basic(user string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":pw-"+user))
}

// do sends a request and returns the status and the decoded JSON body.
func (s *server) do(method, path, auth, body string) (int, map[string]any) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			s.t.Fatalf("%s %s: not JSON: %q", method, path, raw)
		}
	}
	return res.StatusCode, out
}

func TestBookmarksPlugin(t *testing.T) {
	s := start(t, "includes = bookmarks\nbookmarks.greeting = hi\nbookmarks.max_tags = 2\n")
	alice, bob := basic("alice"), basic("bob")
	_, root := s.do("GET", "/", bob, "")
	bobID := root["user"].(map[string]any)["id"].(string)
	if c, ok := root["capabilities"].(map[string]any)["bookmarks"].(map[string]any); !ok || c["greeting"] != "hi" {
		t.Fatalf("capability with the setting: %v", root["capabilities"])
	}
	var mine, bobs string
	steps := []struct {
		name, method, path, auth, body string
		status, errno                  int
		check                          func(map[string]any) error
	}{
		{"bucket with bookmark:create for bob", "PUT", "/buckets/b", alice, `{"permissions":{"bookmark:create":["` + bobID + `"]}}`, 201, 0, nil},
		{"schema: url", "POST", "/buckets/b/bookmarks", alice, `{"data":{"url":"nope"}}`, 400, 107, nil},
		{"schema: tag type", "POST", "/buckets/b/bookmarks", alice, `{"data":{"url":"https://x.test","tags":[1]}}`, 400, 107, nil},
		{"setting: max_tags", "POST", "/buckets/b/bookmarks", alice, `{"data":{"url":"https://x.test","tags":["a","b","c"]}}`, 400, 107, nil},
		{"create with a derived field", "POST", "/buckets/b/bookmarks", alice, `{"data":{"url":"https://go.dev/doc","tags":["go"]}}`, 201, 0,
			func(b map[string]any) error {
				d := b["data"].(map[string]any)
				mine = d["id"].(string)
				if d["host"] != "go.dev" {
					return fmt.Errorf("host %v", d["host"])
				}
				return nil
			}},
		{"bob creates through bookmark:create", "POST", "/buckets/b/bookmarks", bob, `{"data":{"url":"https://kinto.test"}}`, 201, 0,
			func(b map[string]any) error { bobs = b["data"].(map[string]any)["id"].(string); return nil }},
		{"bob lists his own only", "GET", "/buckets/b/bookmarks", bob, "", 200, 0, func(b map[string]any) error {
			if l := b["data"].([]any); len(l) != 1 || l[0].(map[string]any)["id"] != bobs {
				return fmt.Errorf("bob lists %v", l)
			}
			return nil
		}},
		{"bob cannot read alice's", "GET", "/buckets/b/bookmarks/{mine}", bob, "", 403, 121, nil},
		{"the bucket writer filters every bookmark", "GET", "/buckets/b/bookmarks?host=go.dev", alice, "", 200, 0, func(b map[string]any) error {
			if l := b["data"].([]any); len(l) != 1 {
				return fmt.Errorf("%d bookmarks", len(l))
			}
			return nil
		}},
		{"copy needs read on the source", "POST", "/buckets/b/bookmarks/{mine}/copy", bob, `{"to":"bobs"}`, 403, 121, nil},
		{"bob's own bucket", "PUT", "/buckets/bobs", bob, `{}`, 201, 0, nil},
		{"copy needs create on the target", "POST", "/buckets/b/bookmarks/{mine}/copy", alice, `{"to":"bobs"}`, 403, 121, nil},
		{"copy to a missing bucket", "POST", "/buckets/b/bookmarks/{mine}/copy", alice, `{"to":"nowhere"}`, 403, 121, nil},
		{"copy without a target", "POST", "/buckets/b/bookmarks/{mine}/copy", alice, `{}`, 400, 107, nil},
		{"bob copies his bookmark to his bucket", "POST", "/buckets/b/bookmarks/{bobs}/copy", bob, `{"to":"bobs"}`, 201, 0, func(b map[string]any) error {
			d := b["data"].(map[string]any)
			if d["url"] != "https://kinto.test" || d["copied_from"] != "b" || d["host"] != "kinto.test" || d["last_modified"] == nil {
				return fmt.Errorf("copy %v", d)
			}
			return nil
		}},
		{"bob deletes his bookmark", "DELETE", "/buckets/b/bookmarks/{bobs}", bob, "", 200, 0, nil},
		{"stats need a user", "GET", "/bookmarks-stats", "", "", 401, 104, nil},
		{"the listener counted", "GET", "/bookmarks-stats", alice, "", 200, 0, func(b map[string]any) error {
			if fmt.Sprint(b["created"]) != "3" || fmt.Sprint(b["deleted"]) != "1" || !strings.HasPrefix(b["greeting"].(string), "hi, ") {
				return fmt.Errorf("stats %v", b)
			}
			return nil
		}},
		{"bookmarks go with their bucket", "DELETE", "/buckets/b", alice, "", 200, 0, nil},
		{"recreated bucket is empty", "PUT", "/buckets/b", alice, `{}`, 201, 0, nil},
		{"no bookmark left", "GET", "/buckets/b/bookmarks", alice, "", 200, 0, func(b map[string]any) error {
			if l := b["data"].([]any); len(l) != 0 {
				return fmt.Errorf("%d left", len(l))
			}
			return nil
		}},
		{"the resource is in the OpenAPI document", "GET", "/__api__", "", "", 200, 0, func(b map[string]any) error {
			if b["paths"].(map[string]any)["/buckets/{bucket_id}/bookmarks"] == nil {
				return fmt.Errorf("no bookmarks path")
			}
			return nil
		}},
	}
	for _, st := range steps {
		path := strings.NewReplacer("{mine}", mine, "{bobs}", bobs).Replace(st.path)
		status, body := s.do(st.method, path, st.auth, st.body)
		if status != st.status {
			t.Fatalf("%s: %s %s: status %d, want %d: %v", st.name, st.method, path, status, st.status, body)
		}
		if st.errno != 0 && fmt.Sprint(body["errno"]) != fmt.Sprint(st.errno) {
			t.Errorf("%s: errno %v, want %d", st.name, body["errno"], st.errno)
		}
		if st.check != nil {
			if err := st.check(body); err != nil {
				t.Errorf("%s: %v", st.name, err)
			}
		}
	}
}

// TestBadSetting checks that the engine validates the plugin's declared
// settings: the server refuses to start, naming the setting.
func TestBadSetting(t *testing.T) {
	ini := filepath.Join(t.TempDir(), "nimbus.ini")
	os.WriteFile(ini, []byte("[nimbus]\nstorage_backend = memory\nmultiauth.policies = basicauth\nincludes = bookmarks\nbookmarks.max_tags = many\n"), 0o600)
	out, err := exec.Command(binary, "--ini", ini, "serve", "--port", "0").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "bookmarks.max_tags") {
		t.Errorf("exit %v, output %q: want a failure naming bookmarks.max_tags", err, out)
	}
}

// TestSettingsCommand checks the custom binary lists the plugin's
// settings with the built-in ones: in the reference (--doc) and among
// the values in effect.
func TestSettingsCommand(t *testing.T) {
	out, err := exec.Command(binary, "settings", "--doc").Output()
	if err != nil || !bytes.Contains(out, []byte("## bookmarks")) || !bytes.Contains(out, []byte("`bookmarks.max_tags` | integer | `10`")) {
		t.Errorf("settings --doc: %v\n%s", err, out)
	}
	out, err = exec.Command(binary, "settings").Output()
	if err != nil || !bytes.Contains(out, []byte("bookmarks.max_tags")) {
		t.Errorf("settings: %v\n%s", err, out)
	}
}
