package accounts_test

import (
	"bufio"
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/plugins/accounts"
	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/resource"
)

// TestStreamRecheckCostsNoHash: a change stream opened with Basic
// credentials checks them again every stream_recheck_seconds; that
// recheck confirms the stored hash instead of hashing the password again,
// even once the verified-password cache period is over (security review,
// row 12). A password change still ends the stream.
func TestStreamRecheckCostsNoHash(t *testing.T) {
	p := &accounts.Plugin{}
	s := apitest.New(t, map[string]string{"includes": "accounts changes", "multiauth.policies": "account",
		"account_create_principals": "system.Everyone", "account_write_principals": "account:admin",
		"bucket_create_principals": "system.Authenticated", "account_bcrypt_cost": "4",
		"account_cache_ttl_seconds": "1", "stream_recheck_seconds": "1", "stream_keepalive_seconds": "1"},
		map[string]func() resource.Plugin{"accounts": func() resource.Plugin { return p }})
	signup(t, s, "rosa", "rosa-pw-123")
	rosa := basic("rosa", "rosa-pw-123")
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: rosa, Body: `{}`}).Expect(t, 201, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL+"/v1/buckets/b/collections", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", rosa)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("stream: %v %v", err, res)
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	before := accounts.HashRuns(p)
	time.Sleep(3500 * time.Millisecond) // three rechecks, each after the cache period
	if n := accounts.HashRuns(p) - before; n != 0 {
		t.Errorf("the stream's rechecks cost %d password hashes, want 0", n)
	}
	s.Do(R{Method: "PATCH", Path: "/v1/accounts/rosa", Auth: rosa, Body: `{"data":{"password":"new-pw-456"}}`}).Expect(t, 200, 0)
	deadline := time.After(5 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatal("the stream closed without an error event")
			}
			if strings.HasPrefix(line, "event: error") {
				return
			}
		case <-deadline:
			t.Fatal("the stream outlived the password change")
		}
	}
}

// TestEmbedStreamsCountPerCredential: the streams of an embed credential
// (a page of a site the owner does not control) count apart from its
// owner's and from each other embed credential's (security review,
// row 13).
func TestEmbedStreamsCountPerCredential(t *testing.T) {
	s := server(t, map[string]string{"includes": "accounts changes", "bucket_create_principals": "system.Authenticated",
		"stream_max_connections_per_user": "2"})
	signup(t, s, "rosa", "rosa-pw-123")
	rosa := basic("rosa", "rosa-pw-123")
	s.Do(R{Method: "PUT", Path: "/v1/buckets/blog", Auth: rosa, Body: `{}`}).Expect(t, 201, 0)
	embed := func() string {
		e := s.Do(R{Method: "POST", Path: "/v1/account/embed-credentials", Auth: rosa, Body: `{"data":{"bucket":"blog"}}`}).Expect(t, 201, 0)
		return bearer(e.Data())
	}
	e1, e2 := embed(), embed()
	open := func(auth string) int {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		req, _ := http.NewRequestWithContext(ctx, "GET", s.URL+"/v1/buckets/blog/collections", nil)
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Authorization", auth)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 200 {
			res.Body.Close()
		}
		return res.StatusCode
	}
	for i, c := range []struct {
		auth   string
		status int
	}{{e1, 200}, {e1, 200}, {e1, 429}, {rosa, 200}, {rosa, 200}, {rosa, 429}, {e2, 200}} {
		if got := open(c.auth); got != c.status {
			t.Fatalf("stream %d: %d, want %d", i, got, c.status)
		}
	}
}

// streamUntilError follows a list and reports, on the channel, when the
// stream sends its error event (or ends).
func streamUntilError(t *testing.T, s *apitest.Server, path, auth string) <-chan struct{} {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL+path, nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", auth)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("stream: %v %v", err, res)
	}
	ended := make(chan struct{})
	ready := make(chan struct{})
	go func() {
		defer close(ended)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			switch sc.Text() {
			case "event: ready":
				close(ready)
			case "event: error":
				return
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not become ready")
	}
	return ended
}

// TestRevocationEndsStreams: revoking a credential ends its streams at
// once on the instance that revoked it and within a second on another
// instance sharing the database, not after stream_recheck_seconds
// (security review, row 11); streams of the user's other credentials go
// on.
func TestRevocationEndsStreams(t *testing.T) {
	extra := map[string]string{"includes": "accounts changes", "bucket_create_principals": "system.Authenticated",
		"stream_recheck_seconds": "3600"}
	a, b := twoInstances(t, extra)
	signup(t, a, "rosa", "rosa-pw-123")
	rosa := basic("rosa", "rosa-pw-123")
	a.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: rosa, Body: `{}`}).Expect(t, 201, 0)
	const path = "/v1/buckets/b/collections"
	within := func(ended <-chan struct{}, d time.Duration) bool {
		select {
		case <-ended:
			return true
		case <-time.After(d):
			return false
		}
	}
	for _, c := range []struct {
		name   string
		revoke func(tok map[string]any)
	}{
		{"token revoked", func(tok map[string]any) {
			a.Do(R{Method: "DELETE", Path: "/v1/account/tokens/" + tok["key"].(string), Auth: rosa}).Expect(t, 200, 0)
		}},
		{"all tokens revoked", func(map[string]any) {
			a.Do(R{Method: "DELETE", Path: "/v1/account/tokens", Auth: rosa}).Expect(t, 200, 0)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tok := login(t, a, `{"data":{"username":"rosa","password":"rosa-pw-123"}}`)
			onA := streamUntilError(t, a, path, bearer(tok))
			onB := streamUntilError(t, b, path, bearer(tok))
			basicStream := streamUntilError(t, a, path, rosa)
			c.revoke(tok)
			if !within(onA, time.Second) {
				t.Error("the stream on the revoking instance outlived the revocation")
			}
			if !within(onB, 2*time.Second) {
				t.Error("the stream on the other instance outlived the revocation by more than a second")
			}
			if within(basicStream, 300*time.Millisecond) {
				t.Error("a stream of another credential of the user ended")
			}
		})
	}
	t.Run("password changed", func(t *testing.T) {
		onA := streamUntilError(t, a, path, rosa)
		onB := streamUntilError(t, b, path, rosa)
		a.Do(R{Method: "PATCH", Path: "/v1/accounts/rosa", Auth: rosa, Body: `{"data":{"password":"new-pw-456"}}`}).Expect(t, 200, 0)
		if !within(onA, time.Second) || !within(onB, 2*time.Second) {
			t.Error("Basic streams outlived the password change")
		}
	})
}

// TestSettingTextsNameRealEndpoints: every endpoint a setting's text
// names (POST /account/...) is one the server serves (operator traps,
// row 15: the embed setting named a 404).
func TestSettingTextsNameRealEndpoints(t *testing.T) {
	s := server(t, map[string]string{"bucket_create_principals": "system.Authenticated"})
	signup(t, s, "rosa", "rosa-pw-123")
	rosa := basic("rosa", "rosa-pw-123")
	s.Do(R{Method: "PUT", Path: "/v1/buckets/blog", Auth: rosa, Body: `{}`}).Expect(t, 201, 0)
	re := regexp.MustCompile(`(GET|POST|PUT|PATCH|DELETE) (/account[a-z/_-]*)`)
	found := 0
	for _, st := range (&accounts.Plugin{}).Settings() {
		for _, m := range re.FindAllStringSubmatch(st.Description, -1) {
			found++
			r := s.Do(R{Method: m[1], Path: "/v1" + m[2], Auth: rosa, Body: `{"data":{"bucket":"blog"}}`})
			if r.Status == 404 || r.Status == 405 {
				t.Errorf("%s names %s %s, which answers %d", st.Name, m[1], m[2], r.Status)
			}
		}
	}
	if found == 0 {
		t.Fatal("no setting names an endpoint: the test checks nothing")
	}
}
