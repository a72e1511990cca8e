package kinto_test

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

// rawExchange writes raw bytes on a new connection and returns the
// answer's status line and how long it took (the connection is read
// until the answer's headers end, or for one second).
func rawExchange(t *testing.T, s *apitest.Server, raw string) (string, *http.Response, time.Duration) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	conn.SetDeadline(start.Add(2 * time.Second))
	if _, err := conn.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		return "", nil, time.Since(start)
	}
	return res.Status, res, time.Since(start)
}

// TestHostileInputs are issue 27's four requests, each through a real
// listener.
func TestHostileInputs(t *testing.T) {
	s := apitest.New(t, nil)
	setup(t, s)
	t.Run("1 TB announced, a small body sent", func(t *testing.T) {
		status, res, took := rawExchange(t, s, "POST /v1/buckets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
			"Authorization: "+alice+"\r\nContent-Length: 1099511627776\r\n\r\n{\"data\":{}}")
		if res == nil || res.StatusCode != 413 || took > time.Second {
			t.Fatalf("answer %q after %v, want 413 within 1 s", status, took)
		}
		if res.Header.Get("Connection") != "close" && !res.Close {
			t.Errorf("the connection is kept open after a refused body")
		}
	})
	t.Run("HTTP/2 preface on the HTTP/1.1 port", func(t *testing.T) {
		status, res, _ := rawExchange(t, s, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
		if res != nil && (res.StatusCode < 400 || res.StatusCode >= 500) {
			t.Fatalf("answer %q, want a 4xx or the connection closed", status)
		}
	})
	t.Run("a segment below a record", func(t *testing.T) {
		for _, path := range []string{recs + "/r/extra", recs + "/r/extra/more", "/v1/buckets/b/collections/c/extra",
			"/v1/buckets/b/groups/g/extra"} {
			s.Do(R{Method: "GET", Path: path, Auth: alice}).Expect(t, 404, 111)
		}
		// No route serves such a path, whoever asks and whatever exists:
		// a caller who may not read the bucket got 403 before.
		for _, path := range []string{"/v1/buckets/nobody/collections/c/records/r/extra", "/v1/buckets/nobody/groups/g/x/y"} {
			for _, auth := range []string{alice, ""} {
				s.Do(R{Method: "GET", Path: path, Auth: auth}).Expect(t, 404, 111)
				s.Do(R{Method: "PUT", Path: path, Auth: auth, Body: `{}`}).Expect(t, 404, 111)
			}
		}
	})
}
