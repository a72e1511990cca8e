package kvengine

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"

	"github.com/nimbus-server/nimbus/storage"
)

// Bucket is one ordered key space of the underlying store.
type Bucket interface {
	Get(k []byte) []byte
	Put(k, v []byte) error
	Delete(k []byte) error
	Cursor() Cursor
}

// Cursor walks a Bucket in key order. Each method returns a nil key when it
// runs off either end.
type Cursor interface {
	First() (k, v []byte)
	Last() (k, v []byte)
	Seek(k []byte) (kk, v []byte)
	Next() (k, v []byte)
	Prev() (k, v []byte)
}

// Store is what a backend's transaction provides.
type Store interface {
	Bucket(name string) Bucket
	Writable() bool
}

// Appender is what a Store may offer for writes that append to the end
// of a key range in order (a bulk page of ascending ids): it fills the
// pages it writes there instead of leaving room for later insertions.
type Appender interface {
	Appending()
}

// Buckets lists the bucket names a backend must create.
var Buckets = []string{"o", "t", "m", "a", "i", "u", "p", "x", "X"}

// Tx implements storage.Tx over a Store.
type Tx struct {
	kv        Store
	recording bool
	undo      []undoEntry
	ctx       context.Context
	// memo keeps the ACLs, memberships and index declarations this
	// transaction decoded: a batch authorizes every sub-request on the
	// same chain, and history reads the same parents' ACLs for every
	// entry. Writes of what it holds, and rollbacks, drop it.
	memo memo
}

// memo is a transaction's cache of decoded ACLs, memberships and index
// declarations (every write of a list with declared indexes reads its
// declaration: an import page or a batch decodes it once).
type memo struct {
	acls       map[string]storage.ACL
	principals map[string][]string
	decls      map[string]*declaration
}

func (m *memo) clear() { *m = memo{} }

var (
	_ storage.Tx          = (*Tx)(nil)
	_ storage.Savepointer = (*Tx)(nil)
)

type undoEntry struct {
	bucket   string
	key, old []byte
	existed  bool
}

// bucket returns a bucket of the store; while a savepoint is active,
// writes through it are recorded so that they can be undone.
func (t *Tx) bucket(name string) Bucket {
	b := t.kv.Bucket(name)
	if !t.recording {
		return b
	}
	return recBucket{Bucket: b, t: t, name: name}
}

type recBucket struct {
	Bucket
	t    *Tx
	name string
}

func (r recBucket) remember(k []byte) {
	old := r.Bucket.Get(k)
	r.t.undo = append(r.t.undo, undoEntry{bucket: r.name, key: bytes.Clone(k), old: bytes.Clone(old), existed: old != nil})
}

func (r recBucket) Put(k, v []byte) error { r.remember(k); return r.Bucket.Put(k, v) }
func (r recBucket) Delete(k []byte) error { r.remember(k); return r.Bucket.Delete(k) }

// undoer is a store that takes back its own writes (an Overlay), which
// spares the transaction its own undo log.
type undoer interface {
	Mark() int
	Undo(mark int)
}

// Savepoint implements storage.Savepointer.
func (t *Tx) Savepoint() int {
	if u, ok := t.kv.(undoer); ok {
		return u.Mark()
	}
	t.recording = true
	return len(t.undo)
}

// RollbackTo implements storage.Savepointer.
func (t *Tx) RollbackTo(sp int) error {
	t.memo.clear()
	if u, ok := t.kv.(undoer); ok {
		u.Undo(sp)
		return nil
	}
	for i := len(t.undo) - 1; i >= sp && i >= 0; i-- {
		u := t.undo[i]
		b := t.kv.Bucket(u.bucket)
		var err error
		if u.existed {
			err = b.Put(u.key, u.old)
		} else {
			err = b.Delete(u.key)
		}
		if err != nil {
			return err
		}
	}
	if sp >= 0 && sp <= len(t.undo) {
		t.undo = t.undo[:sp]
	}
	return nil
}

// NewTx wraps a backend transaction.
func NewTx(ctx context.Context, kv Store) *Tx {
	return &Tx{kv: kv, ctx: ctx}
}

// Context implements storage.Tx.
func (t *Tx) Context() context.Context { return t.ctx }

func listKey(ref storage.Ref) []byte {
	b := make([]byte, 0, len(ref.Parent)+len(ref.Resource)+2)
	b = append(b, ref.Parent...)
	b = append(b, 0)
	b = append(b, ref.Resource...)
	return append(b, 0)
}

func objKey(lk []byte, id string) []byte {
	k := make([]byte, 0, len(lk)+len(id))
	return append(append(k, lk...), id...)
}

func tsKey(lk []byte, ts int64, id string) []byte {
	k := make([]byte, 0, len(lk)+8+len(id))
	k = append(k, lk...)
	k = binary.BigEndian.AppendUint64(k, uint64(ts))
	return append(k, id...)
}

type meta struct {
	ts    int64
	count int64
}

func (t *Tx) getMeta(lk []byte) meta {
	v := t.kv.Bucket("m").Get(lk)
	if len(v) < 16 {
		return meta{}
	}
	return meta{ts: int64(binary.BigEndian.Uint64(v)), count: int64(binary.BigEndian.Uint64(v[8:]))}
}

func (t *Tx) putMeta(lk []byte, m meta) error {
	v := make([]byte, 16)
	binary.BigEndian.PutUint64(v, uint64(m.ts))
	binary.BigEndian.PutUint64(v[8:], uint64(m.count))
	return t.bucket("m").Put(lk, v)
}

func (t *Tx) writable() error {
	if !t.kv.Writable() {
		return storage.ErrReadOnly
	}
	return nil
}

// Stored objects start with a flag byte, so that existence and tombstone
// checks need no decoding.
const (
	flagLive    = 0
	flagDeleted = 1
)

func decode(v []byte) (storage.Object, error) {
	if len(v) == 0 {
		return nil, &storage.BackendError{Op: "decode object", Err: io.ErrUnexpectedEOF}
	}
	// The stored text keeps the client's key order; the decoded object
	// keeps it as its order hint.
	o, err := storage.DecodeOrdered(v[1:])
	if err != nil {
		return nil, &storage.BackendError{Op: "decode object", Err: err}
	}
	return o, nil
}

func encode(o storage.Object, flag byte) ([]byte, error) {
	b, err := storage.AppendJSON(append(make([]byte, 0, 256), flag), map[string]any(o))
	if err != nil {
		return nil, &storage.BackendError{Op: "encode object", Err: err}
	}
	return b, nil
}

// prefixScan calls fn for every key starting with prefix, in order, until fn
// returns false. Keys and values are only valid during the call.
func prefixScan(b Bucket, prefix []byte, fn func(k, v []byte) bool) {
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if !fn(k, v) {
			return
		}
	}
}

// deletePrefix removes every key starting with prefix from b.
func deletePrefix(b Bucket, prefix []byte) error {
	var keys [][]byte
	prefixScan(b, prefix, func(k, _ []byte) bool {
		keys = append(keys, bytes.Clone(k))
		return true
	})
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func (t *Tx) checkCtx() error {
	if err := t.ctx.Err(); err != nil {
		return &storage.BackendError{Op: "transaction", Err: err}
	}
	return nil
}
