package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nimbus-server/nimbus/config"
	"github.com/nimbus-server/nimbus/plugins"
	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/postgres"
)

// Version is the version the binary reports; set it at build time with
// -ldflags "-X github.com/nimbus-server/nimbus/cmd/nimbus/cli.Version=...".
var Version = "0.1.0"

const usage = `usage: nimbus [--ini FILE] [-q|--quiet] [-v|--debug] COMMAND [options]

commands:
  serve (alias start) [--port N]   run the HTTP server
  migrate [--dry-run]              create or upgrade the storage schema
  init [--backend B] [--host H]    write a commented configuration file
  create-user [-u NAME] [-p PASS]  create an account or set its password
  purge-deleted <resource>... <n>  keep only the n newest tombstones of each list
  flush-cache                      (caches are in-process; nothing to flush)
  settings [--doc]                 every setting in effect, with where it comes from
                                   (--doc: the Markdown reference, docs/settings.md)
  backup FILE                      a consistent copy of the bolt file (while the server runs)
  restore FILE                     put a backup in place of the bolt file (server stopped)
  compact                          rewrite the bolt file without free pages (server stopped)
  export [-o FILE] [--no-tombstones]
                                   every object, tombstone, timestamp and ACL as JSON lines
  import [FILE]                    write an export into the configured backend (re-runnable)
  import --from URL --auth U:P [--overwrite]
                                   copy what U can read from a running Kinto or Nimbus (re-runnable)
  version                          print the version

The configuration file is --ini, else $NIMBUS_INI, else config/nimbus.ini.
Every setting can be overridden by NIMBUS_<KEY> environment variables (Kinto's
KINTO_<KEY> too; NIMBUS_<KEY> wins).
`

type globals struct {
	// extra are the plugins of this binary beyond the built-in catalog.
	extra    map[string]func() resource.Plugin
	ini      string
	explicit bool
	quiet    bool
	debug    bool
}

// Main runs the nimbus command line on os.Args and returns the exit
// status. extra are plugins compiled into this binary besides the
// built-in ones: each is enabled by naming it (its Name) in the includes
// setting, like a built-in plugin.
func Main(extra ...resource.Plugin) int {
	ballast := paceGC()
	code := Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, extra...)
	runtime.KeepAlive(ballast)
	return code
}

// Run runs the command line args with the given standard streams and
// extra plugins, and returns the exit status.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer, extra ...resource.Plugin) int {
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	g := globals{extra: map[string]func() resource.Plugin{}}
	for _, p := range extra {
		p := p
		g.extra[p.Name()] = func() resource.Plugin { return p }
	}
	fs := flag.NewFlagSet("nimbus", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	fs.StringVar(&g.ini, "ini", "", "configuration file")
	fs.BoolVar(&g.quiet, "q", false, "only log warnings and errors")
	fs.BoolVar(&g.quiet, "quiet", false, "only log warnings and errors")
	fs.BoolVar(&g.debug, "v", false, "log debug messages")
	fs.BoolVar(&g.debug, "debug", false, "log debug messages")
	version := fs.Bool("version", false, "print the version")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return 0
		}
		return 2
	}
	if *version {
		fmt.Fprintln(stdout, Version)
		return 0
	}
	g.explicit = g.ini != ""
	if g.ini == "" {
		if v := os.Getenv("NIMBUS_INI"); v != "" {
			g.ini, g.explicit = v, true
		} else {
			g.ini = "config/nimbus.ini"
		}
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, cargs := rest[0], rest[1:]
	if wantsHelp(cargs) {
		// Help never acts, whatever the command.
		if !commandHelp(stdout, cmd) {
			fmt.Fprintf(stderr, "nimbus: unknown command %q\n\n%s", cmd, usage)
			return 2
		}
		return 0
	}
	var err error
	switch cmd {
	case "serve", "start":
		err = serve(g, cargs, stderr)
	case "migrate":
		err = migrate(g, cargs, stdout, stderr)
	case "init":
		err = initConfig(g, cargs, stdout)
	case "purge-deleted":
		err = purgeDeleted(g, cargs, stdout)
	case "flush-cache":
		// Caches (verified passwords, credentials, schemas) live in each
		// server process and are emptied when it restarts.
		fmt.Fprintln(stdout, "nothing to flush: Nimbus caches live in each server process and are emptied on restart")
	case "create-user":
		return createUser(g, cargs, stdin, stdout, stderr)
	case "settings":
		err = settingsCmd(g, cargs, stdout)
	case "backup":
		err = backupCmd(g, cargs, stdout)
	case "restore":
		err = restoreCmd(g, cargs, stdout)
	case "compact":
		err = compactCmd(g, cargs, stdout)
	case "export":
		err = exportCmd(g, cargs, stdout, stderr)
	case "import":
		err = importCmd(g, cargs, stdin, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, Version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "nimbus: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "nimbus: %v\n", err)
		return 1
	}
	return 0
}

// wantsHelp tells whether a command's arguments ask for help.
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "-h", "-help", "--help":
			return true
		case "--":
			return false
		}
	}
	return false
}

// commandHelp prints the usage lines of one command; false for an
// unknown command.
func commandHelp(w io.Writer, cmd string) bool {
	lines := strings.Split(usage, "\n")
	found := false
	for i, l := range lines {
		name, _, _ := strings.Cut(strings.TrimSpace(l), " ")
		if !strings.HasPrefix(l, "  ") || strings.HasPrefix(l, "   ") || (name != cmd && !strings.Contains(l, "(alias "+cmd+")")) {
			continue
		}
		fmt.Fprintf(w, "usage: nimbus [--ini FILE] %s\n", strings.TrimSpace(l))
		for _, more := range lines[i+1:] {
			if !strings.HasPrefix(more, "   ") {
				break
			}
			fmt.Fprintln(w, strings.TrimSpace(more))
		}
		found = true
	}
	if found {
		fmt.Fprintln(w, "\nThe configuration file is --ini, else $NIMBUS_INI, else config/nimbus.ini; NIMBUS_<KEY> (or Kinto's KINTO_<KEY>) variables override it.")
	}
	return found
}

func newLogger(g globals, s *config.Settings, w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	switch strings.ToUpper(s.String("log_level")) {
	case "DEBUG":
		level = slog.LevelDebug
	case "WARNING", "WARN":
		level = slog.LevelWarn
	case "ERROR":
		level = slog.LevelError
	}
	if g.quiet {
		level = slog.LevelWarn
	}
	if g.debug {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	if s.String("log_format") == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func serve(g globals, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := fs.String("port", "", "listen port (overrides bind_port)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s, err := config.Load(g.ini, g.explicit, os.Environ(), *port)
	if err != nil {
		return err
	}
	logs := newLogBatch(stderr)
	defer logs.Close()
	logger := newLogger(g, s, logs)
	logger = slog.New(urgentFlush{h: logger.Handler(), out: logs})
	if s.Path == "" {
		zeroConfig(s, logger)
	}
	// The port first: a start that cannot listen creates nothing.
	if n, err := strconv.Atoi(s.String("bind_port")); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("config: setting bind_port: %q is not a port number (0 to 65535)", s.String("bind_port"))
	}
	addr := net.JoinHostPort(s.String("bind_host"), s.String("bind_port"))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", addr, err)
	}
	defer ln.Close()
	created := newFiles(s)
	wctx, stopWait := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	var interim func()
	backend, err := waitForDatabase(wctx, s, func(msg string) {
		if tl, ok := ln.(*net.TCPListener); ok && interim == nil {
			// Clients meanwhile get 503, as while the database is down.
			interim = answerWhileWaiting(tl, s.String("retry_after_seconds"), logger)
		}
		logger.Warn(msg)
	}, func() (storage.Backend, error) { return openBackend(s) })
	if interim != nil {
		interim()
	}
	stopWait()
	if err != nil {
		created.remove()
		return err
	}
	defer backend.Close()
	app, err := buildServer(s, backend, logger, g)
	if err != nil {
		backend.Close()
		created.remove()
		return err
	}
	// Headers over resource.MaxHeaderBytes get a JSON 431 from the app;
	// the server itself refuses anything four times larger.
	srv := &http.Server{Handler: app, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
		MaxHeaderBytes: 4 * resource.MaxHeaderBytes,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	srv.RegisterOnShutdown(app.Shutdown)
	if backendName(s) == "bolt" {
		if stopAdmin, err := serveAdmin(context.Background(), backend, storageURL(s), logger); err != nil {
			logger.Warn("online backups are not available: the admin socket could not be opened", "error", err)
		} else {
			defer stopAdmin()
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(resource.ProtocolErrorsAsJSON(ln)) }()
	logger.Info("nimbus is serving", "url", "http://"+ln.Addr().String()+"/v1/", "storage_backend", s.String("storage_backend"),
		"storage_url", config.MaskURL(storageURL(s)), "config", s.Path, "version", Version)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("shutdown did not finish cleanly", "error", err)
	}
	logger.Info("stopped")
	return nil
}

// buildServer resolves the secrets (kept in the database when the
// configuration does not set them) and builds the app, ready to serve.
func buildServer(s *config.Settings, backend storage.Backend, logger *slog.Logger, g globals) (*resource.App, error) {
	if err := resolveSecrets(context.Background(), s, backend, s.Path == "", logger); err != nil {
		return nil, err
	}
	if err := resolvePageTokenSecret(context.Background(), s, backend); err != nil {
		return nil, err
	}
	app, err := plugins.NewApp(s, backend, logger, g.extra)
	if err != nil {
		return nil, err
	}
	app.Version = Version
	warnUnknown(s, g, app, logger)
	return app, app.CheckServe()
}

func migrate(g globals, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	dry := fs.Bool("dry-run", false, "only print the steps")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s, err := config.Load(g.ini, g.explicit, os.Environ(), "")
	if err != nil {
		return err
	}
	backend := backendName(s)
	if *dry {
		fmt.Fprintf(stdout, "would prepare the %s storage at %s\n", backend, config.MaskURL(storageURL(s)))
		return nil
	}
	if backend == "postgresql" {
		wctx, stopWait := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stopWait()
		msg, err := waitForDatabase(wctx, s, func(msg string) { fmt.Fprintln(stderr, "nimbus: "+msg) }, func() (string, error) {
			msg, err := postgres.Migrate(wctx, s.String("storage_url"))
			if err != nil {
				return "", masked(err)
			}
			return msg, nil
		})
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, "postgresql: "+msg)
		return nil
	}
	b, err := openBackend(s)
	if err != nil {
		return err
	}
	defer b.Close()
	fmt.Fprintf(stdout, "%s storage at %s is ready\n", backend, config.MaskURL(storageURL(s)))
	return nil
}

// startFiles are the files a start may create (the bolt file and its
// folder), noted before it so that a start that fails removes them.
type startFiles struct{ file, dir string }

func newFiles(s *config.Settings) startFiles {
	var f startFiles
	if backendName(s) != "bolt" {
		return f
	}
	path := storageURL(s)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		f.file = path
		if _, err := os.Stat(filepath.Dir(path)); errors.Is(err, os.ErrNotExist) {
			f.dir = filepath.Dir(path)
		}
	}
	return f
}

// remove deletes what the failed start created.
func (f startFiles) remove() {
	if f.file != "" {
		os.Remove(f.file)
	}
	if f.dir != "" {
		os.Remove(f.dir) // only if empty
	}
}
