package resource_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage/memory"
)

// bigAnswers serves GET /big?n=N, a JSON answer of about N bytes.
type bigAnswers struct{}

func (bigAnswers) Name() string { return "biganswers" }

func (bigAnswers) Register(r *resource.Registry) error {
	return r.AddRoute(resource.Route{Method: http.MethodGet, Path: "/big", Summary: "A large answer.",
		Handler: func(req *resource.Request) error {
			n, _ := strconv.Atoi(req.QueryParam("n"))
			return req.JSON(http.StatusOK, map[string]any{"data": strings.Repeat("x", n)})
		}})
}

// notReading asks for a large answer on a connection with a small
// receive buffer and reads its status line only (the server writes it
// once the answer holds its share), then nothing until the test is over.
func notReading(t *testing.T, srvURL string, n int) (net.Conn, io.Reader) {
	t.Helper()
	u, _ := url.Parse(srvURL)
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) //nolint:errcheck // a smaller buffer only makes the test quicker
		})
	}}
	conn, err := d.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "GET /v1/big?n=%d HTTP/1.1\r\nHost: x\r\n\r\n", n)
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("no status line: %v", err)
	}
	return conn, io.MultiReader(strings.NewReader(line), br)
}

// TestAnswerBudget: answers of 64 KiB or more are written with their
// length, within response_budget_bytes; one that does not fit while a
// client that does not read holds the budget is refused after a second
// with 503 errno 201 and Retry-After; the client that does not read is cut
// after response_send_timeout_seconds without progress, which frees the
// budget; a budget of 0 is no budget.
func TestAnswerBudget(t *testing.T) {
	const huge = 16 << 20 // more than loopback's buffers take
	cases := []struct {
		name, budget, timeout string
		holder                bool          // a client that does not read asks first
		after                 time.Duration // then a reading client asks, this much later (once it is cut)
		want                  int
		holderCut             bool
	}{
		{"a reading client is served whole", "40000000", "60", false, 0, 200, false},
		{"the budget held by a client that does not read", "20000000", "60", true, 200 * time.Millisecond, 503, false},
		{"that client cut after the send timeout", "20000000", "1", true, 0, 200, true},
		{"no budget", "0", "60", true, 200 * time.Millisecond, 200, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logs := &syncBuffer{}
			srv := serveOn(t, memory.New(), slog.New(slog.NewTextHandler(logs, nil)), map[string]string{"response_budget_bytes": tc.budget,
				"response_send_timeout_seconds": tc.timeout, "userid_hmac_secret": "s"}, bigAnswers{})
			var held net.Conn
			var heldAnswer io.Reader
			if tc.holder {
				held, heldAnswer = notReading(t, srv.URL, huge)
			}
			if tc.holderCut {
				// Once the holder is cut (its writes made no progress for a
				// second), its share is free again.
				for deadline := time.Now().Add(20 * time.Second); !strings.Contains(logs.String(), "answer not taken"); {
					if time.Now().After(deadline) {
						t.Fatalf("the holder was not cut:\n%s", logs.String())
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
			time.Sleep(tc.after)
			resp, err := http.Get(srv.URL + fmt.Sprintf("/v1/big?n=%d", huge))
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %.200s", resp.StatusCode, tc.want, body)
			}
			if tc.want == 200 {
				if resp.ContentLength != int64(len(body)) || len(body) < huge {
					t.Errorf("Content-Length %d for %d bytes", resp.ContentLength, len(body))
				}
			} else {
				var e map[string]any
				json.Unmarshal(body, &e)
				if e["errno"] != float64(201) || resp.Header.Get("Retry-After") == "" {
					t.Errorf("refusal %v, Retry-After %q", e, resp.Header.Get("Retry-After"))
				}
				if !strings.Contains(logs.String(), "setting=response_budget_bytes") || strings.Contains(logs.String(), "backend unavailable") {
					t.Errorf("the log does not name the budget:\n%s", logs.String())
				}
			}
			if held == nil {
				return
			}
			// What the holder gets when it reads at last: the whole
			// answer, or a part and the end of a closed connection.
			held.SetReadDeadline(time.Now().Add(10 * time.Second))
			var got []byte
			hr, err := http.ReadResponse(bufio.NewReader(heldAnswer), nil)
			if err == nil {
				got, err = io.ReadAll(hr.Body)
				hr.Body.Close()
			}
			if cut := err != nil || len(got) < huge; cut != tc.holderCut {
				t.Errorf("holder read %d bytes (%v), cut %v, want cut %v", len(got), err, cut, tc.holderCut)
			}
			if cut := strings.Contains(logs.String(), "answer not taken by the client in time"); cut != tc.holderCut {
				t.Errorf("cut logged %v, want %v:\n%s", cut, tc.holderCut, logs.String())
			}
		})
	}
}
