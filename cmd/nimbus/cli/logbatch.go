package cli

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Logs of a serving process go out in batches. With log_level INFO (the
// default) every request writes a line, and a line written alone is a
// system call under the handler's lock for every request: about a tenth
// of the CPU time of a record GET. Lines are gathered and written together
// once logBatchBytes have gathered or logBatchDelay after the first one;
// a warning or an error goes out at once with everything before it, and
// the batch is written when the server stops. A process killed outright
// loses at most logBatchDelay of INFO lines.
const (
	logBatchBytes = 64 << 10
	logBatchDelay = 100 * time.Millisecond
)

// logBatch is an io.Writer that gathers what is written to w.
type logBatch struct {
	mu     sync.Mutex
	w      io.Writer
	buf    []byte
	timer  *time.Timer
	armed  bool
	closed bool
}

func newLogBatch(w io.Writer) *logBatch {
	b := &logBatch{w: w}
	b.timer = time.AfterFunc(time.Hour, func() { b.Flush() }) //nolint:errcheck // nowhere to report it
	b.timer.Stop()
	return b
}

// Write gathers p (a whole line: slog handlers write one record per call).
func (b *logBatch) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return b.w.Write(p)
	}
	b.buf = append(b.buf, p...)
	if len(b.buf) >= logBatchBytes {
		return len(p), b.flushLocked()
	}
	if !b.armed {
		b.armed = true
		b.timer.Reset(logBatchDelay)
	}
	return len(p), nil
}

// Flush writes what has gathered.
func (b *logBatch) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

func (b *logBatch) flushLocked() error {
	if b.armed {
		b.timer.Stop()
		b.armed = false
	}
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.w.Write(b.buf)
	if cap(b.buf) > 4*logBatchBytes {
		b.buf = nil // a burst of long lines: do not keep its memory
	} else {
		b.buf = b.buf[:0]
	}
	return err
}

// Close writes what has gathered; later lines go out one by one.
func (b *logBatch) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	err := b.flushLocked()
	b.closed = true
	return err
}

// urgentFlush is a slog.Handler writing through h into out, which it
// flushes after every record at WARN or above.
type urgentFlush struct {
	h   slog.Handler
	out *logBatch
}

func (u urgentFlush) Enabled(ctx context.Context, l slog.Level) bool { return u.h.Enabled(ctx, l) }

func (u urgentFlush) Handle(ctx context.Context, r slog.Record) error {
	err := u.h.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		if ferr := u.out.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (u urgentFlush) WithAttrs(attrs []slog.Attr) slog.Handler {
	return urgentFlush{h: u.h.WithAttrs(attrs), out: u.out}
}

func (u urgentFlush) WithGroup(name string) slog.Handler {
	return urgentFlush{h: u.h.WithGroup(name), out: u.out}
}
