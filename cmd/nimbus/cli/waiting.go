package cli

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"
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
	wl := &waitListener{TCPListener: ln}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Content-Type", "application/json")
			h.Set("Retry-After", retryAfter)
			h.Set("Connection", "close")
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none';")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"code":503,"errno":201,"error":"Service Unavailable",` +
				`"message":"Service temporary unavailable due to overloading or maintenance, please retry later."}`))
		})}
	srv.SetKeepAlivesEnabled(false)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(wl) //nolint:errcheck // ends with errWaitOver
	}()
	return func() {
		wl.stopped.Store(true)
		ln.SetDeadline(time.Now()) //nolint:errcheck // a closed listener ends the loop too
		<-done
		ln.SetDeadline(time.Time{}) //nolint:errcheck // as above
	}
}
