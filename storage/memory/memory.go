package memory

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/kvengine"
)

// KeepsKeyOrder implements storage.KeyOrderKeeper: the stored JSON keeps
// the order of each object's hint.
func (b *Backend) KeepsKeyOrder() bool { return true }

var _ storage.KeyOrderKeeper = (*Backend)(nil)

// Backend is an in-memory storage.Backend.
type Backend struct {
	mu      sync.RWMutex
	buckets map[string]*bucket
	closed  bool
	// isClosed mirrors closed for lock-free health checks, which may run
	// while a write transaction holds the lock.
	isClosed atomic.Bool
}

var (
	_ storage.Backend = (*Backend)(nil)
	_ storage.Pinger  = (*Backend)(nil)
)

// New returns an empty backend.
func New() *Backend {
	b := &Backend{buckets: map[string]*bucket{}}
	for _, name := range kvengine.Buckets {
		b.buckets[name] = &bucket{vals: map[string][]byte{}}
	}
	return b
}

// View implements storage.Backend.
func (b *Backend) View(ctx context.Context, fn func(storage.Tx) error) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return &storage.BackendError{Op: "memory", Err: fmt.Errorf("backend closed")}
	}
	return fn(kvengine.NewTx(ctx, &store{b: b}))
}

// Update implements storage.Backend.
func (b *Backend) Update(ctx context.Context, fn func(storage.Tx) error) (err error) {
	if err := ctx.Err(); err != nil {
		return &storage.BackendError{Op: "transaction", Err: err}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return &storage.BackendError{Op: "memory", Err: fmt.Errorf("backend closed")}
	}
	s := &store{b: b, write: true}
	defer func() {
		if r := recover(); r != nil {
			s.rollback()
			panic(r)
		}
	}()
	if err := fn(kvengine.NewTx(ctx, s)); err != nil {
		s.rollback()
		return err
	}
	return nil
}

// Close implements storage.Backend.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	b.isClosed.Store(true)
	return nil
}

// Ping implements storage.Pinger.
func (b *Backend) Ping(context.Context) error {
	if b.isClosed.Load() {
		return &storage.BackendError{Op: "memory", Err: fmt.Errorf("backend closed")}
	}
	return nil
}

type undo struct {
	b       *bucket
	key     string
	val     []byte
	existed bool
}

type store struct {
	b     *Backend
	write bool
	log   []undo
}

func (s *store) Writable() bool { return s.write }

func (s *store) Bucket(name string) kvengine.Bucket {
	return &txBucket{s: s, b: s.b.buckets[name]}
}

func (s *store) rollback() {
	for i := len(s.log) - 1; i >= 0; i-- {
		u := s.log[i]
		if u.existed {
			u.b.set(u.key, u.val)
		} else {
			u.b.del(u.key)
		}
	}
	s.log = nil
}

// bucket is a sorted key list plus a map of values.
type bucket struct {
	keys []string
	vals map[string][]byte
}

func (b *bucket) set(k string, v []byte) {
	if _, ok := b.vals[k]; !ok {
		i := sort.SearchStrings(b.keys, k)
		b.keys = append(b.keys, "")
		copy(b.keys[i+1:], b.keys[i:])
		b.keys[i] = k
	}
	b.vals[k] = v
}

func (b *bucket) del(k string) {
	if _, ok := b.vals[k]; !ok {
		return
	}
	delete(b.vals, k)
	i := sort.SearchStrings(b.keys, k)
	if i < len(b.keys) && b.keys[i] == k {
		b.keys = append(b.keys[:i], b.keys[i+1:]...)
	}
}

type txBucket struct {
	s *store
	b *bucket
}

func (t *txBucket) Get(k []byte) []byte { return t.b.vals[string(k)] }

func (t *txBucket) Put(k, v []byte) error {
	if !t.s.write {
		return storage.ErrReadOnly
	}
	key := string(k)
	old, existed := t.b.vals[key]
	t.s.log = append(t.s.log, undo{b: t.b, key: key, val: old, existed: existed})
	t.b.set(key, bytes.Clone(v))
	return nil
}

func (t *txBucket) Delete(k []byte) error {
	if !t.s.write {
		return storage.ErrReadOnly
	}
	key := string(k)
	old, existed := t.b.vals[key]
	if !existed {
		return nil
	}
	t.s.log = append(t.s.log, undo{b: t.b, key: key, val: old, existed: true})
	t.b.del(key)
	return nil
}

func (t *txBucket) Cursor() kvengine.Cursor { return &cursor{b: t.b, i: -1} }

// cursor walks the sorted keys. It re-finds its position by key after each
// move, so deletions made while walking do not derail it.
type cursor struct {
	b   *bucket
	i   int
	key string
}

func (c *cursor) at(i int) ([]byte, []byte) {
	if i < 0 || i >= len(c.b.keys) {
		c.i = -1
		return nil, nil
	}
	c.i = i
	c.key = c.b.keys[i]
	return []byte(c.key), c.b.vals[c.key]
}

func (c *cursor) First() ([]byte, []byte) { return c.at(0) }
func (c *cursor) Last() ([]byte, []byte)  { return c.at(len(c.b.keys) - 1) }
func (c *cursor) Seek(k []byte) ([]byte, []byte) {
	return c.at(sort.SearchStrings(c.b.keys, string(k)))
}

func (c *cursor) resync() int {
	if c.i >= 0 && c.i < len(c.b.keys) && c.b.keys[c.i] == c.key {
		return c.i
	}
	return sort.SearchStrings(c.b.keys, c.key)
}

func (c *cursor) Next() ([]byte, []byte) {
	if c.i < 0 {
		return nil, nil
	}
	i := c.resync()
	if i < len(c.b.keys) && c.b.keys[i] == c.key {
		i++
	}
	return c.at(i)
}

func (c *cursor) Prev() ([]byte, []byte) {
	if c.i < 0 {
		return nil, nil
	}
	return c.at(c.resync() - 1)
}

var _ storage.Indexer = (*Backend)(nil)

// DeclareIndexes implements storage.Indexer (kvengine.DeclareIndexes).
func (b *Backend) DeclareIndexes(ctx context.Context, ref storage.Ref, fields []string) error {
	return kvengine.DeclareIndexes(ctx, func(ctx context.Context, fn func(*kvengine.Tx) error) error {
		return b.Update(ctx, func(tx storage.Tx) error { return fn(tx.(*kvengine.Tx)) })
	}, ref, fields)
}
