package resource_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/permissions"
	"github.com/nimbus-server/nimbus/resource"
)

// gated declares top-level "memos" whose Prepare hook, and an auth
// method ("Gate <user>"), stop for ids and users named "slow..." until
// the test lets them go, and count how often they ran inside a batch's
// transaction.
type gated struct {
	entered  chan string
	release  chan struct{}
	abort    chan struct{} // closed when the test ends: nothing stays stopped
	inBatch  *atomic.Int32 // Prepare or a gated check run as a batch's sub-request
	prepares *atomic.Int32 // of the batches' sub-requests
}

func (gated) Name() string { return "gated" }

type gateAuth struct{ g gated }

func (a gateAuth) Authenticate(r *resource.Request) (string, resource.AuthResult) {
	scheme, name, ok := strings.Cut(r.Header().Get("Authorization"), " ")
	if !ok || scheme != "Gate" {
		return "", resource.NotMine
	}
	if strings.HasPrefix(name, "slow") {
		if r.InBatch() {
			a.g.inBatch.Add(1)
		}
		a.g.stop("auth " + name)
	}
	return name, resource.Accepted
}

// stop tells the test what stopped, and waits for it to go on.
func (g gated) stop(what string) {
	select {
	case g.entered <- what:
	case <-g.abort:
		return
	}
	select {
	case <-g.release:
	case <-g.abort:
	}
}

func (g gated) Register(r *resource.Registry) error {
	r.AddAuthMethod([]string{"gate"}, func(string) (resource.AuthMethod, error) { return gateAuth{g}, nil })
	if err := r.Tree().AddPermission(permissions.Root, "memo:create", permissions.Grants{permissions.Root: {"memo:create"}}); err != nil {
		return err
	}
	return r.AddResource(&resource.Resource{Name: "memo", Plural: "memos",
		Permissions: map[string]permissions.Grants{
			"read":  {"memo": {"read", "write"}},
			"write": {"memo": {"write"}},
		},
		Prepare: func(req *resource.Request, id string) error {
			if !strings.HasPrefix(id, "carol") { // the writes of the other client
				g.prepares.Add(1)
			}
			if req.InBatch() {
				g.inBatch.Add(1)
			}
			if strings.HasPrefix(id, "slow") {
				g.stop("prepare " + id)
			}
			return nil
		}})
}

// TestBatchWorkBeforeItsTransaction: a batch runs its sub-requests'
// Prepare hooks, and checks the credentials they send of their own,
// before it opens its write transaction, once each: while one of them is
// slow (hashing a password, verifying one), other clients' writes go on,
// where they used to wait for the batch's transaction to end.
func TestBatchWorkBeforeItsTransaction(t *testing.T) {
	g := gated{entered: make(chan string), release: make(chan struct{}), abort: make(chan struct{}), inBatch: &atomic.Int32{}, prepares: &atomic.Int32{}}
	srv := serveMemory(t, map[string]string{"multiauth.policies": "gate",
		"memo_create_principals": "system.Authenticated", "userid_hmac_secret": "s"}, g)
	t.Cleanup(func() { close(g.abort) }) // runs first
	client := &http.Client{Timeout: 10 * time.Second}
	do := callAs(srv, "Gate", client)
	cases := []struct {
		name, batch string
		gates       []string // what stops, in order
		statuses    []int
		prepares    int32 // Prepare runs in all, each once
	}{
		{"a slow Prepare", `{"requests":[{"method":"PUT","path":"/memos/slow1","body":{"data":{}}},` +
			`{"method":"POST","path":"/memos","body":{"data":{"id":"slow2"}}},{"method":"PATCH","path":"/memos/slow1","body":{"data":{"v":1}}}]}`,
			[]string{"prepare slow1", "prepare slow2", "prepare slow1"}, []int{201, 201, 200}, 3},
		{"a sub-request's own slow credentials", `{"requests":[{"method":"PUT","path":"/memos/m1","headers":{"Authorization":"Gate slowbob"}},` +
			`{"method":"GET","path":"/memos/m1","headers":{"Authorization":"Gate slowbob"}}]}`,
			[]string{"auth slowbob", "auth slowbob"}, []int{201, 200}, 1},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g.inBatch.Store(0)
			g.prepares.Store(0)
			type answer struct {
				status int
				body   []byte
			}
			done := make(chan answer, 1)
			go func() {
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/batch", strings.NewReader(tc.batch))
				req.Header.Set("Authorization", "Gate alice")
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					done <- answer{0, []byte(err.Error())}
					return
				}
				defer resp.Body.Close()
				var raw json.RawMessage
				_ = json.NewDecoder(resp.Body).Decode(&raw)
				done <- answer{resp.StatusCode, raw}
			}()
			for n, want := range tc.gates {
				select {
				case got := <-g.entered:
					if got != want {
						t.Fatalf("stop %d: %q, want %q", n, got, want)
					}
				case a := <-done:
					t.Fatalf("the batch answered %d %s before stop %d (%s)", a.status, a.body, n, want)
				}
				// Held up in the batch: another client's write is served.
				if s, b := do("carol", http.MethodPut, "/v1/memos/carol"+string(rune('a'+i))+string(rune('a'+n)), "{}"); s != http.StatusCreated {
					t.Fatalf("a write while the batch's %s is held: %d %s", want, s, b)
				}
				g.release <- struct{}{}
			}
			var a answer
			select {
			case a = <-done:
			case got := <-g.entered:
				t.Fatalf("%q ran again, inside the batch's transaction", got)
			}
			var body struct {
				Responses []struct{ Status int } `json:"responses"`
			}
			if a.status != http.StatusOK || json.Unmarshal(a.body, &body) != nil || len(body.Responses) != len(tc.statuses) {
				t.Fatalf("batch: %d %s", a.status, a.body)
			}
			for n, want := range tc.statuses {
				if body.Responses[n].Status != want {
					t.Errorf("sub-request %d: %d, want %d (%s)", n, body.Responses[n].Status, want, a.body)
				}
			}
			if n := g.prepares.Load(); n != tc.prepares {
				t.Errorf("Prepare ran %d times, want %d", n, tc.prepares)
			}
			if n := g.inBatch.Load(); n != 0 {
				t.Errorf("%d slow steps ran inside the batch's transaction", n)
			}
		})
	}
}
