package cli

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for the batch's timer goroutine.
type lockedBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLogBatch: INFO lines wait for the batch, a warning takes them out
// at once in their order, a full batch is written, the delay writes what
// waits, and after Close lines go straight through.
func TestLogBatch(t *testing.T) {
	cases := []struct {
		name string
		// run logs through logger and returns what must be out at once.
		run     func(l *slog.Logger, b *logBatch) []string
		waiting []string // what must not be out yet, until the delay (empty: nothing)
	}{
		{"info waits", func(l *slog.Logger, b *logBatch) []string {
			l.Info("request", "path", "/v1/")
			return nil
		}, []string{"/v1/"}},
		{"a warning takes what waits", func(l *slog.Logger, b *logBatch) []string {
			l.Info("first")
			l.Warn("second")
			return []string{"msg=first", "msg=second"}
		}, nil},
		{"a full batch is written", func(l *slog.Logger, b *logBatch) []string {
			long := strings.Repeat("x", 1000)
			for range logBatchBytes/1000 + 1 {
				l.Info("request", "path", long)
			}
			return []string{long}
		}, nil},
		{"close writes, then lines go through", func(l *slog.Logger, b *logBatch) []string {
			l.Info("before")
			b.Close()
			l.Info("after")
			return []string{"msg=before", "msg=after"}
		}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := &lockedBuffer{}
			b := newLogBatch(out)
			defer b.Close()
			l := slog.New(urgentFlush{h: slog.NewTextHandler(b, nil), out: b})
			mustOut := c.run(l, b)
			got := out.String()
			last := -1
			for _, s := range mustOut {
				i := strings.Index(got, s)
				if i < 0 || i < last {
					t.Fatalf("%q not written (in order) at once: %q", s, got)
				}
				last = i
			}
			for _, s := range c.waiting {
				if strings.Contains(got, s) {
					t.Fatalf("%q written before its batch: %q", s, got)
				}
			}
			if len(c.waiting) > 0 {
				// The delay writes it, in one write.
				deadline := time.Now().Add(5 * time.Second)
				for !strings.Contains(out.String(), c.waiting[0]) {
					if time.Now().After(deadline) {
						t.Fatalf("%q never written", c.waiting[0])
					}
					time.Sleep(10 * time.Millisecond)
				}
				out.mu.Lock()
				writes := out.writes
				out.mu.Unlock()
				if writes != 1 {
					t.Errorf("the batch took %d writes, want 1", writes)
				}
			}
		})
	}
}
