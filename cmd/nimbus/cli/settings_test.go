package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestConfigTraps: keys nothing reads are named at start with the
// closest known one (row 5), and so are principals that match nobody (a
// system principal in the wrong case, a comma-separated list); a file
// without a [nimbus] section or with a bind_port that is no port is
// refused, and so are a setting written twice in a section (as Kinto's
// configparser does) and a PostgreSQL read cache bound below 1 MiB;
// `nimbus settings` shows every setting with its value in
// effect and its source, secrets masked (row 7).
func TestConfigTraps(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin, dir := buildNimbus(t), t.TempDir()
	ini := filepath.Join(dir, "typos.ini")
	os.WriteFile(ini, []byte("[nimbus]\nstorage_backend = memory\nincludes = accounts\nmultiauth.policies = account\n"+
		"paginate_bye = 10\naccount_create_principal = system.Everyone\nuserid_hmac_secret = do-not-show-me\n"+
		"storage_url = postgresql://u:hunter2@db/x\nbucket_read_principals = system.Authenticated\n"+
		"bucket_write_principals = system.everyone account:a,account:b account:admin\n"+
		"cors_origins = https://app.example/ https://ok.example https://*.example.org *\n"), 0o600)
	cmd := exec.Command(bin, "--ini", ini, "serve", "--port", "0")
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.Start()
	time.Sleep(1500 * time.Millisecond)
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	for _, want := range []string{`unknown setting \"paginate_bye\"`, `did you mean \"paginate_by\"`,
		`unknown setting \"account_create_principal\"`, `did you mean \"account_create_principals\"`,
		`bucket_write_principals: principal \"system.everyone\" matches nobody`,
		`bucket_write_principals: principal \"account:a,account:b\" holds a comma`,
		`cors_origins: \"https://app.example/\" is not an origin`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("start log lacks %s:\n%s", want, logs.String())
		}
	}
	if strings.Contains(logs.String(), "bucket_read_principals") || strings.Contains(logs.String(), `\"account:admin\"`) ||
		strings.Contains(logs.String(), "ok.example") || strings.Contains(logs.String(), "example.org") {
		t.Errorf("a known setting or a good principal was warned about:\n%s", logs.String())
	}
	for _, port := range []string{"abc", "70000", "-1"} {
		portINI := filepath.Join(dir, "port.ini")
		os.WriteFile(portINI, []byte("[nimbus]\nstorage_backend = memory\nbind_port = "+port+"\n"), 0o600)
		if code, out := runBinary(t, bin, "--ini", portINI, "serve"); code != 1 || !strings.Contains(out, `setting bind_port: "`+port+`" is not a port number`) {
			t.Errorf("bind_port = %s: exit %d %s", port, code, out)
		}
	}
	cacheINI := filepath.Join(dir, "cache.ini")
	os.WriteFile(cacheINI, []byte("[nimbus]\nstorage_backend = postgresql\nstorage_url = postgresql://u@127.0.0.1:1/x\nstorage_cache_bytes = 1000\n"), 0o600)
	if code, out := runBinary(t, bin, "--ini", cacheINI, "serve", "--port", "0"); code != 1 || !strings.Contains(out, "setting storage_cache_bytes: 1000 is below 1048576") {
		t.Errorf("storage_cache_bytes = 1000: exit %d %s", code, out)
	}
	pageINI := filepath.Join(dir, "page.ini")
	os.WriteFile(pageINI, []byte("[nimbus]\nstorage_backend = memory\npage_max_bytes = -1\n"), 0o600)
	if code, out := runBinary(t, bin, "--ini", pageINI, "serve", "--port", "0"); code != 1 || !strings.Contains(out, "setting page_max_bytes must not be negative") {
		t.Errorf("page_max_bytes = -1: exit %d %s", code, out)
	}
	twiceINI := filepath.Join(dir, "twice.ini")
	os.WriteFile(twiceINI, []byte("[nimbus]\nstorage_backend = memory\nuserid_hmac_secret = old-secret\npaginate_by = 10\nuserid_hmac_secret = new-secret\n"), 0o600)
	if code, out := runBinary(t, bin, "--ini", twiceINI, "serve", "--port", "0"); code != 1 ||
		!strings.Contains(out, "line 5: userid_hmac_secret is set twice in [nimbus] (first on line 3)") || strings.Contains(out, "secret\"") {
		t.Errorf("a setting written twice: exit %d %s", code, out)
	}
	noSection := filepath.Join(dir, "flat.ini")
	os.WriteFile(noSection, []byte("paginate_by = 10\nmultiauth.policies = basicauth\n"), 0o600)
	if code, out := runBinary(t, bin, "--ini", noSection, "serve", "--port", "0"); code != 1 || !strings.Contains(out, "no [nimbus] section") {
		t.Errorf("a file without section: exit %d %s", code, out)
	}
	settings := exec.Command(bin, "--ini", ini, "settings")
	settings.Env = append(os.Environ(), "NIMBUS_PAGINATE_BY=7")
	out, err := settings.CombinedOutput()
	if err != nil {
		t.Fatalf("settings: %v %s", err, out)
	}
	text := string(out)
	for _, re := range []string{`(?m)^paginate_by\s+7\s+environment$`, `(?m)^userid_hmac_secret\s+\*\*\*\*\s+file `,
		`(?m)^storage_url\s+postgresql://u:\*\*\*\*@db/x\s+file `, `(?m)^cors_max_age_seconds\s+3600\s+default$`,
		`(?m)^account_token_ttl_seconds\s+86400\s+default$`, `unknown setting "paginate_bye"`,
		`principal "system.everyone" matches nobody`} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("settings output lacks %s:\n%s", re, text)
		}
	}
	if strings.Contains(text, "do-not-show-me") || strings.Contains(text, "hunter2") {
		t.Errorf("settings shows a secret:\n%s", text)
	}
	// Kinto's own variables, as Kinto's client suites set them when they
	// start their server; NIMBUS_<KEY> wins over KINTO_<KEY>.
	kinto := exec.Command(bin, "--ini", ini, "settings")
	kinto.Env = append(os.Environ(), "KINTO_PAGINATE_BY=1", "KINTO_BACKOFF=10", "KINTO_CORS_MAX_AGE_SECONDS=5", "NIMBUS_CORS_MAX_AGE_SECONDS=6")
	out, err = kinto.CombinedOutput()
	if err != nil {
		t.Fatalf("settings with KINTO_ variables: %v %s", err, out)
	}
	for _, re := range []string{`(?m)^paginate_by\s+1\s+environment$`, `(?m)^backoff\s+10\s+environment$`,
		`(?m)^cors_max_age_seconds\s+6\s+environment$`} {
		if !regexp.MustCompile(re).MatchString(string(out)) {
			t.Errorf("settings output with KINTO_ variables lacks %s:\n%s", re, out)
		}
	}
}
