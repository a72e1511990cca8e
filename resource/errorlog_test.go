package resource_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/memory"
)

// stallingBackend holds write transactions, once armed, until their
// request's context ends, then fails them with what fail makes of it.
type stallingBackend struct {
	storage.Backend
	armed   chan struct{}
	entered chan struct{}
	fail    func(error) error
}

func (b *stallingBackend) Update(ctx context.Context, fn func(storage.Tx) error) error {
	select {
	case <-b.armed:
		close(b.entered)
		<-ctx.Done()
		return b.fail(ctx.Err())
	default:
		return b.Backend.Update(ctx, fn)
	}
}

// syncBuffer is a log sink the server's goroutines write to while the
// test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// TestClientGoneIsNotAServerFailure: a client that closes its connection
// while its write waits for the storage cuts the call short. The storage
// reports the canceled context (raw, or wrapped as a backend error); the
// server must log the request as nginx's 499, not as a failure of its own
// (a 500 with an ERROR line, or a 503 "backend unavailable" warning),
// which would page an operator for every impatient client.
func TestClientGoneIsNotAServerFailure(t *testing.T) {
	cases := []struct {
		name string
		fail func(error) error
	}{
		{"raw context error", func(err error) error { return err }},
		{"backend error", func(err error) error { return &storage.BackendError{Op: "write", Err: err} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			backend := &stallingBackend{Backend: memory.New(), armed: make(chan struct{}), entered: make(chan struct{}), fail: tc.fail}
			logs := &syncBuffer{}
			srv := shelfServer(t, backend, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})))

			close(backend.armed)
			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v1/shelves/s1/books", strings.NewReader(`{"data":{"title":"t"}}`))
			req.Header.Set("Authorization", "Test alice")
			req.Header.Set("Content-Type", "application/json")
			done := make(chan error, 1)
			go func() {
				res, err := http.DefaultClient.Do(req)
				if err == nil {
					res.Body.Close()
				}
				done <- err
			}()
			<-backend.entered
			cancel()
			if err := <-done; err == nil {
				t.Fatal("the canceled request got an answer")
			}
			// The server notices the closed connection on its own time.
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(logs.String(), "path=/v1/shelves/s1/books status=") && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			out := logs.String()
			if !strings.Contains(out, "path=/v1/shelves/s1/books status=499") || !strings.Contains(out, "errno=999") {
				t.Fatalf("want the POST logged with status 499, errno 999:\n%s", out)
			}
			for _, bad := range []string{"level=ERROR", "request failed", "backend unavailable"} {
				if strings.Contains(out, bad) {
					t.Errorf("log holds %q for a client that went away:\n%s", bad, out)
				}
			}
		})
	}
}

// failingWrites fails every write transaction while on, as a database
// that cannot be reached does.
type failingWrites struct {
	storage.Backend
	on atomic.Bool
}

func (b *failingWrites) Update(ctx context.Context, fn func(storage.Tx) error) error {
	if b.on.Load() {
		return &storage.BackendError{Op: "write", Err: errors.New("database unreachable")}
	}
	return b.Backend.Update(ctx, fn)
}

// TestOutageWarnsOnce: while the storage is down every write answers
// 503 with Retry-After, and the server warns once, not once a request.
func TestOutageWarnsOnce(t *testing.T) {
	backend := &failingWrites{Backend: memory.New()}
	logs := &syncBuffer{}
	srv := shelfServer(t, backend, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	backend.on.Store(true)
	steps := make([]step, 20)
	for i := range steps {
		steps[i] = step{name: "write while down", method: http.MethodPost, path: "/v1/shelves/s1/books", user: "alice", body: `{"data":{}}`, status: http.StatusServiceUnavailable, errno: 201, header: map[string]string{"Retry-After": "*"}}
	}
	run(t, srv, steps)
	if n := strings.Count(logs.String(), "backend unavailable"); n != 1 {
		t.Fatalf("%d warnings for 20 failed writes within a second, want 1:\n%s", n, logs.String())
	}
}

// TestSlowBodyTimesOut: a client that announces a body and stops sending
// it gets a 408 once request_body_timeout_seconds is over, and its
// connection is closed, instead of holding it as long as it likes.
func TestSlowBodyTimesOut(t *testing.T) {
	srv := newEngine(t, map[string]string{"request_body_timeout_seconds": "1"})
	c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /v1/shelves HTTP/1.1\r\nHost: nimbus\r\nAuthorization: Test alice\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"data\"")
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var body map[string]any
	if res.StatusCode != http.StatusRequestTimeout || json.Unmarshal(raw, &body) != nil || body["errno"] != float64(999) || body["code"] != float64(408) {
		t.Fatalf("stalled body: %d %s", res.StatusCode, raw)
	}
	if !res.Close {
		t.Error("the connection of a stalled body stays open")
	}
}
