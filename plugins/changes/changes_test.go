package changes_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/bolt"
	"github.com/nimbus-server/nimbus/storage/memory"
	"github.com/nimbus-server/nimbus/storage/postgres"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

type R = apitest.Req

var alice, bob = apitest.Basic("alice", "pw"), apitest.Basic("bob", "pw")

var base = map[string]string{"includes": "changes", "bucket_create_principals": "system.Authenticated"}

func settings(extra map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// onBackends runs fn on servers over memory, bolt and PostgreSQL.
func onBackends(t *testing.T, extra map[string]string, fn func(t *testing.T, s *apitest.Server)) {
	t.Run("memory", func(t *testing.T) { fn(t, apitest.New(t, settings(extra))) })
	t.Run("bolt", func(t *testing.T) {
		b, err := bolt.Open(filepath.Join(t.TempDir(), "nimbus.db"), bolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		fn(t, apitest.NewWithBackend(t, b, settings(extra)))
	})
	t.Run("postgresql", func(t *testing.T) {
		fn(t, apitest.NewWithBackend(t, openPG(t, pgtest.Start(t).NewDatabase(t)), settings(extra)))
	})
}

func openPG(t *testing.T, url string) *postgres.Backend {
	t.Helper()
	b, err := postgres.Open(context.Background(), url, postgres.Options{MaxConns: 10})
	if err != nil {
		t.Fatal(err)
	}
	pgtest.WaitCache(t, b)
	return b
}

func seed(t *testing.T, s *apitest.Server) {
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
}

const records = "/v1/buckets/b/collections/c/records"

func put(t *testing.T, s *apitest.Server, id, body string) int64 {
	t.Helper()
	r := s.Do(R{Method: "PUT", Path: records + "/" + id, Auth: alice, Body: body})
	if r.Status != 200 && r.Status != 201 {
		t.Fatalf("PUT %s: %d %s", id, r.Status, r.Raw)
	}
	return num(r.Data()["last_modified"])
}

func num(v any) int64 {
	switch x := v.(type) {
	case float64:
		return int64(x)
	case interface{ Int64() (int64, error) }:
		n, _ := x.Int64()
		return n
	}
	var n int64
	fmt.Sscan(fmt.Sprint(v), &n)
	return n
}

// TestCatchUpLiveAndResume follows a list from _since, then live, then
// resumes with Last-Event-ID: every change once, in order, with its
// action.
func TestCatchUpLiveAndResume(t *testing.T) {
	onBackends(t, nil, func(t *testing.T, s *apitest.Server) {
		seed(t, s)
		t1 := put(t, s, "r1", `{"data":{"n":1}}`)
		put(t, s, "r2", `{"data":{"n":2}}`)
		c := follow(t, s, records+fmt.Sprintf("?_since=%d", t1), alice, nil)
		if c.Status != 200 || c.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("status %d %v %v", c.Status, c.Header, c.Body)
		}
		if ev := c.next(t); ev.Name != "create" || ev.obj()["id"] != "r2" {
			t.Fatalf("catch-up: %v", ev)
		}
		ready := c.next(t)
		if ready.Name != "ready" || num(ready.Data["timestamp"]) == 0 {
			t.Fatalf("ready: %v", ready)
		}
		t3 := put(t, s, "r3", `{"data":{"n":3}}`)
		put(t, s, "r1", `{"data":{"n":10}}`)
		s.Do(R{Method: "DELETE", Path: records + "/r2", Auth: alice}).Expect(t, 200, 0)
		want := []struct{ name, id string }{{"create", "r3"}, {"update", "r1"}, {"delete", "r2"}}
		last := ready.ID
		for _, w := range want {
			ev := c.next(t)
			if ev.Name != w.name || ev.obj()["id"] != w.id || ev.ID <= last || ev.ID != num(ev.obj()["last_modified"]) {
				t.Fatalf("live: got %v, want %s %s after id %d", ev, w.name, w.id, last)
			}
			last = ev.ID
		}
		c.cancel()
		// Changes while away, then a reconnection from r3's id.
		put(t, s, "r4", `{"data":{"n":4}}`)
		again := follow(t, s, records, alice, map[string]string{"Last-Event-ID": fmt.Sprint(t3)})
		var got []string
		for {
			ev := again.next(t)
			if ev.Name == "ready" {
				break
			}
			got = append(got, ev.Name+" "+fmt.Sprint(ev.obj()["id"]))
		}
		if fmt.Sprint(got) != "[update r1 delete r2 create r4]" {
			t.Errorf("resumed: %v", got)
		}
		again.quiet(t, 300*time.Millisecond)
	})
}

// TestVisibility: a caller sees the changes of the objects they may read
// (PERM-07), the deletion of those they could read, and their stream
// ends when they can no longer read the list.
func TestVisibility(t *testing.T) {
	onBackends(t, nil, func(t *testing.T, s *apitest.Server) {
		seed(t, s)
		bobID := s.Do(R{Method: "GET", Path: "/v1/", Auth: bob}).Body["user"].(map[string]any)["id"].(string)
		put(t, s, "mine", `{"data":{"n":1},"permissions":{"read":["`+bobID+`"]}}`)
		put(t, s, "other", `{"data":{"n":2}}`)
		c := follow(t, s, records+"?_since=0", bob, nil)
		if ev := c.next(t); ev.obj()["id"] != "mine" {
			t.Fatalf("bob's catch-up: %v", ev)
		}
		c.next(t) // ready
		put(t, s, "other", `{"data":{"n":3}}`)
		put(t, s, "mine", `{"data":{"n":4},"permissions":{"read":["`+bobID+`"]}}`)
		if ev := c.next(t); ev.Name != "update" || ev.obj()["id"] != "mine" {
			t.Fatalf("bob sees his record only: %v", ev)
		}
		s.Do(R{Method: "DELETE", Path: records + "/mine", Auth: alice}).Expect(t, 200, 0)
		if ev := c.next(t); ev.Name != "delete" || ev.obj()["id"] != "mine" {
			t.Fatalf("the deletion of a record bob could read: %v", ev)
		}
		// Bob now holds no grant on the list: his stream ends (PLUG-RT).
		if evs := c.ended(t); len(evs) != 1 || evs[0].Name != "error" || num(evs[0].Data["code"]) != 403 {
			t.Fatalf("after his last record: %v", evs)
		}
		// A stranger cannot open the stream at all.
		if x := follow(t, s, records, apitest.Basic("carol", "pw"), nil); x.Status != 403 || num(x.Body["errno"]) != 121 {
			t.Errorf("stranger: %d %v", x.Status, x.Body)
		}
		// Read on the whole collection, then taken back.
		s.Do(R{Method: "PATCH", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: `{"permissions":{"read":["` + bobID + `"]}}`}).Expect(t, 200, 0)
		whole := follow(t, s, records, bob, nil)
		whole.next(t) // ready
		put(t, s, "other", `{"data":{"n":5}}`)
		if ev := whole.next(t); ev.obj()["id"] != "other" {
			t.Fatalf("with read on the collection: %v", ev)
		}
		s.Do(R{Method: "PATCH", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: `{"permissions":{"read":[]}}`}).Expect(t, 200, 0)
		put(t, s, "other", `{"data":{"n":6}}`)
		evs := whole.ended(t)
		if len(evs) != 1 || evs[0].Name != "error" || num(evs[0].Data["code"]) != 403 {
			t.Errorf("losing read ends the stream with an error: %v", evs)
		}
	})
}

// TestFiltersFieldsAndRefusals: filters and _fields apply as on the list;
// paging and ordering parameters, other endpoints and HEAD are refused.
func TestFiltersFieldsAndRefusals(t *testing.T) {
	s := apitest.New(t, settings(nil))
	seed(t, s)
	c := follow(t, s, records+"?color=red&_fields=color", alice, nil)
	c.next(t) // ready
	put(t, s, "a", `{"data":{"color":"blue","size":1}}`)
	put(t, s, "b", `{"data":{"color":"red","size":2}}`)
	ev := c.next(t)
	if o := ev.obj(); o["id"] != "b" || o["color"] != "red" || o["size"] != nil || o["last_modified"] == nil {
		t.Errorf("filtered, projected: %v", ev)
	}
	for _, q := range []string{"_sort=id", "_limit=2", "_token=x", "_before=1", "_since=abc", "gt_last_modified=x"} {
		x := follow(t, s, records+"?"+q, alice, nil)
		if x.Status != 400 || num(x.Body["errno"]) != 107 {
			t.Errorf("?%s: %d %v", q, x.Status, x.Body)
		}
	}
	if x := follow(t, s, records, alice, map[string]string{"Last-Event-ID": "yesterday"}); x.Status != 400 {
		t.Errorf("bad Last-Event-ID: %d", x.Status)
	}
	for _, path := range []string{"/v1/buckets/b", records + "/a", "/v1/", "/v1/__heartbeat__"} {
		if x := follow(t, s, path, alice, nil); x.Status != 406 {
			t.Errorf("%s: %d, want 406", path, x.Status)
		}
	}
	if x := follow(t, s, "/v1/buckets/b/collections/missing/records", alice, nil); x.Status != 403 && x.Status != 404 {
		t.Errorf("missing collection: %d", x.Status)
	}
	if x := follow(t, s, records, "", nil); x.Status != 401 {
		t.Errorf("anonymous: %d", x.Status)
	}
	api := s.Do(R{Method: "GET", Path: "/v1/__api__"}).Expect(t, 200, 0)
	if !strings.Contains(string(api.Raw), "text/event-stream") {
		t.Error("the OpenAPI document mentions the streams")
	}
	caps := s.Do(R{Method: "GET", Path: "/v1/"}).Body["capabilities"].(map[string]any)
	if cs, ok := caps["changes_stream"].(map[string]any); !ok || num(cs["keepalive_seconds"]) != 15 || num(cs["max_connections"]) != 10000 {
		t.Errorf("capability: %v", caps["changes_stream"])
	}
}

// TestLimits: per-user and per-instance stream limits, and a reader that
// falls behind is told so and disconnected.
func TestLimits(t *testing.T) {
	s := apitest.New(t, settings(map[string]string{"stream_max_connections": "3", "stream_max_connections_per_user": "2",
		"stream_buffer_events": "3", "stream_keepalive_seconds": "1"}))
	seed(t, s)
	a1, a2 := follow(t, s, records, alice, nil), follow(t, s, records, alice, nil)
	if x := follow(t, s, records, alice, nil); x.Status != 429 || num(x.Body["errno"]) != 117 {
		t.Errorf("third stream of one user: %d %v", x.Status, x.Body)
	}
	s.Do(R{Method: "PATCH", Path: "/v1/buckets/b", Auth: alice, Body: `{"permissions":{"read":["system.Authenticated"]}}`}).Expect(t, 200, 0)
	b1 := follow(t, s, records, bob, nil)
	if x := follow(t, s, records, apitest.Basic("carol", "pw"), nil); x.Status != 503 || x.Header.Get("Retry-After") == "" {
		t.Errorf("beyond the instance's limit: %d %v", x.Status, x.Body)
	}
	for _, c := range []*client{a1, a2, b1} {
		c.next(t) // ready
	}
	a2.cancel()
	a2.ended(t)
	time.Sleep(100 * time.Millisecond)
	a3 := follow(t, s, records, alice, nil)
	if a3.Status != 200 {
		t.Fatalf("a closed stream frees its place: %d %v", a3.Status, a3.Body)
	}
	// One batch of 5 creates: more than the buffer of 3 at once.
	reqs := ""
	for i := 0; i < 5; i++ {
		reqs += fmt.Sprintf(`,{"method":"PUT","path":"/buckets/b/collections/c/records/x%d","body":{"data":{}}}`, i)
	}
	s.Do(R{Method: "POST", Path: "/v1/batch", Auth: alice, Body: `{"requests":[` + reqs[1:] + `]}`}).Expect(t, 200, 0)
	evs := a1.ended(t)
	if len(evs) == 0 || evs[len(evs)-1].Name != "error" {
		t.Errorf("a reader behind by more than the buffer is ended: %v", evs)
	}
}

// TestConcurrentWritersNoGapNoDuplicate: streams opened before and during
// concurrent writes each receive every change exactly once, in order.
func TestConcurrentWritersNoGapNoDuplicate(t *testing.T) {
	onBackends(t, nil, func(t *testing.T, s *apitest.Server) {
		seed(t, s)
		early := follow(t, s, records, alice, nil)
		early.next(t)
		var wg sync.WaitGroup
		const writers, each = 4, 25
		var mid *client
		var midOnce sync.Once
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; i < each; i++ {
					id := fmt.Sprintf("w%d-%d", w, i)
					if r := s.Do(R{Method: "PUT", Path: records + "/" + id, Auth: alice, Body: `{"data":{}}`}); r.Status != 201 {
						t.Errorf("PUT %s: %d", id, r.Status)
					}
					if w == 0 && i == each/2 {
						midOnce.Do(func() { mid = follow(t, s, records+"?_since=0", alice, nil) })
					}
				}
			}(w)
		}
		wg.Wait()
		for name, c := range map[string]*client{"early": early, "mid": mid} {
			seen := map[string]bool{}
			var last int64
			for len(seen) < writers*each {
				ev := c.next(t)
				if ev.Name == "ready" {
					continue
				}
				id := fmt.Sprint(ev.obj()["id"])
				if seen[id] || ev.ID <= last {
					t.Fatalf("%s: %s twice or out of order (id %d after %d)", name, id, ev.ID, last)
				}
				seen[id], last = true, ev.ID
			}
			c.quiet(t, 200*time.Millisecond)
		}
	})
}

// TestSeveralInstances: on PostgreSQL a stream hears the changes
// committed through another instance, and those another server (Kinto)
// writes straight into the shared tables.
func TestSeveralInstances(t *testing.T) {
	pg := pgtest.Start(t)
	url := pg.NewDatabase(t)
	a := apitest.NewWithBackend(t, openPG(t, url), settings(map[string]string{"storage_backend": "postgresql"}))
	b := apitest.NewWithBackend(t, openPG(t, url), settings(map[string]string{"storage_backend": "postgresql"}))
	seed(t, a)
	c := follow(t, a, records, alice, nil)
	c.next(t) // ready
	put(t, b, "from-b", `{"data":{"n":1}}`)
	if ev := c.next(t); ev.Name != "create" || ev.obj()["id"] != "from-b" {
		t.Fatalf("a change through the other instance: %v", ev)
	}
	// Kinto's own writes: a row inserted by SQL, its timestamp set by
	// Kinto's trigger.
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `INSERT INTO objects (id, parent_id, resource_name, data, last_modified, deleted)
		VALUES ('from-kinto', '/buckets/b/collections/c', 'record', '{"n": 2}', NULL, FALSE)`); err != nil {
		t.Fatal(err)
	}
	if ev := c.next(t); ev.Name != "create" || ev.obj()["id"] != "from-kinto" {
		t.Fatalf("a row written by another server: %v", ev)
	}
	// Accounts are stored under their own id: their stream still hears them.
	acc := settings(map[string]string{"storage_backend": "postgresql", "includes": "changes accounts", "multiauth.policies": "account",
		"account_create_principals": "system.Everyone", "account_write_principals": "account:admin", "account_read_principals": "account:admin",
		"account_bcrypt_cost": "4"})
	a2 := apitest.NewWithBackend(t, openPG(t, url), acc)
	b2 := apitest.NewWithBackend(t, openPG(t, url), acc)
	a2.Do(R{Method: "PUT", Path: "/v1/accounts/admin", Body: `{"data":{"password":"admin-pw"}}`}).Expect(t, 201, 0)
	admins := follow(t, a2, "/v1/accounts", apitest.Basic("admin", "admin-pw"), nil)
	admins.next(t)
	b2.Do(R{Method: "PUT", Path: "/v1/accounts/zoe", Body: `{"data":{"password":"zoe-pw"}}`}).Expect(t, 201, 0)
	if ev := admins.next(t); ev.Name != "create" || ev.obj()["id"] != "zoe" {
		t.Fatalf("an account created through the other instance: %v", ev)
	}
}

// TestCredentialsAndShutdown: a revoked token ends its stream within
// stream_recheck_seconds, history lists stream too, and shutting the
// server down ends every stream.
func TestCredentialsAndShutdown(t *testing.T) {
	s := apitest.New(t, settings(map[string]string{"includes": "changes accounts history", "multiauth.policies": "account",
		"account_create_principals": "system.Everyone", "account_write_principals": "account:admin",
		"account_bcrypt_cost": "4", "stream_recheck_seconds": "1"}))
	s.Do(R{Method: "PUT", Path: "/v1/accounts/ann", Body: `{"data":{"password":"ann-pw"}}`}).Expect(t, 201, 0)
	ann := apitest.Basic("ann", "ann-pw")
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: ann, Body: `{}`}).Expect(t, 201, 0)
	tok := s.Do(R{Method: "POST", Path: "/v1/account/tokens", Body: `{"data":{"username":"ann","password":"ann-pw"}}`})
	if tok.Status != 201 {
		t.Fatalf("token: %d %s", tok.Status, tok.Raw)
	}
	bearer := "Bearer " + tok.Data()["token"].(string)
	key := tok.Data()["key"].(string)
	byToken := follow(t, s, "/v1/buckets/b/collections", bearer, nil)
	byToken.next(t) // ready
	history := follow(t, s, "/v1/buckets/b/history", ann, nil)
	history.next(t)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: ann, Body: `{}`}).Expect(t, 201, 0)
	if ev := byToken.next(t); ev.obj()["id"] != "c" {
		t.Fatalf("collections stream: %v", ev)
	}
	if ev := history.next(t); ev.Name != "create" || ev.obj()["uri"] != "/buckets/b/collections/c" {
		t.Fatalf("the bucket's history is its feed: %v", ev)
	}
	s.Do(R{Method: "DELETE", Path: "/v1/account/tokens/" + key, Auth: ann}).Expect(t, 200, 0)
	if evs := byToken.ended(t); len(evs) != 1 || evs[0].Name != "error" || num(evs[0].Data["code"]) != 401 {
		t.Errorf("a revoked token's stream: %v", evs)
	}
	s.App.Shutdown()
	if evs := history.ended(t); len(evs) != 0 {
		t.Errorf("shut down: %v", evs)
	}
}

// countingBackend counts the read transactions opened on a backend.
type countingBackend struct {
	storage.Backend
	views atomic.Int64
}

func (c *countingBackend) View(ctx context.Context, fn func(storage.Tx) error) error {
	c.views.Add(1)
	return c.Backend.View(ctx, fn)
}

// TestFanOutReadsOnce: a change costs one storage read transaction for
// every stream of its list: the page of changes and each user's
// visibility are read together (one snapshot, security review row 3),
// however many users and streams.
func TestFanOutReadsOnce(t *testing.T) {
	cases := []struct {
		name           string
		users, per     int
		maxReadsPerPut int64
		minReadsPerPut int64
	}{
		{"one user, 40 streams", 1, 40, 2, 1},
		{"8 users, 5 streams each", 8, 5, 2, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cb := &countingBackend{Backend: memory.New()}
			s := apitest.NewWithBackend(t, cb, settings(map[string]string{"stream_max_connections_per_user": "100"}))
			seed(t, s)
			s.Do(R{Method: "PATCH", Path: "/v1/buckets/b", Auth: alice, Body: `{"permissions":{"read":["system.Authenticated"]}}`}).Expect(t, 200, 0)
			var clients []*client
			for u := 0; u < c.users; u++ {
				for i := 0; i < c.per; i++ {
					cl := follow(t, s, records, apitest.Basic(fmt.Sprintf("user%d", u), "pw"), nil)
					cl.next(t) // ready
					clients = append(clients, cl)
				}
			}
			before := cb.views.Load()
			put(t, s, "r1", `{"data":{}}`)
			for _, cl := range clients {
				if ev := cl.next(t); ev.obj()["id"] != "r1" {
					t.Fatalf("event %v", ev)
				}
			}
			// The write itself reads nothing; the hub reads the changes
			// and every user's visibility in one transaction (a second
			// wake-up may read an empty page).
			if n := cb.views.Load() - before; n > c.maxReadsPerPut || n < c.minReadsPerPut {
				t.Errorf("%d read transactions for one change to %d streams, want %d to %d", n, len(clients), c.minReadsPerPut, c.maxReadsPerPut)
			}
		})
	}
}

// TestKeepAlive: an idle stream receives a comment line every
// stream_keepalive_seconds, with the headers a proxy needs.
func TestKeepAlive(t *testing.T) {
	s := apitest.New(t, settings(map[string]string{"stream_keepalive_seconds": "1"}))
	seed(t, s)
	req, _ := http.NewRequest("GET", s.URL+records, nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", alice)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.Header.Get("Cache-Control") != "no-cache" || res.Header.Get("X-Accel-Buffering") != "no" {
		t.Errorf("headers %v", res.Header)
	}
	got := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), ":") {
				got <- sc.Text()
				return
			}
		}
	}()
	select {
	case line := <-got:
		if line != ": keep-alive" {
			t.Errorf("comment %q", line)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no keep-alive within 5 s")
	}
}

// TestThroughThePersonalBucket: /buckets/default/... answers a stream as
// the real URL does (the alias leaves the Accept header to the route it
// reaches); what the real URL refuses it refuses too.
func TestThroughThePersonalBucket(t *testing.T) {
	s := apitest.New(t, settings(map[string]string{"includes": "changes default_bucket"}))
	const tasks = "/v1/buckets/default/collections/tasks/records"
	s.Do(R{Method: "POST", Path: tasks, Auth: alice, Body: `{"data":{"n":1}}`}).Expect(t, 201, 0)
	c := follow(t, s, tasks+"?_since=0", alice, nil)
	if c.Status != 200 || c.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream through the alias: %d %v", c.Status, c.Body)
	}
	if ev := c.next(t); ev.Name != "create" || num(ev.obj()["n"]) != 1 {
		t.Fatalf("catch-up: %v", ev)
	}
	if ev := c.next(t); ev.Name != "ready" {
		t.Fatalf("ready: %v", ev)
	}
	s.Do(R{Method: "POST", Path: tasks, Auth: alice, Body: `{"data":{"n":2}}`}).Expect(t, 201, 0)
	if ev := c.next(t); ev.Name != "create" || num(ev.obj()["n"]) != 2 {
		t.Fatalf("live: %v", ev)
	}
	if h := follow(t, s, "/v1/buckets/default/history?_since=0", alice, nil); h.Status != 404 {
		t.Errorf("history without its plugin: %d, want 404 as its real URL", h.Status)
	}
	for _, path := range []string{"/v1/buckets/default", tasks + "/x", "/v1/buckets/default/collections/tasks"} {
		if x := follow(t, s, path, alice, nil); x.Status != 406 {
			t.Errorf("%s: %d, want 406", path, x.Status)
		}
	}
	plain := s.Do(R{Method: "GET", Path: tasks, Auth: alice, Headers: map[string]string{"Accept": "text/html"}})
	if plain.Status != 406 {
		t.Errorf("Accept: text/html through the alias: %d", plain.Status)
	}
}
