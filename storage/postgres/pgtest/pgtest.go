package pgtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nimbus-server/nimbus/storage/postgres"
)

// Server is a running throwaway PostgreSQL.
type Server struct {
	dir  string
	port int
	n    atomic.Int64
}

func findBin(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(matches) > 0 {
		return matches[len(matches)-1]
	}
	return ""
}

// freePort finds a free port below Linux's ephemeral range (32768 and
// up): on a port of that range, a client dialing the stopped server (the
// outage tests) can be handed that very port as its source and connect
// to itself, and the socket then keeps the server from listening again.
func freePort() int {
	for i := 0; i < 100; i++ {
		port := 20000 + rand.IntN(12000)
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			l.Close()
			return port
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 55432
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// asPostgres runs a command as the postgres user when we are root
// (initdb refuses to run as root).
func asPostgres(args ...string) *exec.Cmd {
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--"}, args...)...)
	}
	return exec.Command(args[0], args[1:]...)
}

var (
	once    sync.Once
	shared  *Server
	sharedE error
)

// Start returns the process-wide server, starting it on first use. When
// the binaries are missing the test is skipped loudly, unless
// NIMBUS_REQUIRE_POSTGRES is set, which makes it fail.
func Start(t testing.TB) *Server {
	t.Helper()
	once.Do(func() { shared, sharedE = start() })
	if sharedE != nil {
		if os.Getenv("NIMBUS_REQUIRE_POSTGRES") != "" {
			t.Fatalf("PostgreSQL is required: %v", sharedE)
		}
		t.Skipf("SKIPPING PostgreSQL tests: %v (install the postgresql package)", sharedE)
	}
	return shared
}

func start() (*Server, error) {
	initdb, pgctl := findBin("initdb"), findBin("pg_ctl")
	if initdb == "" || pgctl == "" {
		return nil, fmt.Errorf("initdb/pg_ctl not found")
	}
	dir, err := os.MkdirTemp("", "nimbus-pg-")
	if err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs a postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		os.Chown(dir, uid, gid)
	}
	data := filepath.Join(dir, "data")
	if out, err := asPostgres(initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	if err := watch(dir); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	port := freePort()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", port, dir)
	if out, err := asPostgres(pgctl, "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "start").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pg_ctl start: %v: %s", err, out)
	}
	s := &Server{dir: dir, port: port}
	return s, nil
}

// watchdog stops the server whose folder is $1 (immediate shutdown of
// the postmaster named in its pid file, whoever started it) and removes
// the folder when it receives SIGTERM, which it gets when the test
// process ends however it ends (normal exit, failure, panic, timeout):
// pg_ctl detaches the server from the test process, which otherwise
// would leave it running.
const watchdog = `
dir=$1
cleanup() {
	pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null)
	if [ -n "$pid" ] && kill -QUIT "$pid" 2>/dev/null; then
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
	fi
	rm -rf "$dir"
	exit 0
}
trap cleanup TERM INT HUP
while :; do sleep 1; done
`

// watch starts the watchdog of dir. It runs as the postgres user when we
// are root (the server's files are its), and gets SIGTERM when the
// thread that started it ends: that thread is locked to a goroutine that
// lives as long as the watchdog, so the signal comes with the process's
// end.
func watch(dir string) error {
	cmd := exec.Command("sh", "-c", watchdog, "pgtest-watchdog", dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return err
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the watchdog
		err := cmd.Start()
		started <- err
		if err == nil {
			cmd.Wait()
		}
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("pgtest: starting the watchdog: %w", err)
	}
	return nil
}

// URL returns the connection URL of a database.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgresql://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// NewDatabase creates an empty database with the schema and returns its
// URL.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("nimbus_test_%d_%d", os.Getpid(), s.n.Add(1))
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	url := s.URL(name)
	if _, err := postgres.Migrate(ctx, url); err != nil {
		t.Fatal(err)
	}
	return url
}

// Open returns a backend on a fresh database.
func (s *Server) Open(t testing.TB) *postgres.Backend {
	t.Helper()
	b, err := postgres.Open(context.Background(), s.NewDatabase(t), postgres.Options{MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	WaitCache(t, b)
	return b
}

// WaitCache waits until the backend's read cache listens, so that tests
// exercise the cached read path and its invalidation.
func WaitCache(t testing.TB, b *postgres.Backend) {
	t.Helper()
	for i := 0; i < 500 && !b.CacheReady(); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if !b.CacheReady() {
		t.Fatal("pgtest: the read cache of the backend did not start listening")
	}
}

// Stop stops the process-wide server, if it was started, and removes its
// files. Call it from TestMain after m.Run.
func Stop() {
	if shared == nil {
		return
	}
	asPostgres(findBin("pg_ctl"), "-D", filepath.Join(shared.dir, "data"), "-m", "immediate", "-w", "stop").Run()
	os.RemoveAll(shared.dir)
}

// Private starts a server of its own, which the test may stop and start
// again (fault tests); it is removed at the end of the test.
func Private(t testing.TB) *Server {
	t.Helper()
	Start(t) // skips or fails like Start when PostgreSQL is missing
	s, err := start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		asPostgres(findBin("pg_ctl"), "-D", filepath.Join(s.dir, "data"), "-m", "immediate", "-w", "stop").Run()
		os.RemoveAll(s.dir)
	})
	return s
}

// StopServer stops the server (fast shutdown).
func (s *Server) StopServer() error {
	return asPostgres(findBin("pg_ctl"), "-D", filepath.Join(s.dir, "data"), "-m", "fast", "-w", "stop").Run()
}

// KillServer kills the postmaster with SIGKILL, as a crash would; its
// backends notice and exit by themselves.
func (s *Server) KillServer() error {
	pidFile := filepath.Join(s.dir, "data", "postmaster.pid")
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		return fmt.Errorf("pgtest: %s: %v", pidFile, err)
	}
	return syscall.Kill(pid, syscall.SIGKILL)
}

// StartServer starts a stopped (or killed) server again on the same
// port; after a kill it retries while the old backends still hold the
// shared memory.
func (s *Server) StartServer() error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", s.port, s.dir)
	var err error
	for i := 0; i < 50; i++ {
		cmd := asPostgres(findBin("pg_ctl"), "-D", filepath.Join(s.dir, "data"), "-o", opts, "-l", filepath.Join(s.dir, "log"), "-w", "start")
		if err = cmd.Run(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}
