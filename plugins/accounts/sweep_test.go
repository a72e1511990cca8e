package accounts_test

import (
	"context"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/plugins/accounts"
	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/memory"
)

// TestExpiredCredentialsSwept: a sweep removes the sessions, tokens and
// embed credentials past their expiry (and a grace period) and the login
// counters whose window ended, and nothing still in force: an embed
// credential without expiry, a token valid for a month.
func TestExpiredCredentialsSwept(t *testing.T) {
	ctx := context.Background()
	b := memory.New()
	p := &accounts.Plugin{}
	s := apitest.NewWithBackend(t, b, base, map[string]func() resource.Plugin{"accounts": func() resource.Plugin { return p }})
	signup(t, s, "rosa", "rosa-pw")
	rosa := basic("rosa", "rosa-pw")
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: rosa, Body: `{}`}).Expect(t, 201, 0)
	login(t, s, `{"data":{"username":"rosa","password":"rosa-pw","ttl_seconds":60}}`)
	login(t, s, `{"data":{"username":"rosa","password":"rosa-pw","ttl_seconds":2592000}}`)
	s.Do(R{Method: "POST", Path: "/v1/account/session", Body: `{"data":{"username":"rosa","password":"rosa-pw"}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "POST", Path: "/v1/account/embed-credentials", Auth: rosa, Body: `{"data":{"bucket":"b","ttl_seconds":60}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "POST", Path: "/v1/account/embed-credentials", Auth: rosa, Body: `{"data":{"bucket":"b"}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "GET", Path: "/v1/account", Auth: basic("rosa", "wrong")}).Expect(t, 401, 104) // a login counter
	stored := func(resource string) int {
		var n int
		if err := b.View(ctx, func(tx storage.Tx) (err error) {
			n, err = tx.Count(storage.Ref{Resource: resource}, nil, false)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	lists := []string{"account_token", "account_session", "account_embed_credential", "account_login_throttle"}
	now := time.Now()
	for _, st := range []struct {
		what string
		at   time.Time
		gone int
		left []int // per list above
	}{
		{"now: nothing expired", now, 0, []int{2, 1, 2, 1}},
		{"a minute on: in the grace period", now.Add(2 * time.Minute), 0, []int{2, 1, 2, 1}},
		{"an hour on: the short token and embed, the counter", now.Add(time.Hour), 3, []int{1, 1, 1, 0}},
		{"two days on: the session", now.Add(48 * time.Hour), 1, []int{1, 0, 1, 0}},
	} {
		n, err := accounts.Sweep(p, ctx, b, st.at.UnixMilli())
		if err != nil || n != st.gone {
			t.Fatalf("%s: swept %d (%v), want %d", st.what, n, err, st.gone)
		}
		for i, l := range lists {
			if got := stored(l); got != st.left[i] {
				t.Errorf("%s: %d left in %s, want %d", st.what, got, l, st.left[i])
			}
		}
	}
	// What is left still works: the month-long token's owner signs in.
	s.Do(R{Method: "GET", Path: "/v1/account", Auth: rosa}).Expect(t, 200, 0)
}
