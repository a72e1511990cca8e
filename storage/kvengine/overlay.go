package kvengine

import (
	"bytes"
	"errors"
	"sort"

	"github.com/nimbus-server/nimbus/storage"
)

// A Layer holds writes that are not in the underlying store yet. Backends
// that pipeline their commits (storage/bolt) let a write transaction run
// on an Overlay, the newest layers over a read snapshot of the store, while
// the previous layer is being written and synced; layers are then applied
// to the store in order, in one store transaction each.
//
// A Layer is not safe for concurrent use: the backend runs one write
// transaction at a time on the newest layer, and only reads the layers
// being applied.
type Layer struct {
	buckets map[string]*layerBucket
	undo    []layerUndo
	writes  int
}

type layerBucket struct {
	m      map[string]layerEntry
	sorted []string // the keys of m in order; nil when a key was added since
}

type layerEntry struct {
	v   []byte
	del bool
}

type layerUndo struct {
	b    *layerBucket
	key  string
	prev layerEntry
	had  bool
}

// NewLayer returns an empty layer.
func NewLayer() *Layer { return &Layer{buckets: map[string]*layerBucket{}} }

// Len returns how many writes the layer holds.
func (l *Layer) Len() int { return l.writes }

func (l *Layer) bucket(name string) *layerBucket {
	b := l.buckets[name]
	if b == nil {
		b = &layerBucket{m: map[string]layerEntry{}}
		l.buckets[name] = b
	}
	return b
}

func (l *Layer) set(name string, k []byte, e layerEntry) {
	b := l.bucket(name)
	key := string(k)
	prev, had := b.m[key]
	l.undo = append(l.undo, layerUndo{b: b, key: key, prev: prev, had: had})
	if !had {
		b.sorted = nil
	}
	b.m[key] = e
	l.writes++
}

// Mark returns a position in the layer's undo log.
func (l *Layer) Mark() int { return len(l.undo) }

// Undo takes back every write made since mark.
func (l *Layer) Undo(mark int) {
	for i := len(l.undo) - 1; i >= mark && i >= 0; i-- {
		u := l.undo[i]
		if u.had {
			u.b.m[u.key] = u.prev
		} else {
			delete(u.b.m, u.key)
			u.b.sorted = nil
		}
		l.writes--
	}
	if mark >= 0 && mark <= len(l.undo) {
		l.undo = l.undo[:mark]
	}
}

// Settle forgets the undo log: the writes made so far are final.
func (l *Layer) Settle() { l.undo = l.undo[:0] }

// Freeze prepares a layer that will take no more writes to be read from
// several goroutines (overlays reading it while it is applied).
func (l *Layer) Freeze() {
	for _, b := range l.buckets {
		b.keys()
	}
	l.undo = nil
}

// Apply writes the layer into a writable store, each bucket in key order.
func (l *Layer) Apply(s Store) error {
	for name, b := range l.buckets {
		dst := s.Bucket(name)
		for _, k := range b.keys() {
			e := b.m[k]
			var err error
			if e.del {
				err = dst.Delete([]byte(k))
			} else {
				err = dst.Put([]byte(k), e.v)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *layerBucket) keys() []string {
	if b.sorted == nil {
		b.sorted = make([]string, 0, len(b.m))
		for k := range b.m {
			b.sorted = append(b.sorted, k)
		}
		sort.Strings(b.sorted)
	}
	return b.sorted
}

// Overlay is a Store that reads through layers (newest first) to a base
// store, and writes into the newest layer.
type Overlay struct {
	base   Store
	layers []*Layer
	// handles are the buckets handed out so far: a transaction asks for
	// the same few buckets thousands of times.
	handles [8]*overlayBucket
}

// NewOverlay returns a writable store over base; writes go to layers[0].
func NewOverlay(base Store, layers ...*Layer) *Overlay {
	return &Overlay{base: base, layers: layers}
}

// Bucket implements Store.
func (o *Overlay) Bucket(name string) Bucket {
	for i, h := range o.handles {
		switch {
		case h == nil:
			h = &overlayBucket{o: o, name: name}
			o.handles[i] = h
			return h
		case h.name == name:
			return h
		}
	}
	return &overlayBucket{o: o, name: name}
}

// Writable implements Store.
func (o *Overlay) Writable() bool { return true }

// Mark and Undo give the transaction its savepoints (see Tx.Savepoint).
func (o *Overlay) Mark() int     { return o.layers[0].Mark() }
func (o *Overlay) Undo(mark int) { o.layers[0].Undo(mark) }

type overlayBucket struct {
	o    *Overlay
	name string
	// base keeps what was read from the base store, which is a snapshot
	// that does not change while the overlay lives (writes go to the
	// layers, read first): a transaction reads the same parents and
	// timestamps again and again.
	base map[string][]byte
	bb   Bucket
}

func (b *overlayBucket) Get(k []byte) []byte {
	for _, l := range b.o.layers {
		if lb := l.buckets[b.name]; lb != nil {
			if e, ok := lb.m[string(k)]; ok {
				if e.del {
					return nil
				}
				if e.v == nil {
					return []byte{}
				}
				return e.v
			}
		}
	}
	if v, ok := b.base[string(k)]; ok {
		return v
	}
	if b.bb == nil {
		b.bb = b.o.base.Bucket(b.name)
	}
	v := b.bb.Get(k)
	if b.base == nil {
		b.base = map[string][]byte{}
	}
	b.base[string(k)] = v
	return v
}

// MaxKeySize is the longest key the stores accept (bbolt's limit). The
// overlay checks it when a write is made: a key refused only when the layer
// is applied would fail every transaction sharing that commit.
const MaxKeySize = 32768

var errBadKey = &storage.BackendError{Op: "write", Err: errors.New("key empty or longer than 32768 bytes")}

func (b *overlayBucket) Put(k, v []byte) error {
	if len(k) == 0 || len(k) > MaxKeySize {
		return errBadKey
	}
	b.o.layers[0].set(b.name, k, layerEntry{v: v})
	return nil
}

func (b *overlayBucket) Delete(k []byte) error {
	if len(k) == 0 || len(k) > MaxKeySize {
		return errBadKey
	}
	b.o.layers[0].set(b.name, k, layerEntry{del: true})
	return nil
}

func (b *overlayBucket) Cursor() Cursor {
	m := &mergedCursor{}
	for _, l := range b.o.layers {
		if lb := l.buckets[b.name]; lb != nil && len(lb.m) > 0 {
			m.srcs = append(m.srcs, &layerCursor{b: lb, keys: lb.keys(), i: -1})
		}
	}
	m.srcs = append(m.srcs, &baseCursor{c: b.o.base.Bucket(b.name).Cursor()})
	m.cur = make([]srcPos, len(m.srcs))
	return m
}

// source is one ordered input of a merged cursor; del marks a deletion
// that hides the key in the sources after it.
type source interface {
	first() srcPos
	last() srcPos
	seek(k []byte) srcPos
	next() srcPos
	prev() srcPos
}

type srcPos struct {
	k, v []byte
	del  bool
}

type layerCursor struct {
	b    *layerBucket
	keys []string
	i    int
}

func (c *layerCursor) at() srcPos {
	if c.i < 0 || c.i >= len(c.keys) {
		return srcPos{}
	}
	e := c.b.m[c.keys[c.i]]
	v := e.v
	if v == nil && !e.del {
		v = []byte{}
	}
	return srcPos{k: []byte(c.keys[c.i]), v: v, del: e.del}
}

func (c *layerCursor) first() srcPos { c.i = 0; return c.at() }
func (c *layerCursor) last() srcPos  { c.i = len(c.keys) - 1; return c.at() }
func (c *layerCursor) seek(k []byte) srcPos {
	c.i = sort.SearchStrings(c.keys, string(k))
	return c.at()
}
func (c *layerCursor) next() srcPos {
	if c.i < len(c.keys) {
		c.i++
	}
	return c.at()
}
func (c *layerCursor) prev() srcPos {
	if c.i >= 0 {
		c.i--
	}
	return c.at()
}

type baseCursor struct{ c Cursor }

func pos(k, v []byte) srcPos               { return srcPos{k: k, v: v} }
func (c *baseCursor) first() srcPos        { return pos(c.c.First()) }
func (c *baseCursor) last() srcPos         { return pos(c.c.Last()) }
func (c *baseCursor) seek(k []byte) srcPos { return pos(c.c.Seek(k)) }
func (c *baseCursor) next() srcPos         { return pos(c.c.Next()) }
func (c *baseCursor) prev() srcPos         { return pos(c.c.Prev()) }

// mergedCursor walks the union of its sources in key order; for a key in
// several sources the earliest source wins, and a deletion hides it.
type mergedCursor struct {
	srcs []source
	cur  []srcPos
	key  []byte // the key last returned (nil before the first move)
	dir  int    // +1 forward, -1 backward
}

// pick returns the smallest (dir > 0) or largest current key, skipping
// deletions by moving on in the same direction.
func (m *mergedCursor) pick() ([]byte, []byte) {
	for {
		best := -1
		for i, p := range m.cur {
			if p.k == nil {
				continue
			}
			if best < 0 {
				best = i
				continue
			}
			c := bytes.Compare(p.k, m.cur[best].k)
			if (m.dir > 0 && c < 0) || (m.dir < 0 && c > 0) {
				best = i
			}
		}
		if best < 0 {
			m.key = nil
			return nil, nil
		}
		p := m.cur[best]
		m.key = p.k
		if !p.del {
			return p.k, p.v
		}
		m.advance()
	}
}

// advance moves every source sitting on m.key one step in m.dir.
func (m *mergedCursor) advance() {
	for i, s := range m.srcs {
		if m.cur[i].k != nil && bytes.Equal(m.cur[i].k, m.key) {
			if m.dir > 0 {
				m.cur[i] = s.next()
			} else {
				m.cur[i] = s.prev()
			}
		}
	}
}

func (m *mergedCursor) First() ([]byte, []byte) {
	m.dir = 1
	for i, s := range m.srcs {
		m.cur[i] = s.first()
	}
	return m.pick()
}

func (m *mergedCursor) Last() ([]byte, []byte) {
	m.dir = -1
	for i, s := range m.srcs {
		m.cur[i] = s.last()
	}
	return m.pick()
}

func (m *mergedCursor) Seek(k []byte) ([]byte, []byte) {
	m.dir = 1
	for i, s := range m.srcs {
		m.cur[i] = s.seek(k)
	}
	return m.pick()
}

func (m *mergedCursor) Next() ([]byte, []byte) {
	if m.key == nil {
		return nil, nil
	}
	if m.dir < 0 {
		// Turn around: every source to its first key after m.key.
		key := bytes.Clone(m.key)
		for i, s := range m.srcs {
			p := s.seek(key)
			if p.k != nil && bytes.Equal(p.k, key) {
				p = s.next()
			}
			m.cur[i] = p
		}
		m.dir = 1
		return m.pick()
	}
	m.advance()
	return m.pick()
}

func (m *mergedCursor) Prev() ([]byte, []byte) {
	if m.key == nil {
		return nil, nil
	}
	if m.dir > 0 {
		// Turn around: every source to its last key before m.key.
		key := bytes.Clone(m.key)
		for i, s := range m.srcs {
			p := s.seek(key)
			if p.k == nil {
				p = s.last()
			} else {
				p = s.prev()
			}
			m.cur[i] = p
		}
		m.dir = -1
		return m.pick()
	}
	m.advance()
	return m.pick()
}
