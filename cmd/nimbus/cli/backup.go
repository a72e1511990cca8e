package cli

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nimbus-server/nimbus/config"
	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/bolt"
)

// A server on bolt holds its file locked. It listens on a Unix socket
// beside the file (mode 0600: only its owner may use it), on which
// "nimbus backup" asks it for a consistent copy while it keeps serving.
// A Unix socket's path is limited (108 bytes on Linux): beside a file
// deep in the tree it would not fit, so such a file's socket is in the
// temporary folder, named after the file's absolute path, where the
// server and the backup command both find it.
func adminSocket(dbPath string) string {
	p := dbPath + ".admin.sock"
	if len(p) < maxSocketPath {
		return p
	}
	abs, err := filepath.Abs(dbPath)
	if err != nil {
		abs = dbPath
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(os.TempDir(), "nimbus-"+hex.EncodeToString(sum[:10])+".admin.sock")
}

// maxSocketPath is the longest Unix socket path every platform accepts.
const maxSocketPath = 104

// serveAdmin answers backup requests on the admin socket until ctx ends.
func serveAdmin(ctx context.Context, backend storage.Backend, dbPath string, logger *slog.Logger) (stop func(), err error) {
	b, ok := backend.(storage.Backuper)
	if !ok {
		return func() {}, nil
	}
	path := adminSocket(dbPath)
	os.Remove(path) // left by a server that did not stop cleanly
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(time.Hour))
				line, err := bufio.NewReader(conn).ReadString('\n')
				if err != nil {
					return
				}
				cmd, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
				if cmd != "backup" || !filepath.IsAbs(arg) {
					fmt.Fprintln(conn, "error: unknown request")
					return
				}
				start := time.Now()
				if err := b.Backup(ctx, arg); err != nil {
					fmt.Fprintln(conn, "error:", err)
					return
				}
				logger.Info("backup written", "file", arg, "duration_ms", time.Since(start).Milliseconds())
				fmt.Fprintln(conn, "ok")
			}()
		}
	}()
	return func() { ln.Close(); os.Remove(path) }, nil
}

// backupCmd writes a consistent copy of the bolt file: through the
// running server when it holds the file, directly otherwise.
func backupCmd(g globals, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: nimbus backup FILE")
	}
	dst, err := filepath.Abs(fs.Arg(0))
	if err != nil {
		return err
	}
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("%s already exists; not overwriting it", dst)
	}
	s, err := boltSettings(g, "backup")
	if err != nil {
		return err
	}
	src := storageURL(s)
	b, err := bolt.Open(src, bolt.Options{LockTimeout: 200 * time.Millisecond})
	switch {
	case err == nil:
		defer b.Close()
		if err := b.Backup(context.Background(), dst); err != nil {
			return err
		}
	case errors.Is(err, bolt.ErrLocked):
		if err := askServer(adminSocket(src), "backup "+dst); err != nil {
			return fmt.Errorf("the server running on %s: %w", src, err)
		}
	default:
		return err
	}
	fi, err := os.Stat(dst)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backup of %s written to %s (%d bytes)\n", src, dst, fi.Size())
	return nil
}

// askServer sends one request on the admin socket and waits for "ok".
func askServer(socket, request string) error {
	conn, err := net.DialTimeout("unix", socket, 5*time.Second)
	if err != nil {
		return fmt.Errorf("cannot reach it on %s: %w", socket, err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintln(conn, request); err != nil {
		return err
	}
	reply, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("no answer: %w", err)
	}
	if reply = strings.TrimSpace(reply); reply != "ok" {
		return errors.New(strings.TrimPrefix(reply, "error: "))
	}
	return nil
}

// restoreCmd puts a backup in place of the bolt file (the server must be
// stopped).
func restoreCmd(g globals, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: nimbus restore FILE")
	}
	s, err := boltSettings(g, "restore")
	if err != nil {
		return err
	}
	src, dst := fs.Arg(0), storageURL(s)
	if err := bolt.Check(src); err != nil {
		return fmt.Errorf("%s cannot be restored: %w", src, err)
	}
	// Refuse while a server holds the target; the target is never opened
	// with bbolt, since it may be the corrupt file being replaced.
	if busy, err := bolt.InUse(dst); err == nil && busy {
		return fmt.Errorf("stop the server first: %w: %s", bolt.ErrLocked, dst)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return err
	}
	tmp := dst + ".restore"
	if err := copyFile(src, tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s restored to %s\n", src, dst)
	return nil
}

// compactCmd rewrites the bolt file without its free pages (the server
// must be stopped).
func compactCmd(g globals, args []string, stdout io.Writer) error {
	s, err := boltSettings(g, "compact")
	if err != nil {
		return err
	}
	before, after, err := bolt.Compact(storageURL(s))
	if errors.Is(err, bolt.ErrLocked) {
		return fmt.Errorf("stop the server first: %w", err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s compacted: %d bytes, was %d\n", storageURL(s), after, before)
	return nil
}

// boltSettings loads the settings of a command that only bolt supports.
func boltSettings(g globals, cmd string) (*config.Settings, error) {
	s, err := config.Load(g.ini, g.explicit, os.Environ(), "")
	if err != nil {
		return nil, err
	}
	switch backendName(s) {
	case "bolt":
		return s, nil
	case "postgresql":
		return nil, fmt.Errorf("%s works on bolt files; for PostgreSQL use pg_dump and pg_restore (the database is Kinto's layout)", cmd)
	}
	return nil, fmt.Errorf("%s works on bolt files; the %s backend keeps nothing to copy", cmd, backendName(s))
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
