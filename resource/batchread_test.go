package resource_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/bolt"
)

// readRoutes serves GET /wait, which stops until the test lets it go,
// and GET /touch, a read that writes: it creates a note and answers how
// many there are.
type readRoutes struct {
	entered chan struct{}
	release chan struct{}
}

func (readRoutes) Name() string { return "readroutes" }

func (p readRoutes) Register(r *resource.Registry) error {
	notes := storage.Ref{Resource: "note"}
	if err := r.AddRoute(resource.Route{Method: http.MethodGet, Path: "/wait", Summary: "Wait.",
		Handler: func(req *resource.Request) error {
			p.entered <- struct{}{}
			<-p.release
			return req.JSON(http.StatusOK, map[string]any{})
		}}); err != nil {
		return err
	}
	return r.AddRoute(resource.Route{Method: http.MethodGet, Path: "/touch", Summary: "Write on a read.",
		Handler: func(req *resource.Request) error {
			n := 0
			err := req.Update(func(tx storage.Tx) error {
				count, err := tx.Count(notes, nil, false)
				if err != nil {
					return err
				}
				if _, err := tx.Create(notes, storage.Object{"id": fmt.Sprintf("t%d", count)}); err != nil {
					return err
				}
				n, err = tx.Count(notes, nil, false)
				return err
			})
			if err != nil {
				return err
			}
			return req.JSON(http.StatusOK, map[string]any{"count": n})
		}})
}

// TestBatchOfReads: a batch of GETs runs in a read transaction, so that
// a write sent meanwhile does not wait for it (on memory and bolt the
// write transaction is the store's only writer); a GET that writes makes
// the batch run as a write batch, whose writes are kept; a batch with a
// write runs as before, its reads seeing its writes.
func TestBatchOfReads(t *testing.T) {
	routes := readRoutes{entered: make(chan struct{}, 1), release: make(chan struct{})}
	notes := slowNotes{entered: make(chan string), release: make(chan struct{})}
	// On bolt: reads and writes run at once there (the memory store's
	// readers hold writers out, whatever the batch does).
	store, err := bolt.Open(filepath.Join(t.TempDir(), "b.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	logs := &syncBuffer{}
	srv := serveOn(t, store, slog.New(slog.NewTextHandler(logs, nil)), map[string]string{"multiauth.policies": "test",
		"note_create_principals": "system.Authenticated", "userid_hmac_secret": "s"}, notes, routes)
	do := callAs(srv, "Test", http.DefaultClient)
	batch := func(requests string) []int {
		status, body := do("alice", http.MethodPost, "/v1/batch", `{"requests":`+requests+`}`)
		var out struct {
			Responses []struct {
				Status int             `json:"status"`
				Body   json.RawMessage `json:"body"`
			} `json:"responses"`
		}
		if status != http.StatusOK || json.Unmarshal([]byte(body), &out) != nil {
			t.Errorf("batch %s: %d %s", requests, status, body)
			return nil
		}
		var statuses []int
		for _, r := range out.Responses {
			statuses = append(statuses, r.Status)
			var b struct{ Count *int }
			if json.Unmarshal(r.Body, &b) == nil && b.Count != nil {
				statuses = append(statuses, *b.Count)
			}
		}
		return statuses
	}

	t.Run("a write does not wait for a batch of reads", func(t *testing.T) {
		done := make(chan []int, 1)
		go func() { done <- batch(`[{"path":"/wait"},{"path":"/notes"}]`) }()
		select {
		case <-routes.entered:
		case got := <-done:
			t.Fatalf("the batch answered %v without waiting", got)
		}
		wrote := make(chan int, 1)
		go func() {
			s, _ := do("bob", http.MethodPut, "/v1/notes/n1", `{"data":{}}`)
			wrote <- s
		}()
		select {
		case s := <-wrote:
			if s != http.StatusCreated {
				t.Errorf("PUT during the batch: %d", s)
			}
		case <-time.After(5 * time.Second):
			t.Error("the PUT waited for the batch of reads")
			defer func() { <-wrote }()
		}
		close(routes.release)
		if got := <-done; fmt.Sprint(got) != "[200 200]" {
			t.Errorf("batch answered %v", got)
		}
	})
	cases := []struct {
		name, requests, want string
	}{
		{"a read that writes runs as a write", `[{"path":"/touch"},{"path":"/touch"}]`, "[200 2 200 3]"},
		{"and its writes are kept", `[{"path":"/touch","method":"HEAD"}]`, "[200]"},
		{"the writes are there", `[{"path":"/touch"}]`, "[200 5]"},
		{"a batch with a write reads its writes", `[{"method":"PUT","path":"/notes/n2","body":{"data":{"v":1}}},{"path":"/notes/n2"}]`, "[201 200]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := batch(tc.requests); fmt.Sprint(got) != tc.want {
				t.Errorf("got %v, want %s", got, tc.want)
			}
		})
	}
	if out := logs.String(); strings.Contains(out, "level=ERROR") || strings.Contains(out, "status=500") {
		t.Errorf("a batch of reads that writes is logged as a failure:\n%s", out)
	}
}
