package kinto_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

// TestHTTPLimits: hostile request shapes get Kinto-format errors the
// client can read.
func TestHTTPLimits(t *testing.T) {
	s := apitest.New(t, nil)
	setup(t, s)

	t.Run("CONNECT is 405", func(t *testing.T) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		io.WriteString(conn, "CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n")
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 405 || !bytes.Contains(body, []byte(`"errno":115`)) {
			t.Fatalf("CONNECT: %d %s", res.StatusCode, body)
		}
	})

	t.Run("large headers are 431", func(t *testing.T) {
		s.Do(R{Method: "GET", Path: "/v1/", Headers: map[string]string{"X-Big": strings.Repeat("a", 70<<10)}}).Expect(t, 431, 107)
		s.Do(R{Method: "GET", Path: "/v1/", Headers: map[string]string{"X-Big": strings.Repeat("a", 32<<10)}}).Expect(t, 200, 0)
	})

	t.Run("a 9 MB body gets a readable 413", func(t *testing.T) {
		body := `{"data":{"blob":"` + strings.Repeat("x", 9<<20) + `"}}`
		for _, chunked := range []bool{false, true} {
			var rd io.Reader = strings.NewReader(body)
			if chunked {
				rd = io.MultiReader(rd) // unknown length: sent chunked
			}
			req, _ := http.NewRequest("PUT", s.URL+recs+"/big", rd)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", alice)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("chunked=%v: the client must read the answer, got %v", chunked, err)
			}
			raw, _ := io.ReadAll(res.Body)
			res.Body.Close()
			var e map[string]any
			if res.StatusCode != 413 || json.Unmarshal(raw, &e) != nil || e["errno"] != float64(113) {
				t.Fatalf("chunked=%v: %d %s", chunked, res.StatusCode, raw)
			}
		}
		s.Do(R{Method: "GET", Path: recs + "/big", Auth: alice}).Expect(t, 404, 110)
	})
}
