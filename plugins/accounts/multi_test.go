package accounts_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/storage/postgres"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

// twoInstances starts two servers on one PostgreSQL database.
func twoInstances(t *testing.T, extra map[string]string) (*apitest.Server, *apitest.Server) {
	pg := pgtest.Start(t)
	url := pg.NewDatabase(t)
	settings := map[string]string{}
	for k, v := range base {
		settings[k] = v
	}
	settings["storage_backend"] = "postgresql"
	settings["bucket_create_principals"] = "system.Authenticated"
	settings["account_cache_ttl_seconds"] = "3600"
	for k, v := range extra {
		settings[k] = v
	}
	var out [2]*apitest.Server
	for i := range out {
		out[i] = apitest.NewPostgresConns(t, url, 20, settings)
	}
	return out[0], out[1]
}

func TestTwoInstances(t *testing.T) {
	a, b := twoInstances(t, nil)
	signup(t, a, "rosa", "rosa-pw")
	rosa := basic("rosa", "rosa-pw")
	if whoami(b, rosa) != "account:rosa" {
		t.Fatal("an account created on A authenticates on B")
	}
	a.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: rosa, Body: `{}`}).Expect(t, 201, 0)
	b.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: rosa, Body: `{}`}).Expect(t, 201, 0)
	r := a.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c/records/r", Auth: rosa, Body: `{"data":{"v":1}}`}).Expect(t, 201, 0)
	etag := r.Header.Get("ETag")
	if got := b.Do(R{Method: "GET", Path: "/v1/buckets/b/collections/c/records/r", Auth: rosa}).Expect(t, 200, 0); got.Header.Get("ETag") != etag {
		t.Error("B sees A's write with the same ETag")
	}
	b.Do(R{Method: "PATCH", Path: "/v1/buckets/b/collections/c/records/r", Auth: rosa, Body: `{"data":{"v":2}}`, Headers: map[string]string{"If-Match": etag}}).Expect(t, 200, 0)
	a.Do(R{Method: "PATCH", Path: "/v1/buckets/b/collections/c/records/r", Auth: rosa, Body: `{"data":{"v":3}}`, Headers: map[string]string{"If-Match": etag}}).Expect(t, 412, 114)

	// Concurrent creations on both instances: no 409, unique timestamps.
	var wg sync.WaitGroup
	var mu sync.Mutex
	stamps := map[string]bool{}
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s := a
			if i%2 == 1 {
				s = b
			}
			for j := 0; j < 10; j++ {
				res := s.Do(R{Method: "POST", Path: "/v1/buckets/b/collections/c/records", Auth: rosa, Body: `{}`})
				mu.Lock()
				if res.Status != 201 {
					t.Errorf("creation answered %d: %s", res.Status, res.Raw)
				}
				stamps[res.Header.Get("ETag")] = true
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	if len(stamps) != 80 {
		t.Errorf("%d distinct timestamps for 80 creations", len(stamps))
	}

	// Batch atomicity seen from the other instance.
	var seen sync.Map
	done := make(chan bool)
	go func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			h := b.Do(R{Method: "HEAD", Path: "/v1/buckets/b/collections/batch/records", Auth: rosa})
			seen.Store(h.Header.Get("Total-Objects"), true)
		}
	}()
	body := `{"defaults":{"method":"POST","path":"/buckets/b/collections/batch/records"},"requests":[{"method":"PUT","path":"/buckets/b/collections/batch"}`
	for i := 0; i < 20; i++ {
		body += `,{"body":{"data":{"n":1}}}`
	}
	a.Do(R{Method: "POST", Path: "/v1/batch", Auth: rosa, Body: body + `]}`}).Expect(t, 200, 0)
	close(done)
	seen.Range(func(k, _ any) bool {
		if k != "" && k != "0" && k != "20" {
			t.Errorf("B saw a partial batch: %v records", k)
		}
		return true
	})

	// Password change and deletion take effect on both at once.
	if whoami(b, rosa) == "" {
		t.Fatal("cached on B")
	}
	a.Do(R{Method: "PATCH", Path: "/v1/accounts/rosa", Auth: rosa, Body: `{"data":{"password":"new-pw"}}`}).Expect(t, 200, 0)
	if whoami(b, rosa) != "" {
		t.Error("the old password must fail on B at once")
	}
	tok := login(t, b, `{"data":{"username":"rosa","password":"new-pw"}}`)
	if whoami(a, bearer(tok)) != "account:rosa" {
		t.Error("a token from B works on A")
	}
	b.Do(R{Method: "DELETE", Path: "/v1/account/tokens/current", Auth: bearer(tok)}).Expect(t, 200, 0)
	if whoami(a, bearer(tok)) != "" {
		t.Error("a token revoked on B fails on A at once")
	}
	a.Do(R{Method: "DELETE", Path: "/v1/accounts/rosa", Auth: basic("rosa", "new-pw")}).Expect(t, 200, 0)
	if whoami(b, basic("rosa", "new-pw")) != "" {
		t.Error("a deleted account fails on B at once")
	}
}

// TestKintoAccountRows: Kinto stores each account under its own id as
// parent_id. An account Kinto created authenticates on Nimbus, and one
// Nimbus creates is laid out the same way (checked against Kinto 26.2
// itself, see the closing notes of issue 7).
func TestKintoAccountRows(t *testing.T) {
	pg := pgtest.Start(t)
	url := pg.NewDatabase(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	hash, _ := bcrypt.GenerateFromPassword([]byte("kinto-pw"), 4)
	for _, q := range []string{
		`INSERT INTO objects (id, parent_id, resource_name, data, last_modified, deleted)
		  VALUES ('karl', 'karl', 'account', jsonb_build_object('password', '` + string(hash) + `'), from_epoch(1700000000000), FALSE)`,
		`INSERT INTO timestamps (parent_id, resource_name, last_modified) VALUES ('karl', 'account', from_epoch(1700000000000))`,
		`INSERT INTO access_control_entries (object_id, permission, principal) VALUES ('/accounts/karl', 'write', 'account:karl')`,
		// As an earlier Nimbus build stored accounts: "nimbus migrate"
		// moves them under their own id.
		`INSERT INTO objects (id, parent_id, resource_name, data, last_modified, deleted)
		  VALUES ('olga', '', 'account', jsonb_build_object('password', '` + string(hash) + `'), from_epoch(1700000000001), FALSE)`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := postgres.Migrate(ctx, url); err != nil {
		t.Fatal(err)
	}
	s := apitest.NewPostgresConns(t, url, 0, base)
	karl := basic("karl", "kinto-pw")
	if whoami(s, karl) != "account:karl" {
		t.Fatal("an account stored by Kinto does not authenticate")
	}
	if whoami(s, basic("olga", "kinto-pw")) != "account:olga" {
		t.Fatal("nimbus migrate did not move an account of an earlier build")
	}
	if r := s.Do(R{Method: "GET", Path: "/v1/accounts/karl", Auth: karl}).Expect(t, 200, 0); r.Header.Get("ETag") != `"1700000000000"` {
		t.Errorf("Kinto's account: %s %s", r.Header.Get("ETag"), r.Raw)
	}
	signup(t, s, "nina", "nina-pw")
	signup(t, s, "admin", "admin-pw")
	if ids := s.Do(R{Method: "GET", Path: "/v1/accounts?_sort=id", Auth: basic("admin", "admin-pw")}).Expect(t, 200, 0).IDs(); fmt.Sprint(ids) != "[admin karl nina olga]" {
		t.Errorf("admin's account list: %v", ids)
	}
	if ids := s.Do(R{Method: "GET", Path: "/v1/accounts", Auth: karl}).Expect(t, 200, 0).IDs(); fmt.Sprint(ids) != "[karl]" {
		t.Errorf("karl's account list: %v", ids)
	}
	var n int
	conn.QueryRow(ctx, `SELECT COUNT(*) FROM objects WHERE id = 'nina' AND parent_id = 'nina' AND resource_name = 'account' AND NOT deleted`).Scan(&n)
	if n != 1 {
		t.Error("Nimbus's account row is not under its own id, as Kinto reads it")
	}
	conn.QueryRow(ctx, `SELECT COUNT(*) FROM timestamps WHERE parent_id = 'nina' AND resource_name = 'account'`).Scan(&n)
	if n != 1 {
		t.Error("Nimbus's account timestamp row")
	}
	s.Do(R{Method: "DELETE", Path: "/v1/accounts/karl", Auth: karl}).Expect(t, 200, 0)
	conn.QueryRow(ctx, `SELECT COUNT(*) FROM objects WHERE id = 'karl' AND parent_id = 'karl' AND resource_name = 'account' AND deleted`).Scan(&n)
	if n != 1 {
		t.Error("the tombstone of Kinto's account")
	}
	if whoami(s, karl) == "account:karl" {
		t.Error("a deleted account still authenticates")
	}
}
