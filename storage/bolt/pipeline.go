package bolt

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/kvengine"
)

// Write transactions are pipelined. bbolt has one writer, which holds its
// lock through the page writes and the fsync of every commit; running the
// callers' functions inside it would leave the CPU idle during each fsync
// and serialise all request handling behind the disk.
//
// Instead, each write transaction runs (one at a time, under mu) on a
// kvengine.Overlay: its writes go to the pending layer, and its reads see
// the pending layer, then the layer being flushed, then a bbolt read
// snapshot. A flusher goroutine repeatedly takes the pending layer and
// applies it in one bbolt transaction (one commit, one fsync), while the
// next transactions already run on a fresh pending layer. A transaction
// returns only once the layer holding its writes is committed and synced,
// so an acknowledged write is durable exactly as before; read-only
// transactions read bbolt directly and never see unacknowledged writes.
// When a flush fails, the writes made on top of it fail too.
type pipeline struct {
	db *bbolt.DB

	mu       sync.Mutex
	pending  *flushLayer
	flushing *flushLayer
	closed   bool

	kick    chan struct{}
	arrive  chan struct{}
	stopped chan struct{}
	// lastGroup is how many transactions the previous flush committed.
	lastGroup int
	// failApply, when set (tests), makes a flush fail with its error.
	failApply func() error

	// Figures for metrics: time spent waiting for the writer, write
	// transactions run, commits and the time they took.
	lockWait, writes, commits, commitTime atomic.Int64
}

// flushLayer is a layer with the outcome of its flush.
type flushLayer struct {
	*kvengine.Layer
	txs  int // transactions that wrote into it
	done chan struct{}
	err  error
}

func newFlushLayer() *flushLayer {
	return &flushLayer{Layer: kvengine.NewLayer(), done: make(chan struct{})}
}

// maxPending bounds the writes waiting behind a flush; past it, new
// transactions wait for the flush to finish (back-pressure on a slow disk).
const maxPending = 200_000

var errClosed = errors.New("bolt: the database is closed")

func newPipeline(db *bbolt.DB) *pipeline {
	p := &pipeline{db: db, pending: newFlushLayer(), kick: make(chan struct{}, 1),
		arrive: make(chan struct{}, 1), stopped: make(chan struct{})}
	go p.flusher()
	return p
}

// update runs fn as one write transaction and waits until its writes are
// durable.
func (p *pipeline) update(ctx context.Context, fn func(storage.Tx) error) error {
	wait, fnErr, err := p.run(ctx, fn)
	if err != nil || wait == nil {
		if err == nil {
			err = fnErr
		}
		return err
	}
	for _, ch := range []chan struct{}{p.kick, p.arrive} {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	<-wait.done
	if wait.err != nil {
		return &storage.BackendError{Op: "bolt commit", Err: wait.err}
	}
	return fnErr
}

// run calls fn on the pending layer and returns the layer to wait for,
// with fn's error. A failing (or panicking) fn leaves nothing behind; a
// failing one is still answered only once the layers it read are
// committed: its failure may rest on writes of earlier transactions (an
// id one of them created), which must not be acted on before they are
// (the caller, reading bbolt next, would not see them).
func (p *pipeline) run(ctx context.Context, fn func(storage.Tx) error) (wait *flushLayer, fnErr, err error) {
	start := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lockWait.Add(int64(time.Since(start)))
	p.writes.Add(1)
	for !p.closed && p.pending.Len() > maxPending && p.flushing != nil {
		f := p.flushing
		p.mu.Unlock()
		<-f.done
		p.mu.Lock()
	}
	if p.closed {
		return nil, nil, &storage.BackendError{Op: "bolt", Err: errClosed}
	}
	snap, err := p.db.Begin(false)
	if err != nil {
		return nil, nil, &storage.BackendError{Op: "bolt", Err: err}
	}
	defer snap.Rollback()
	layers := []*kvengine.Layer{p.pending.Layer}
	if p.flushing != nil {
		layers = append(layers, p.flushing.Layer)
	}
	mark := p.pending.Mark()
	ok := false
	defer func() {
		if !ok {
			p.pending.Undo(mark)
		}
		p.pending.Settle()
	}()
	fnErr = fn(kvengine.NewTx(ctx, kvengine.NewOverlay(&store{tx: snap}, layers...)))
	if fnErr != nil {
		p.pending.Undo(mark)
	} else if p.pending.Mark() > mark {
		p.pending.txs++
	}
	ok = true
	if p.pending.Len() > 0 {
		// What this transaction read or wrote may be in the pending layer.
		return p.pending, fnErr, nil
	}
	return p.flushing, fnErr, nil
}

// direct runs fn in a bbolt write transaction of its own (BulkUpdate),
// holding mu so that no pipelined transaction runs meanwhile, once the
// pending and flushing layers are committed: fn's reads then see every
// earlier write, and no layer built without fn's writes is applied after
// them.
func (p *pipeline) direct(ctx context.Context, fn func(storage.Tx) error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.writes.Add(1)
	for !p.closed && (p.pending.Len() > 0 || p.flushing != nil) {
		f := p.flushing
		if f == nil {
			f = p.pending
		}
		select {
		case p.kick <- struct{}{}:
		default:
		}
		p.mu.Unlock()
		<-f.done
		p.mu.Lock()
		if f.err != nil {
			return &storage.BackendError{Op: "bolt commit", Err: f.err}
		}
	}
	if p.closed {
		return &storage.BackendError{Op: "bolt", Err: errClosed}
	}
	started := time.Now()
	err := p.db.Update(func(btx *bbolt.Tx) error {
		if err := fn(kvengine.NewTx(ctx, &store{tx: btx})); err != nil {
			return fnError{err}
		}
		return nil
	})
	p.commits.Add(1)
	p.commitTime.Add(int64(time.Since(started)))
	var fe fnError
	if errors.As(err, &fe) {
		return fe.err
	}
	if err != nil {
		return &storage.BackendError{Op: "bolt commit", Err: err}
	}
	return nil
}

// flusher applies pending layers until the pipeline is closed and empty.
func (p *pipeline) flusher() {
	defer close(p.stopped)
	for range p.kick {
		for p.flushOnce() {
		}
		p.mu.Lock()
		closed := p.closed
		p.mu.Unlock()
		if closed {
			// No transaction starts any more; flush what the last ones left.
			for p.flushOnce() {
			}
			return
		}
	}
}

// maxGather bounds how long a flush waits for writers to join it.
const maxGather = time.Millisecond

// gather waits, at most maxGather, until the pending layer holds as many
// transactions as the previous flush did. Under steady concurrent load this
// lets every writer share each commit (and its fsync) instead of the
// writers splitting into groups that alternate; a lone writer (previous
// group of one) does not wait.
func (p *pipeline) gather() {
	var timer *time.Timer
	for {
		p.mu.Lock()
		enough := p.closed || p.pending.txs >= p.lastGroup
		p.mu.Unlock()
		if enough {
			return
		}
		if timer == nil {
			timer = time.NewTimer(maxGather)
			defer timer.Stop()
		}
		select {
		case <-p.arrive:
		case <-timer.C:
			return
		}
	}
}

// flushOnce commits the pending layer, if it holds anything, and tells
// whether it did.
func (p *pipeline) flushOnce() bool {
	p.gather()
	p.mu.Lock()
	if p.pending.Len() == 0 {
		p.mu.Unlock()
		return false
	}
	f := p.pending
	p.lastGroup = f.txs
	f.Freeze()
	p.pending = newFlushLayer()
	p.flushing = f
	p.mu.Unlock()

	started := time.Now()
	defer func() {
		p.commits.Add(1)
		p.commitTime.Add(int64(time.Since(started)))
	}()
	err := p.db.Update(func(tx *bbolt.Tx) error {
		if err := f.Apply(&store{tx: tx}); err != nil {
			return err
		}
		if p.failApply != nil {
			return p.failApply()
		}
		return nil
	})

	p.mu.Lock()
	p.flushing = nil
	if err != nil {
		// The pending layer was built on what failed to commit.
		lost := p.pending
		p.pending = newFlushLayer()
		lost.err = err
		close(lost.done)
	}
	p.mu.Unlock()
	f.err = err
	close(f.done)
	return true
}

// close flushes what is pending and stops the flusher.
func (p *pipeline) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	select {
	case p.kick <- struct{}{}:
	default:
	}
	<-p.stopped
}
