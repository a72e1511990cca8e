package bolt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/kvengine"
)

// Options tune a bolt backend. The zero value is the production default.
type Options struct {
	// LockTimeout is how long Open waits for another process to release
	// the file (default 1 s).
	LockTimeout time.Duration
	// NoSync skips fsync (tests only: a crash may lose acknowledged writes).
	NoSync bool
}

// KeepsKeyOrder implements storage.KeyOrderKeeper: the stored JSON keeps
// the order of each object's hint.
func (b *Backend) KeepsKeyOrder() bool { return true }

var _ storage.KeyOrderKeeper = (*Backend)(nil)

// Backend is a storage.Backend on one bbolt file.
type Backend struct {
	db   *bbolt.DB
	path string
	pipe *pipeline
}

var (
	_ storage.Backend  = (*Backend)(nil)
	_ storage.Pinger   = (*Backend)(nil)
	_ storage.Backuper = (*Backend)(nil)
)

// Open opens (creating when needed, with its parent folders) the database
// file at path.
func Open(path string, opts Options) (*Backend, error) {
	if opts.LockTimeout == 0 {
		opts.LockTimeout = time.Second
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("bolt: cannot create the folder of %s: %w", path, err)
		}
	}
	if err := Verify(path); err != nil {
		return nil, err
	}
	// A large initial mapping spares remaps (which wait for every open
	// read transaction) until the file outgrows it; it reserves address
	// space, not memory or disk.
	bopts := &bbolt.Options{Timeout: opts.LockTimeout, NoSync: opts.NoSync,
		FreelistType: bbolt.FreelistMapType, NoFreelistSync: true, InitialMmapSize: initialMmap}
	db, err := bbolt.Open(path, 0o600, bopts)
	if err != nil && !errors.Is(err, bbolt.ErrTimeout) {
		// Where address space is limited (ulimit -v, 32-bit), map only
		// what the file needs.
		bopts.InitialMmapSize = 0
		db, err = bbolt.Open(path, 0o600, bopts)
	}
	if err != nil {
		if errors.Is(err, bbolt.ErrTimeout) {
			return nil, fmt.Errorf("%w: %s (is another nimbus running on it?)", ErrLocked, path)
		}
		return nil, fmt.Errorf("bolt: cannot open %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range kvengine.Buckets {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("bolt: cannot initialise %s: %w", path, err)
	}
	return &Backend{db: db, path: path, pipe: newPipeline(db)}, nil
}

// Path returns the database file's path.
func (b *Backend) Path() string { return b.path }

// initialMmap is the size of the first memory mapping of the file.
const initialMmap = 1 << 30

// fnError marks an error returned by the caller's function, so that it is
// passed back unchanged rather than wrapped as a backend failure.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

// View implements storage.Backend. It reads the last committed state.
func (b *Backend) View(ctx context.Context, fn func(storage.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return &storage.BackendError{Op: "transaction", Err: err}
	}
	err := b.db.View(func(btx *bbolt.Tx) error {
		if err := fn(kvengine.NewTx(ctx, &store{tx: btx})); err != nil {
			return fnError{err}
		}
		return nil
	})
	var fe fnError
	if errors.As(err, &fe) {
		return fe.err
	}
	if err != nil {
		return &storage.BackendError{Op: "bolt", Err: err}
	}
	return nil
}

// Update implements storage.Backend. Transactions run one at a time while
// earlier ones are being committed (see pipeline); Update returns once
// the commit holding fn's writes is on disk.
func (b *Backend) Update(ctx context.Context, fn func(storage.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return &storage.BackendError{Op: "transaction", Err: err}
	}
	return b.pipe.update(ctx, fn)
}

var (
	_ storage.BulkUpdater  = (*Backend)(nil)
	_ storage.BulkPreparer = (*Backend)(nil)
)

// PrepareMany implements storage.BulkPreparer.
func (b *Backend) PrepareMany(objs []storage.BulkObject) error { return kvengine.PrepareMany(objs) }

// BulkUpdate implements storage.BulkUpdater: fn runs directly in a bbolt
// write transaction, once every pipelined transaction before it is
// committed, with the pipeline held so that none starts meanwhile. A
// page of thousands of writes then skips the in-memory layer (its map
// work and the second copy into bbolt), which costs more than the commit
// it would overlap.
func (b *Backend) BulkUpdate(ctx context.Context, fn func(storage.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return &storage.BackendError{Op: "transaction", Err: err}
	}
	return b.pipe.direct(ctx, fn)
}

// Close implements storage.Backend: pending writes are committed first.
func (b *Backend) Close() error {
	b.pipe.close()
	return b.db.Close()
}

// Ping implements storage.Pinger.
func (b *Backend) Ping(ctx context.Context) error {
	return b.db.View(func(*bbolt.Tx) error { return nil })
}

// Backup implements storage.Backuper: it writes a consistent copy of the
// database to path while the backend keeps serving. path must not exist
// (it is created exclusively), so a backup never overwrites a file, the
// live database least of all; a failed backup leaves nothing behind.
func (b *Backend) Backup(ctx context.Context, path string) error {
	if same, _ := sameFile(path, b.db.Path()); same {
		return fmt.Errorf("%s is the live database", path)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s already exists; a backup never overwrites a file", path)
		}
		return err
	}
	err = b.db.View(func(tx *bbolt.Tx) error {
		_, err := tx.WriteTo(f)
		return err
	})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// sameFile tells whether a and b name the same existing file.
func sameFile(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}

// InUse tells whether a process holds the bolt file at path (a running
// server), by trying the lock bbolt takes, without reading the file: a
// corrupt file is never mapped.
func InUse(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return true, nil
		}
		return false, err
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false, nil
}

// store adapts a bbolt transaction; opening a bucket allocates, so the
// few buckets of the layout are opened once per transaction.
type store struct {
	tx *bbolt.Tx
	// fill, when set, is the FillPercent of the buckets (Appending).
	fill  float64
	names [8]string
	open  [8]bucket
	n     int
}

func (s *store) Bucket(name string) kvengine.Bucket {
	for i := 0; i < s.n; i++ {
		if s.names[i] == name {
			return s.open[i]
		}
	}
	b := bucket{s.tx.Bucket([]byte(name))}
	if s.fill > 0 && b.b != nil {
		b.b.FillPercent = s.fill
	}
	if s.n < len(s.names) {
		s.names[s.n], s.open[s.n] = name, b
		s.n++
	}
	return b
}

func (s *store) Writable() bool { return s.tx.Writable() }

// appendFill is how full the pages of an appending transaction are
// written (bbolt's default of half suits random insertions; ascending
// keys never come back to fill the other half).
const appendFill = 0.9

// Appending implements kvengine.Appender: the transaction's pages are
// split fuller at its commit (bbolt reads FillPercent then). The pages of
// a million-record import in id order take half the room, and the import
// is faster.
func (s *store) Appending() {
	s.fill = appendFill
	for i := 0; i < s.n; i++ {
		if s.open[i].b != nil {
			s.open[i].b.FillPercent = appendFill
		}
	}
}

var _ kvengine.Appender = (*store)(nil)

type bucket struct{ b *bbolt.Bucket }

func (b bucket) Get(k []byte) []byte     { return b.b.Get(k) }
func (b bucket) Put(k, v []byte) error   { return b.b.Put(k, v) }
func (b bucket) Delete(k []byte) error   { return b.b.Delete(k) }
func (b bucket) Cursor() kvengine.Cursor { return b.b.Cursor() }

var _ storage.StatsReporter = (*Backend)(nil)

// Stats implements storage.StatsReporter: how long write transactions
// waited for the one writer, how many ran, and the commits that made
// them durable.
func (b *Backend) Stats() []storage.Stat {
	p := b.pipe
	secs := func(n int64) float64 { return float64(n) / 1e9 }
	return []storage.Stat{
		{Name: "write_lock_wait_seconds_total", Help: "Time write transactions waited for bolt's writer.", Value: secs(p.lockWait.Load()), Counter: true},
		{Name: "write_transactions_total", Help: "Write transactions run on the pending layer.", Value: float64(p.writes.Load()), Counter: true},
		{Name: "commits_total", Help: "bbolt commits (each carries one or more write transactions).", Value: float64(p.commits.Load()), Counter: true},
		{Name: "commit_seconds_total", Help: "Time spent writing and syncing commits.", Value: secs(p.commitTime.Load()), Counter: true},
	}
}

// ErrLocked is returned by Open when another process holds the file (a
// running server).
var ErrLocked = errors.New("bolt: the database file is in use by another process")

// Compact rewrites the file at path without its free pages, through a
// temporary file renamed over it; the file must not be in use. It
// returns the sizes before and after.
func Compact(path string) (before, after int64, err error) {
	if err := Verify(path); err != nil {
		return 0, 0, err
	}
	src, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		return 0, 0, lockErr(err)
	}
	defer src.Close()
	tmp := path + ".compact"
	os.Remove(tmp)
	dst, err := bbolt.Open(tmp, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		return 0, 0, err
	}
	if err := bbolt.Compact(dst, src, 64<<20); err != nil {
		dst.Close()
		os.Remove(tmp)
		return 0, 0, err
	}
	if err := dst.Close(); err != nil {
		os.Remove(tmp)
		return 0, 0, err
	}
	src.Close()
	if fi, err := os.Stat(path); err == nil {
		before = fi.Size()
	}
	if err := os.Rename(tmp, path); err != nil {
		return 0, 0, err
	}
	if fi, err := os.Stat(path); err == nil {
		after = fi.Size()
	}
	return before, after, nil
}

// Check opens a file read-only and tells whether it is a Nimbus bolt
// database (a backup about to be restored).
func Check(path string) error {
	if err := Verify(path); err != nil {
		return err
	}
	db, err := bbolt.Open(path, 0o400, &bbolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		return lockErr(err)
	}
	defer db.Close()
	return db.View(func(tx *bbolt.Tx) error {
		if tx.Bucket([]byte("o")) == nil {
			return fmt.Errorf("%s is a bolt file but not a Nimbus database", path)
		}
		return nil
	})
}

func lockErr(err error) error {
	if errors.Is(err, bbolt.ErrTimeout) {
		return ErrLocked
	}
	return err
}

var _ storage.Indexer = (*Backend)(nil)

// DeclareIndexes implements storage.Indexer (kvengine.DeclareIndexes).
func (b *Backend) DeclareIndexes(ctx context.Context, ref storage.Ref, fields []string) error {
	return kvengine.DeclareIndexes(ctx, func(ctx context.Context, fn func(*kvengine.Tx) error) error {
		return b.Update(ctx, func(tx storage.Tx) error { return fn(tx.(*kvengine.Tx)) })
	}, ref, fields)
}
