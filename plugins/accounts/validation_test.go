package accounts_test

import (
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

func validationServer(t *testing.T, smtp *smtpServer, extra map[string]string) *serverWithMail {
	settings := map[string]string{
		"account_validation": "true", "mail.host": "127.0.0.1", "mail.port": smtp.port(),
		"account_validation.email_sender":        "noreply@nimbus.test",
		"account_validation.email_body_template": "Hello {name}, your key is {activation-key} ({unknown})",
	}
	for k, v := range extra {
		settings[k] = v
	}
	return &serverWithMail{server(t, settings), smtp}
}

type serverWithMail struct {
	*apitest.Server
	smtp *smtpServer
}

func TestValidationFlow(t *testing.T) {
	smtp := newSMTP(t)
	s := validationServer(t, smtp, nil)
	s.Do(R{Method: "PUT", Path: "/v1/accounts/rosa", Body: `{"data":{"password":"pw"}}`}).Expect(t, 400, 107)
	r := s.Do(R{Method: "PUT", Path: "/v1/accounts/rosa@example.org", Body: `{"data":{"password":"pw","email-context":{"name":"Rosa"}}}`}).Expect(t, 201, 0)
	if r.Data()["validated"] != false || strings.Contains(string(r.Raw), "activation") {
		t.Fatalf("new account: %s", r.Raw)
	}
	msgs := smtp.messages()
	if len(msgs) != 1 || msgs[0].to != "rosa@example.org" || msgs[0].from != "noreply@nimbus.test" || msgs[0].header("Subject") != "activate your account" {
		t.Fatalf("activation mail: %+v", msgs)
	}
	body := msgs[0].body()
	if !strings.HasPrefix(body, "Hello Rosa, your key is ") || !strings.HasSuffix(body, "({unknown})") {
		t.Fatalf("activation body %q", body)
	}
	key := strings.Fields(body)[5]
	rosa := basic("rosa@example.org", "pw")
	if whoami(s.Server, rosa) != "" {
		t.Fatal("an unvalidated account must not authenticate")
	}
	s.Do(R{Method: "POST", Path: "/v1/accounts/rosa@example.org/validate/wrong-key"}).Expect(t, 403, 121)
	s.Do(R{Method: "POST", Path: "/v1/accounts/nobody@example.org/validate/" + key}).Expect(t, 403, 121)
	v := s.Do(R{Method: "POST", Path: "/v1/accounts/rosa@example.org/validate/" + key}).Expect(t, 200, 0)
	if v.Body["validated"] != true || v.Body["id"] != "rosa@example.org" || v.Body["data"] != nil {
		t.Fatalf("activation answer (bare object): %s", v.Raw)
	}
	if whoami(s.Server, rosa) != "account:rosa@example.org" {
		t.Fatal("a validated account authenticates")
	}
	s.Do(R{Method: "POST", Path: "/v1/accounts/rosa@example.org/validate/" + key}).Expect(t, 403, 121)
	msgs = smtp.messages()
	if len(msgs) != 2 || msgs[1].header("Subject") != "Account active" || msgs[1].body() != "The account rosa@example.org is now active" {
		t.Fatalf("confirmation mail: %+v", msgs)
	}
	s.Do(R{Method: "PATCH", Path: "/v1/accounts/rosa@example.org", Auth: rosa, Body: `{"data":{"validated":false}}`}).Expect(t, 400, 107)

	// Expired keys
	exp := validationServer(t, smtp, map[string]string{"account_validation.validation_key_cache_ttl_seconds": "-1"})
	exp.Do(R{Method: "PUT", Path: "/v1/accounts/late@example.org", Body: `{"data":{"password":"pw"}}`}).Expect(t, 201, 0)
	msgs = smtp.messages()
	late := strings.Fields(msgs[len(msgs)-1].body())[5]
	exp.Do(R{Method: "POST", Path: "/v1/accounts/late@example.org/validate/" + late}).Expect(t, 403, 121)

	// Mail failure at sign-up leaves no account.
	smtp.setFailing(true)
	f := s.Do(R{Method: "PUT", Path: "/v1/accounts/fail@example.org", Body: `{"data":{"password":"pw"}}`}).Expect(t, 503, 201)
	if f.Header.Get("Retry-After") == "" || !strings.Contains(f.Body["message"].(string), "e-mail") {
		t.Errorf("mail failure answer: %v %s", f.Header, f.Raw)
	}
	smtp.setFailing(false)
	s.Do(R{Method: "GET", Path: "/v1/accounts/fail@example.org", Auth: basic("admin", "x")}).Expect(t, 401, 104)
	s.Do(R{Method: "PUT", Path: "/v1/accounts/fail@example.org", Body: `{"data":{"password":"pw"}}`}).Expect(t, 201, 0)

	// Without validation, the flow's URLs do not exist.
	off := server(t, nil)
	off.Do(R{Method: "POST", Path: "/v1/accounts/x/validate/y"}).Expect(t, 404, 111)
	off.Do(R{Method: "POST", Path: "/v1/accounts/x/reset-password"}).Expect(t, 404, 111)
}

func TestPasswordlessSignup(t *testing.T) {
	smtp := newSMTP(t)
	s := validationServer(t, smtp, map[string]string{"account_validation.passwordless_signup": "true"})
	s.Do(R{Method: "POST", Path: "/v1/accounts", Body: `{"data":{"id":"cs@example.org"}}`}).Expect(t, 201, 0)
	key := strings.Fields(smtp.messages()[0].body())[5]
	s.Do(R{Method: "POST", Path: "/v1/accounts/cs@example.org/validate/" + key}).Expect(t, 400, 107)
	s.Do(R{Method: "POST", Path: "/v1/accounts/cs@example.org/validate/" + key, Body: `{"data":{"password":"chosen"}}`}).Expect(t, 200, 0)
	if whoami(s.Server, basic("cs@example.org", "chosen")) == "" {
		t.Fatal("password chosen at activation")
	}
}

func TestResetFlow(t *testing.T) {
	smtp := newSMTP(t)
	s := validationServer(t, smtp, nil)
	s.Do(R{Method: "PUT", Path: "/v1/accounts/rosa@example.org", Body: `{"data":{"password":"pw"}}`}).Expect(t, 201, 0)
	key := strings.Fields(smtp.messages()[0].body())[5]
	s.Do(R{Method: "POST", Path: "/v1/accounts/rosa@example.org/validate/" + key}).Expect(t, 200, 0)
	before := len(smtp.messages())
	unknown := s.Do(R{Method: "POST", Path: "/v1/accounts/ghost@example.org/reset-password"}).Expect(t, 200, 0)
	known := s.Do(R{Method: "POST", Path: "/v1/accounts/rosa@example.org/reset-password", Body: `{"data":{"email-context":{"x":1}}}`}).Expect(t, 200, 0)
	if string(unknown.Raw) != string(known.Raw) || known.Body["message"] != "A temporary reset password has been sent by mail" {
		t.Fatalf("answers differ: %s / %s", unknown.Raw, known.Raw)
	}
	msgs := smtp.messages()
	if len(msgs) != before+1 || msgs[len(msgs)-1].header("Subject") != "Reset password" {
		t.Fatalf("one reset mail, to the known account only: %+v", msgs[before:])
	}
	temp := msgs[len(msgs)-1].body()
	tmp := basic("rosa@example.org", temp)
	if whoami(s.Server, tmp) != "" {
		t.Error("the temporary password must not authenticate GET /v1/")
	}
	s.Do(R{Method: "GET", Path: "/v1/accounts/rosa@example.org", Auth: tmp}).Expect(t, 401, 104)
	s.Do(R{Method: "PATCH", Path: "/v1/accounts/rosa@example.org", Auth: tmp, Body: `{"data":{"password":"new","x":1}}`}).Expect(t, 401, 104)
	if whoami(s.Server, basic("rosa@example.org", "pw")) == "" {
		t.Error("the normal password keeps working until changed")
	}
	s.Do(R{Method: "PATCH", Path: "/v1/accounts/rosa@example.org", Auth: tmp, Body: `{"data":{"password":"brand-new"}}`}).Expect(t, 200, 0)
	if whoami(s.Server, basic("rosa@example.org", "brand-new")) == "" || whoami(s.Server, basic("rosa@example.org", "pw")) != "" {
		t.Error("the new password replaces the old one")
	}
	s.Do(R{Method: "PATCH", Path: "/v1/accounts/rosa@example.org", Auth: tmp, Body: `{"data":{"password":"again"}}`}).Expect(t, 401, 104)
}

// TestEncodedAccountIDs: every route decodes its path once (RES-02), so
// clients that encode "@" activate, reset and read e-mail accounts.
func TestEncodedAccountIDs(t *testing.T) {
	smtp := newSMTP(t)
	s := validationServer(t, smtp, map[string]string{"account_validation.email_body_template": "key {activation-key}"})
	s.Do(R{Method: "PUT", Path: "/v1/accounts/ana%40example.org", Body: `{"data":{"password":"pw"}}`}).Expect(t, 201, 0)
	key := strings.Fields(smtp.messages()[0].body())[1]
	s.Do(R{Method: "POST", Path: "/v1/accounts/ana%40example.org/validate/" + key}).Expect(t, 200, 0)
	ana := basic("ana@example.org", "pw")
	if whoami(s.Server, ana) != "account:ana@example.org" {
		t.Fatal("the account activated through an encoded id authenticates")
	}
	for _, path := range []string{"/v1/accounts/ana%40example.org", "/v1/accounts/ana@example.org"} {
		if r := s.Do(R{Method: "GET", Path: path, Auth: ana}).Expect(t, 200, 0); r.Data()["id"] != "ana@example.org" {
			t.Errorf("%s: %s", path, r.Raw)
		}
	}
	s.Do(R{Method: "POST", Path: "/v1/accounts/ana%40example.org/reset-password"}).Expect(t, 200, 0)
	if n := len(smtp.messages()); n != 3 {
		t.Fatalf("reset mail through an encoded id: %d messages", n)
	}
}

// TestBatchedSignUpsMail: a batch's sign-ups send their activation
// e-mails before its transaction, one each, and none for a body the
// write refuses; the accounts exist, unvalidated, after the batch.
func TestBatchedSignUpsMail(t *testing.T) {
	smtp := newSMTP(t)
	s := validationServer(t, smtp, nil)
	r := s.Do(R{Method: "POST", Path: "/v1/batch", Body: `{"requests":[
		{"method":"PUT","path":"/accounts/ana@example.org","body":{"data":{"password":"pw"}}},
		{"method":"PUT","path":"/accounts/bad@example.org","body":{"data":{"password":7}}},
		{"method":"PUT","path":"/accounts/none@example.org","body":{"permissions":{}}},
		{"method":"POST","path":"/accounts","body":{"data":{"id":"bo@example.org","password":"pw"}}}]}`}).Expect(t, 200, 0)
	want := []string{`"status":201`, `"status":400`, `"status":400`, `"status":201`}
	for i, part := range strings.Split(string(r.Raw), `"path"`)[1:] {
		if i < len(want) && !strings.Contains(part, want[i]) {
			t.Errorf("sub-request %d: %s", i, part)
		}
	}
	var to []string
	for _, m := range smtp.messages() {
		to = append(to, m.to)
	}
	if strings.Join(to, " ") != "ana@example.org bo@example.org" {
		t.Errorf("activation e-mails went to %v", to)
	}
	for _, id := range []string{"ana@example.org", "bo@example.org"} {
		s.Do(R{Method: "PUT", Path: "/v1/accounts/" + id, Body: `{"data":{"password":"pw"}}`, Headers: map[string]string{"If-None-Match": "*"}}).Expect(t, 412, 114)
	}
}
