package accounts_test

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/storage/memory"
)

// zeroConfig are the settings of the zero-configuration start.
var zeroConfig = map[string]string{"includes": "default_bucket accounts changes", "multiauth.policies": "account",
	"account_create_principals": "system.Everyone", "account_write_principals": "account:admin",
	"account_read_principals": "account:admin", "bucket_create_principals": "system.Authenticated",
	"account_admin_reserved": "true", "account_bcrypt_cost": "4", "userid_hmac_secret": "s"}

var firstRunLink = regexp.MustCompile(`/v1/__first_run__/[A-Za-z0-9_-]+`)

// TestAdministratorIDsReserved: in the zero-configuration start nobody
// can sign up as the administrator (security review, row 2); the link
// logged at start creates it once.
func TestAdministratorIDsReserved(t *testing.T) {
	backend := memory.New()
	s, logs := apitest.NewWithLogs(t, backend, zeroConfig)
	link := firstRunLink.FindString(logs)
	if link == "" || !strings.Contains(logs, "level=WARN") {
		t.Fatalf("no first-run link logged: %s", logs)
	}
	cases := []struct {
		name, method, path, body, auth string
		status, errno                  int
	}{
		{"anonymous PUT of the administrator id", "PUT", "/v1/accounts/admin", `{"data":{"password":"take-over-1"}}`, "", 403, 121},
		{"anonymous POST of the administrator id", "POST", "/v1/accounts", `{"data":{"id":"admin","password":"take-over-1"}}`, "", 403, 121},
		{"anyone else still signs up", "PUT", "/v1/accounts/rosa", `{"data":{"password":"rosa-pw-123"}}`, "", 201, 0},
		{"a signed-up user cannot take it either", "PUT", "/v1/accounts/admin", `{"data":{"password":"take-over-1"}}`,
			basic("rosa", "rosa-pw-123"), 403, 121},
		{"a wrong link", "GET", "/v1/__first_run__/nope", "", "", 404, 111},
	}
	for _, c := range cases {
		r := s.Do(R{Method: c.method, Path: c.path, Body: c.body, Auth: c.auth}).Expect(t, c.status, c.errno)
		if c.status == 403 && !strings.Contains(string(r.Raw), "create-user") {
			t.Errorf("%s: the message does not say how to create it: %s", c.name, r.Raw)
		}
	}
	page := s.Do(R{Method: "GET", Path: link}).Expect(t, 200, 0)
	if !strings.Contains(page.Header.Get("Content-Security-Policy"), "default-src 'none'") ||
		!strings.Contains(string(page.Raw), `<label for="password">Password</label>`) {
		t.Fatalf("first-run page: %v %s", page.Header, page.Raw)
	}
	// A browser's form post creates the administrator, once.
	post := func() *http.Response {
		res, err := http.PostForm(s.URL+link, url.Values{"id": {"admin"}, "password": {"admin-pw-123"}})
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	if res := post(); res.StatusCode != 201 {
		t.Fatalf("first use of the link: %d", res.StatusCode)
	}
	if res := post(); res.StatusCode != 404 {
		t.Fatalf("second use of the link: %d", res.StatusCode)
	}
	s.Do(R{Method: "GET", Path: link}).Expect(t, 404, 111)
	admin := basic("admin", "admin-pw-123")
	if ids := s.Do(R{Method: "GET", Path: "/v1/accounts", Auth: admin}).Expect(t, 200, 0).IDs(); strings.Join(ids, ",") != "admin,rosa" &&
		strings.Join(ids, ",") != "rosa,admin" {
		t.Errorf("the administrator manages accounts: %v", ids)
	}
	// A restart with the administrator in storage offers no link.
	s.Close()
	_, logs2 := apitest.NewWithLogs(t, backend, zeroConfig)
	if firstRunLink.MatchString(logs2) {
		t.Errorf("a link was offered although an administrator exists: %s", logs2)
	}
}

// TestAdministratorIDsFreeInKintoConfigs: without account_admin_reserved
// (Kinto's own configurations, whose client suites sign up their
// administrator), the id is created as Kinto creates it.
func TestAdministratorIDsFreeInKintoConfigs(t *testing.T) {
	settings := map[string]string{}
	for k, v := range zeroConfig {
		settings[k] = v
	}
	delete(settings, "account_admin_reserved")
	s, logs := apitest.NewWithLogs(t, memory.New(), settings)
	if firstRunLink.MatchString(logs) {
		t.Errorf("a first-run link without reservation: %s", logs)
	}
	s.Do(R{Method: "PUT", Path: "/v1/accounts/admin", Body: `{"data":{"password":"admin-pw-123"}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "GET", Path: "/v1/__first_run__/x"}).Expect(t, 404, 111)
}
