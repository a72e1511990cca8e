package resource_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/resource"
)

// heldBodies serves POST /hold, whose handler tells the test the size of
// the body it got and answers once the test lets it go.
type heldBodies struct {
	entered chan int
	release chan struct{}
}

func (heldBodies) Name() string { return "heldbodies" }

func (h heldBodies) Register(r *resource.Registry) error {
	return r.AddRoute(resource.Route{Method: http.MethodPost, Path: "/hold", Summary: "Hold a body.",
		Handler: func(req *resource.Request) error {
			h.entered <- len(req.Body())
			<-h.release
			return req.JSON(http.StatusOK, map[string]any{"size": len(req.Body())})
		}})
}

type budgetAnswer struct {
	status     int
	errno      float64
	retryAfter string
}

// TestBodyBudget: request bodies of 64 KiB or more take their size from
// request_body_budget_bytes while they are served; one that does not fit
// waits, and after request_body_wait_seconds gets a 503 errno 201 with
// Retry-After. Smaller bodies never wait, a body sent without its length
// counts once read, and a budget of 0 is no budget.
func TestBodyBudget(t *testing.T) {
	large := `{"data":"` + strings.Repeat("x", 100<<10) + `"}` // 100 KiB: two fit in 250,000 bytes
	small := `{"data":"` + strings.Repeat("x", 1<<10) + `"}`
	cases := []struct {
		name    string
		budget  string
		held    int    // large bodies sent first and held in the handler
		body    string // then this one, while they are held
		chunked bool
		want    int // 200: served at once; 503: refused after the wait
	}{
		{"a third large body waits and is refused", "250000", 2, large, false, 503},
		{"a large body without its length", "250000", 2, large, true, 503},
		{"a small body does not wait", "250000", 2, small, false, 200},
		{"a large body that fits", "250000", 1, large, false, 200},
		{"no budget", "0", 2, large, false, 200},
		{"a body larger than the whole budget runs alone", "80000", 0, large, false, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := heldBodies{entered: make(chan int, 8), release: make(chan struct{})}
			srv := serveMemory(t, map[string]string{"request_body_budget_bytes": tc.budget,
				"request_body_wait_seconds": "1", "userid_hmac_secret": "s"}, h)
			send := func(body string, chunked bool) budgetAnswer {
				var rd io.Reader = strings.NewReader(body)
				if chunked {
					rd = io.MultiReader(rd) // no length known: sent chunked
				}
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/hold", rd)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return budgetAnswer{}
				}
				defer resp.Body.Close()
				var e map[string]any
				json.NewDecoder(resp.Body).Decode(&e) //nolint:errcheck // checked through the fields
				errno, _ := e["errno"].(float64)
				return budgetAnswer{resp.StatusCode, errno, resp.Header.Get("Retry-After")}
			}
			heldDone := make(chan budgetAnswer, tc.held)
			for range tc.held {
				go func() { heldDone <- send(large, false) }()
				if n := <-h.entered; n != len(large) {
					t.Fatalf("held handler got %d bytes, want %d", n, len(large))
				}
			}
			done := make(chan budgetAnswer, 1)
			go func() { done <- send(tc.body, tc.chunked) }()
			if tc.want == 200 {
				if n := <-h.entered; n != len(tc.body) {
					t.Errorf("handler got %d bytes, want %d", n, len(tc.body))
				}
				close(h.release)
			}
			var got budgetAnswer
			if tc.want == 503 {
				select {
				case got = <-done:
				case n := <-h.entered:
					t.Errorf("a body of %d bytes was served while the budget was spent", n)
				}
				close(h.release)
			} else {
				got = <-done
			}
			switch {
			case tc.want == 200 && got.status != 200:
				t.Errorf("status %d, want 200", got.status)
			case tc.want == 503 && (got.status != 503 || got.errno != resource.ErrnoBackend || got.retryAfter == ""):
				t.Errorf("got %+v, want 503 errno 201 with Retry-After", got)
			}
			for range tc.held {
				if a := <-heldDone; a.status != 200 {
					t.Errorf("held request answered %d", a.status)
				}
			}
			if tc.want == 503 {
				// What the held requests gave back lets a large body in.
				h2 := make(chan budgetAnswer, 1)
				go func() { h2 <- send(large, false) }()
				<-h.entered
				if a := <-h2; a.status != 200 {
					t.Errorf("after the others were answered: %d", a.status)
				}
			}
		})
	}
}

// TestBodyBudgetIgnoresBodiesNotSent: a client that announces a large body
// and sends little of it holds no share of the budget while it sends.
func TestBodyBudgetIgnoresBodiesNotSent(t *testing.T) {
	h := heldBodies{entered: make(chan int, 2), release: make(chan struct{})}
	close(h.release)
	srv := serveMemory(t, map[string]string{"request_body_budget_bytes": "150000",
		"request_body_wait_seconds": "1", "userid_hmac_secret": "s"}, h)
	slow, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fmt.Fprintf(slow, "POST /v1/hold HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"data\":\"", 120000)
	large := `{"data":"` + strings.Repeat("x", 100<<10) + `"}`
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/hold", strings.NewReader(large))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("a large body sent whole while another was announced: %d, want 200", resp.StatusCode)
	}
}
