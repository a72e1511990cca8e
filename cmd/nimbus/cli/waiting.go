package cli

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/nimbus-server/nimbus/resource"
)

// While a start waits for its database (waitForDatabase), its port is
// already open: without an answer, clients and load balancers would hang
// until the wait ends. answerWhileWaiting answers them meanwhile with the
// 503 (and Retry-After) the server gives while the database is down, and
// hands the listener back untouched when stopped.

// errWaitOver ends the interim server's accept loop.
var errWaitOver = errors.New("the wait for the database is over")

// waitListener is the listener as the interim server sees it: closing it
// does nothing (the real server takes it over), and once stopped an
// accept ends the interim server.
type waitListener struct {
	*net.TCPListener
	stopped atomic.Bool
}

func (l *waitListener) Accept() (net.Conn, error) {
	c, err := l.TCPListener.Accept()
	if err != nil && l.stopped.Load() {
		return nil, errWaitOver
	}
	return c, err
}

func (l *waitListener) Close() error { return nil }

// answerWhileWaiting serves 503 on ln until the returned function is
// called; that function returns once the interim server no longer
// accepts, and leaves ln open for the real server.
func answerWhileWaiting(ln *net.TCPListener, retryAfter string, logger *slog.Logger) (stop func()) {
	if retryAfter == "" {
		retryAfter = "3"
	}
	body, _ := resource.EncodeJSON(resource.Unavailable().Body())
	wl := &waitListener{TCPListener: ln}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			resource.SetSecurityHeaders(h)
			h.Set("Content-Type", "application/json")
			h.Set("Retry-After", retryAfter)
			h.Set("Connection", "close")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write(body) //nolint:errcheck // the client may be gone
		})}
	srv.SetKeepAlivesEnabled(false)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(resource.ProtocolErrorsAsJSON(wl)) //nolint:errcheck // ends with errWaitOver
	}()
	return func() {
		wl.stopped.Store(true)
		ln.SetDeadline(time.Now()) //nolint:errcheck // a closed listener ends the loop too
		<-done
		ln.SetDeadline(time.Time{}) //nolint:errcheck // as above
	}
}
