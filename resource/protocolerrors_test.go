package resource_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/resource"
)

// TestProtocolErrorsAsJSON sends requests net/http refuses before any
// handler runs, over a raw connection, and checks that each answer is a
// Kinto error; and that the handlers' own answers, a plain-text one that
// closes the connection included, pass unchanged.
func TestProtocolErrorsAsJSON(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{MaxHeaderBytes: 2048, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The shape of net/http's own answers, sent by a handler.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, "400 Bad Request: from the handler") //nolint:errcheck // test server
	})}
	go srv.Serve(resource.ProtocolErrorsAsJSON(ln)) //nolint:errcheck // closed below
	t.Cleanup(func() { srv.Close() })

	for _, c := range []struct {
		name, request string
		status, errno int
		message       string // a part of it
	}{
		{"invalid percent-escape", "GET /v1/buckets/%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400, 107, "malformed"},
		{"lone percent sign", "GET /v1/buckets/a% HTTP/1.1\r\nHost: x\r\n\r\n", 400, 107, "malformed"},
		{"missing Host", "GET /v1/ HTTP/1.1\r\n\r\n", 400, 107, "missing required Host header"},
		{"malformed header", "GET /v1/ HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", 400, 107, "malformed"},
		{"malformed request line", "GET\r\nHost: x\r\n\r\n", 400, 107, "malformed"},
		{"unknown transfer coding", "POST /v1/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, 999, "transfer encoding"},
		{"unknown protocol version", "GET /v1/ HTTP/9.9\r\nHost: x\r\n\r\n", 505, 999, "protocol version"},
		{"headers too large", "GET /v1/ HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 8000) + "\r\n\r\n", 431, 107, "too large"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, raw := rawRequest(t, ln.Addr().String(), c.request)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, raw)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("no nosniff header: %v", resp.Header)
			}
			var body map[string]any
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Fatalf("not JSON: %q", raw)
			}
			if body["code"] != float64(c.status) || body["errno"] != float64(c.errno) || body["error"] != http.StatusText(c.status) {
				t.Errorf("body %v", body)
			}
			if msg, _ := body["message"].(string); !strings.Contains(msg, c.message) {
				t.Errorf("message %q lacks %q", msg, c.message)
			}
		})
	}

	t.Run("a handler's answer passes unchanged", func(t *testing.T) {
		resp, raw := rawRequest(t, ln.Addr().String(), "GET /v1/ HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp.StatusCode != 400 || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" || string(raw) != "400 Bad Request: from the handler" {
			t.Errorf("answer changed: %d %v %q", resp.StatusCode, resp.Header, raw)
		}
	})
}

func rawRequest(t *testing.T, addr, request string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck // test
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, raw
}
