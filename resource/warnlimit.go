package resource

import (
	"log/slog"
	"sync"
	"time"
)

// warnLimiter keeps a warning that every request of an outage would log
// (the storage is unreachable) to one line a period: the first at once,
// then one a period telling how many were left out since the last.
// Tens of thousands of identical lines a second would bury whatever
// else is logged, and cost the server as much as the requests.
type warnLimiter struct {
	period time.Duration
	mu     sync.Mutex
	last   time.Time
	held   int
}

// warn logs msg with args, unless a line went out less than a period
// ago: then it only counts it.
func (w *warnLimiter) warn(log *slog.Logger, msg string, args ...any) {
	now := time.Now()
	w.mu.Lock()
	if !w.last.IsZero() && now.Sub(w.last) < w.period {
		w.held++
		w.mu.Unlock()
		return
	}
	held := w.held
	w.last, w.held = now, 0
	w.mu.Unlock()
	if held > 0 {
		args = append(args, "left_out", held)
	}
	log.Warn(msg, args...)
}
