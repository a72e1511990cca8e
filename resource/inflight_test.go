package resource_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/permissions"
	"github.com/nimbus-server/nimbus/resource"
)

// slowNotes declares top-level "notes" whose PUT and PATCH stop in
// Prepare until the test lets them go, so that a read can arrive while a write of
// the same path is being served.
type slowNotes struct {
	entered chan string
	release chan struct{}
}

func (slowNotes) Name() string { return "slownotes" }

func (s slowNotes) Register(r *resource.Registry) error {
	r.AddAuthMethod([]string{"test"}, func(string) (resource.AuthMethod, error) { return testAuth{}, nil })
	if err := r.AddRoute(resource.Route{Method: http.MethodPost, Path: "/__flush__", Write: true, Summary: "Flush.",
		Handler: func(req *resource.Request) error {
			if err := req.Flush(); err != nil {
				return err
			}
			return req.JSON(http.StatusAccepted, map[string]any{})
		}}); err != nil {
		return err
	}
	if err := r.Tree().AddPermission(permissions.Root, "note:create", permissions.Grants{permissions.Root: {"note:create"}}); err != nil {
		return err
	}
	return r.AddResource(&resource.Resource{Name: "note", Plural: "notes",
		Permissions: map[string]permissions.Grants{
			"read":  {"note": {"read", "write"}},
			"write": {"note": {"write"}},
		},
		Prepare: func(_ *resource.Request, id string) error {
			if strings.HasPrefix(id, "slow") {
				s.entered <- id
				<-s.release
			}
			return nil
		}})
}

// TestReadWaitsForWriteUnderWay: a GET sent while the same user's PUT
// or PATCH of the same object is being served answers what that write
// did (Kinto Admin sends both at once when it creates a group); a GET of
// another path, or another user's GET, does not wait for it.
func TestReadWaitsForWriteUnderWay(t *testing.T) {
	notes, do := slowNotesServer(t)
	type answer struct {
		status int
		body   string
	}
	cases := []struct {
		name, method, body string
		status             int // of the write
		read               int // of the read sent while it runs
	}{
		{"a PUT that creates", http.MethodPut, `{"data":{"v":1}}`, http.StatusCreated, http.StatusOK},
		{"a PATCH", http.MethodPatch, `{"data":{"v":2}}`, http.StatusOK, http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			writeDone := make(chan answer, 1)
			go func() {
				s, b := do("alice", tc.method, "/v1/notes/slow1", tc.body)
				writeDone <- answer{s, b}
			}()
			<-notes.entered
			readDone := make(chan answer, 1)
			go func() {
				s, b := do("alice", http.MethodGet, "/v1/notes/slow1", "")
				readDone <- answer{s, b}
			}()
			// Another path, or another user's read of the same path, is
			// not held by the write under way (these answer while it is
			// still stopped in Prepare).
			if s, _ := do("alice", http.MethodGet, "/v1/notes/other", ""); s != http.StatusForbidden {
				t.Errorf("GET of another path: status %d, want 403 (no object, no permission to know)", s)
			}
			if s, _ := do("bob", http.MethodGet, "/v1/notes/slow1", ""); s != http.StatusForbidden {
				t.Errorf("bob's GET of the path alice writes: status %d, want 403", s)
			}
			// Let the read reach the server before the write ends: had
			// it not waited, it would answer the state before the write.
			time.Sleep(50 * time.Millisecond)
			notes.release <- struct{}{}
			w := <-writeDone
			if w.status != tc.status {
				t.Fatalf("write: status %d (%s), want %d", w.status, w.body, tc.status)
			}
			r := <-readDone
			if r.status != tc.read {
				t.Fatalf("read sent during the write: status %d (%s), want %d", r.status, r.body, tc.read)
			}
			if tc.method == http.MethodPatch && !strings.Contains(r.body, `"v":2`) {
				t.Errorf("read sent during the PATCH answered %s, want the patched object", r.body)
			}
		})
	}
}

// slowNotesServer serves slowNotes (and a flush route) on a memory store.
func slowNotesServer(t *testing.T) (slowNotes, caller) {
	t.Helper()
	notes := slowNotes{entered: make(chan string), release: make(chan struct{})}
	srv := serveMemory(t, map[string]string{"multiauth.policies": "test",
		"note_create_principals": "system.Authenticated", "userid_hmac_secret": "s"}, notes)
	return notes, callAs(srv, "Test", http.DefaultClient)
}

// TestFlushWaitsForEarlierRequests: a flush that arrives while a write is
// being served runs after it (kinto-http.js's suite flushes right after
// an unawaited write), so that the write does not land on the next
// test's data.
func TestFlushWaitsForEarlierRequests(t *testing.T) {
	notes, do := slowNotesServer(t)
	writeDone := make(chan int, 1)
	go func() {
		s, _ := do("alice", http.MethodPut, "/v1/notes/slow1", `{"data":{}}`)
		writeDone <- s
	}()
	<-notes.entered
	flushDone := make(chan int, 1)
	go func() {
		s, _ := do("", http.MethodPost, "/v1/__flush__", "")
		flushDone <- s
	}()
	select {
	case s := <-flushDone:
		notes.release <- struct{}{}
		t.Fatalf("the flush answered %d while an earlier write was still being served", s)
	case <-time.After(50 * time.Millisecond):
	}
	notes.release <- struct{}{}
	if s := <-writeDone; s != http.StatusCreated {
		t.Fatalf("write: status %d, want 201", s)
	}
	if s := <-flushDone; s != http.StatusAccepted {
		t.Fatalf("flush: status %d, want 202", s)
	}
	if s, b := do("alice", http.MethodGet, "/v1/notes/slow1", ""); s != http.StatusForbidden {
		t.Fatalf("the note after the flush: %d %s, want 403 (gone)", s, b)
	}
}
