package accounts_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/memory"
)

// readsAfterCancel, once armed, holds each read transaction until its
// request's context is over, then reads anyway, as a read served from a
// cache does: the password is then checked after the client went away,
// and the write that counts a failure comes last.
type readsAfterCancel struct {
	storage.Backend
	armed atomic.Bool
}

func (b *readsAfterCancel) View(ctx context.Context, fn func(storage.Tx) error) error {
	if b.armed.Load() {
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
		ctx = context.WithoutCancel(ctx)
	}
	return b.Backend.View(ctx, fn)
}

// halfClosedGuess sends a Basic-auth GET, closes its sending side at once
// (which ends the request's context on the server) and reads the answer.
func halfClosedGuess(t *testing.T, base, path, user, pw string) int {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pw))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: nimbus\r\nAuthorization: Basic %s\r\nConnection: close\r\n\r\n", path, auth)
	c.(*net.TCPConn).CloseWrite()
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestHalfClosedGuessesAreCounted (ACC-X-THR): a client that half-closes
// its connection after each guess still reads each verdict; every
// verdict it reads must count as a failure, or it could guess without
// end. (Counted with the request's context, the failures were dropped:
// the client going away had canceled it.)
func TestHalfClosedGuessesAreCounted(t *testing.T) {
	backend := &readsAfterCancel{Backend: memory.New()}
	s := malServer(t, backend)

	backend.armed.Store(true)
	var verdicts []int
	for i := 0; i < 6; i++ {
		verdicts = append(verdicts, halfClosedGuess(t, s.URL, "/v1/accounts/mal", "mal", fmt.Sprintf("guess-%d", i)))
	}
	backend.armed.Store(false)
	for i, v := range verdicts {
		want := http.StatusUnauthorized
		if i >= 3 {
			want = http.StatusTooManyRequests
		}
		if v != want {
			t.Fatalf("half-closed guesses answered %v; want three 401s, then 429s", verdicts)
		}
	}
	s.Do(R{Method: "GET", Path: "/v1/accounts/mal", Auth: basic("mal", "mal-right-pw")}).Expect(t, 429, 117)
}

// malServer serves the accounts plugin on backend with throttling after
// three failures, and mal's account (password mal-right-pw).
func malServer(t *testing.T, backend storage.Backend) *apitest.Server {
	t.Helper()
	settings := map[string]string{"account_login_max_failures": "3"}
	for k, v := range base {
		settings[k] = v
	}
	s := apitest.NewWithBackend(t, backend, settings)
	signup(t, s, "mal", "mal-right-pw")
	return s
}

// TestBatchedGuessesAreCounted (ACC-X-THR): guesses sent as the
// sub-requests of one batch count one by one, though a sub-request that
// fails has its writes rolled back; the batch's later guesses are
// throttled, and so is the pair after it. The login endpoint is not
// served inside a batch at all (TestPasswordRoutesOutOfBatches): its
// guesses get 400 and count for nothing.
func TestBatchedGuessesAreCounted(t *testing.T) {
	t.Run("login endpoint", func(t *testing.T) {
		s := malServer(t, memory.New())
		sub := `{"method":"POST","path":"/account/tokens","body":{"data":{"username":"mal","password":"guess"}}}`
		r := s.Do(R{Method: "POST", Path: "/v1/batch", Body: `{"requests":[` + strings.Repeat(sub+",", 5) + sub + `]}`}).Expect(t, 200, 0)
		if n := strings.Count(string(r.Raw), `"status":400`); n != 6 {
			t.Fatalf("logins inside a batch: %s", r.Raw)
		}
		s.Do(R{Method: "POST", Path: "/v1/account/tokens", Body: `{"data":{"username":"mal","password":"mal-right-pw"}}`}).Expect(t, 201, 0)
	})
	basicGet := func(pw string) string {
		return fmt.Sprintf(`{"method":"GET","path":"/accounts/mal","headers":{"Authorization":%q}}`, basic("mal", pw))
	}
	for _, c := range []struct {
		name string
		sub  func(string) string
	}{{"Basic auth of each sub-request", basicGet}} {
		t.Run(c.name, func(t *testing.T) {
			s := malServer(t, memory.New())
			subs := []string{}
			for i := 0; i < 5; i++ {
				subs = append(subs, c.sub(fmt.Sprintf("guess-%d", i)))
			}
			subs = append(subs, c.sub("mal-right-pw"))
			r := s.Do(R{Method: "POST", Path: "/v1/batch", Body: `{"requests":[` + strings.Join(subs, ",") + `]}`}).Expect(t, 200, 0)
			var got []int
			for _, res := range r.Body["responses"].([]any) {
				got = append(got, int(num(res.(map[string]any)["status"])))
			}
			want := []int{401, 401, 401, 429, 429, 429}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("batched guesses answered %v, want %v", got, want)
			}
			s.Do(R{Method: "POST", Path: "/v1/account/tokens", Body: `{"data":{"username":"mal","password":"mal-right-pw"}}`}).Expect(t, 429, 117)
		})
	}
}
