package apitest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/config"
	"github.com/nimbus-server/nimbus/plugins"
	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/memory"
	"github.com/nimbus-server/nimbus/storage/postgres"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

// Server is a running test server, listening on a loopback port.
type Server struct {
	// URL is the server's base URL, without /v1 (http://127.0.0.1:port).
	URL     string
	App     *resource.App
	Backend storage.Backend
	t       testing.TB
	srv     *http.Server
}

// Close stops the server (the test's cleanup also does).
func (s *Server) Close() { s.srv.Close() }

// Defaults are the settings every test server starts from.
var Defaults = map[string]string{
	"multiauth.policies": "basicauth",
	"userid_hmac_secret": "test-secret",
}

// New starts a server on the memory backend with Defaults plus settings.
func New(t testing.TB, settings map[string]string, extra ...map[string]func() resource.Plugin) *Server {
	return NewWithBackend(t, memory.New(), settings, extra...)
}

// NewWithBackend starts a server on the given backend.
func NewWithBackend(t testing.TB, backend storage.Backend, settings map[string]string, extra ...map[string]func() resource.Plugin) *Server {
	t.Helper()
	return start(t, backend, nil, settings, extra...)
}

// NewPostgres starts a server on the PostgreSQL database at url (a pool
// of five connections, its cache listening), with settings and
// storage_backend = postgresql: one of several instances when called
// again with the same url.
func NewPostgres(t testing.TB, url string, settings map[string]string) *Server {
	t.Helper()
	return NewPostgresConns(t, url, 5, settings)
}

// NewPostgresConns is NewPostgres with a pool of conns connections (0:
// the backend's default), for tests whose clients run many at once.
func NewPostgresConns(t testing.TB, url string, conns int32, settings map[string]string) *Server {
	t.Helper()
	b, err := postgres.Open(context.Background(), url, postgres.Options{MaxConns: conns})
	if err != nil {
		t.Fatal(err)
	}
	pgtest.WaitCache(t, b)
	withPG := map[string]string{"storage_backend": "postgresql"}
	for k, v := range settings {
		withPG[k] = v
	}
	return NewWithBackend(t, b, withPG)
}

// MemoryAndPostgres starts, by backend name, a server with settings on
// memory or on a database of its own on the test PostgreSQL (skipped
// without it), for tests that run the same checks on both.
func MemoryAndPostgres(settings map[string]string) map[string]func(t *testing.T) *Server {
	return map[string]func(t *testing.T) *Server{
		"memory": func(t *testing.T) *Server { return New(t, settings) },
		"postgresql": func(t *testing.T) *Server {
			return NewPostgres(t, pgtest.Start(t).NewDatabase(t), settings)
		},
	}
}

// NewWithLogs starts a server on the given backend and returns, with it,
// what the server logged while starting (text format).
func NewWithLogs(t testing.TB, backend storage.Backend, settings map[string]string) (*Server, string) {
	t.Helper()
	logs := &startLog{}
	s := start(t, backend, slog.New(slog.NewTextHandler(logs, nil)), settings)
	return s, logs.done()
}

// startLog keeps what is logged until done is called, and nothing after:
// requests served meanwhile log from other goroutines.
type startLog struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	closed bool
}

func (l *startLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.buf.Write(p)
	}
	return len(p), nil
}

func (l *startLog) done() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	return l.buf.String()
}

func start(t testing.TB, backend storage.Backend, logger *slog.Logger, settings map[string]string, extra ...map[string]func() resource.Plugin) *Server {
	t.Helper()
	values := map[string]string{}
	for k, v := range Defaults {
		values[k] = v
	}
	for k, v := range settings {
		values[k] = v
	}
	var ex map[string]func() resource.Plugin
	if len(extra) > 0 {
		ex = extra[0]
	}
	app, err := plugins.NewApp(config.New(values), backend, logger, ex)
	if err != nil {
		t.Fatalf("building the app: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening: %v", err)
	}
	srv := &http.Server{Handler: app, MaxHeaderBytes: 4 * resource.MaxHeaderBytes}
	go srv.Serve(resource.ProtocolErrorsAsJSON(ln))
	t.Cleanup(func() { app.Shutdown(); srv.Close(); backend.Close() })
	return &Server{URL: "http://" + ln.Addr().String(), App: app, Backend: backend, t: t, srv: srv}
}

// Basic returns a Basic Authorization header value.
func Basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// Response is a decoded answer.
type Response struct {
	Status int
	Header http.Header
	Raw    []byte
	Body   map[string]any
	List   []any
}

// Req describes a request.
type Req struct {
	Method, Path string
	// Body is sent as is when a string or []byte, else JSON-encoded.
	Body    any
	Auth    string
	Headers map[string]string
}

// Do sends a request. Paths without a scheme are relative to the server.
// A request that cannot be sent fails the test.
func (s *Server) Do(r Req) *Response {
	s.t.Helper()
	out, err := s.Send(r)
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

// Send is Do for goroutines other than the test's (concurrent clients):
// a request that cannot be sent is returned as an error.
func (s *Server) Send(r Req) (*Response, error) {
	var body io.Reader
	switch b := r.Body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		body = bytes.NewReader(j)
	}
	url := r.Path
	if !strings.HasPrefix(url, "http") {
		url = s.URL + r.Path
	}
	req, err := http.NewRequest(r.Method, url, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.Auth != "" {
		req.Header.Set("Authorization", r.Auth)
	}
	for k, v := range r.Headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := &Response{Status: res.StatusCode, Header: res.Header, Raw: raw}
	if len(raw) > 0 {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		var v any
		if d.Decode(&v) == nil {
			switch x := v.(type) {
			case map[string]any:
				out.Body = x
			case []any:
				out.List = x
			}
		}
	}
	return out, nil
}

// Data returns body.data as an object.
func (r *Response) Data() map[string]any {
	m, _ := r.Body["data"].(map[string]any)
	return m
}

// Items returns body.data as a list of objects.
func (r *Response) Items() []map[string]any {
	var out []map[string]any
	for _, it := range r.Body["data"].([]any) {
		out = append(out, it.(map[string]any))
	}
	return out
}

// IDs returns the ids of body.data's items.
func (r *Response) IDs() []string {
	var out []string
	if l, ok := r.Body["data"].([]any); ok {
		for _, it := range l {
			out = append(out, fmt.Sprint(it.(map[string]any)["id"]))
		}
	}
	return out
}

// Errno returns the errno of an error body (0 when absent).
func (r *Response) Errno() int {
	n, _ := r.Body["errno"].(json.Number)
	i, _ := n.Int64()
	return int(i)
}

// Expect checks the status and, for errors, the errno and the shape of
// Kinto's error object.
func (r *Response) Expect(t testing.TB, status, errno int) *Response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body %s", r.Status, status, r.Raw)
	}
	if status >= 400 && status != 503 {
		if r.Errno() != errno {
			t.Fatalf("errno %d, want %d; body %s", r.Errno(), errno, r.Raw)
		}
		if code, _ := r.Body["code"].(json.Number); code.String() != fmt.Sprint(status) {
			t.Fatalf("error body code %v, want %d", r.Body["code"], status)
		}
		if _, ok := r.Body["error"].(string); !ok {
			t.Fatalf("error body has no error title: %s", r.Raw)
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("error Content-Type %q", ct)
		}
	}
	return r
}

// JSClients returns the folder whose node_modules holds the JavaScript
// clients (kinto-http, kinto), named by NIMBUS_KINTO_HTTP_JS, for tests
// that run them with node. Without it the test is skipped, unless
// NIMBUS_REQUIRE_JS is set (CI), which makes it fail: such a test cannot
// be skipped silently.
func JSClients(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("NIMBUS_KINTO_HTTP_JS")
	if dir == "" {
		if os.Getenv("NIMBUS_REQUIRE_JS") != "" {
			t.Fatal("NIMBUS_KINTO_HTTP_JS is not set")
		}
		t.Skip("set NIMBUS_KINTO_HTTP_JS to a folder with node_modules/kinto-http")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not installed")
	}
	return dir
}

// Chromium is Debian's Chromium, the only browser the browser tests drive.
const Chromium = "/usr/bin/chromium"

// NeedBrowser skips the test unless Chromium and playwright-core are
// there (NIMBUS_BROWSER_JS names a folder whose node_modules holds it;
// .ci/run installs both); with NIMBUS_REQUIRE_BROWSER set it fails
// instead.
func NeedBrowser(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(Chromium); os.Getenv("NIMBUS_BROWSER_JS") == "" || err != nil {
		if os.Getenv("NIMBUS_REQUIRE_BROWSER") != "" {
			t.Fatal("NIMBUS_BROWSER_JS or /usr/bin/chromium missing")
		}
		t.Skip("set NIMBUS_BROWSER_JS and install chromium to run the browser test")
	}
}

// RunBrowser runs a playwright-core script (a path relative to the
// test's folder) with args, and returns the last line it printed (its
// JSON report) and all it printed. It fails the test when the script
// fails or runs past 90 seconds.
func RunBrowser(t testing.TB, script string, args ...string) (string, []byte) {
	t.Helper()
	path, _ := filepath.Abs(script)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{path}, args...)...)
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(os.Getenv("NIMBUS_BROWSER_JS"), "node_modules"), "CHROMIUM="+Chromium)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("browser run failed: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1], out
}
