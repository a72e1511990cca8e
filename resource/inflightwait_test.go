package resource

import (
	"context"
	"testing"
	"time"
)

// TestInflightWaitEnds: a read's wait ends when the writes of its path
// end, when its context ends, or after inflightWait, and paths are apart.
func TestInflightWaitEnds(t *testing.T) {
	cases := []struct {
		name string
		run  func(w *inflightWrites) (end func())
		ctx  func() (context.Context, context.CancelFunc)
		min  time.Duration // the wait lasts at least this
	}{
		{"no write", func(w *inflightWrites) func() { return func() {} }, background, 0},
		{"a write of another path", func(w *inflightWrites) func() { return w.begin("/v1/other") }, background, 0},
		{"two writes that end", func(w *inflightWrites) func() {
			e1, e2 := w.begin("/v1/x"), w.begin("/v1/x")
			go func() { time.Sleep(20 * time.Millisecond); e1(); time.Sleep(20 * time.Millisecond); e2() }()
			return func() {}
		}, background, 40 * time.Millisecond},
		{"the reader gives up", func(w *inflightWrites) func() { return w.begin("/v1/x") }, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 30*time.Millisecond)
		}, 30 * time.Millisecond},
		{"a write that never ends", func(w *inflightWrites) func() { return w.begin("/v1/x") }, background, inflightWait},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// start goes first: the writes' and the context's clocks
			// start in run and ctx, and the wait is measured against them.
			start := time.Now()
			var w inflightWrites
			end := tc.run(&w)
			ctx, cancel := tc.ctx()
			defer cancel()
			w.wait(ctx, "/v1/x")
			if d := time.Since(start); d < tc.min {
				t.Errorf("waited %s, want at least %s", d, tc.min)
			}
			end()
		})
	}
	var w inflightWrites
	w.begin("/v1/x")()
	if w.count.Load() != 0 || len(w.paths) != 0 {
		t.Errorf("after the write ended: %d under way, %d paths kept", w.count.Load(), len(w.paths))
	}
}

func background() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}

// TestFlushWaitEnds: a flush's wait ends when the requests of the epoch
// before it end, when its context ends, and ignores later requests.
func TestFlushWaitEnds(t *testing.T) {
	var e requestEpochs
	start := time.Now() // before the requests' 40 ms start
	end1, end2 := e.start(), e.start()
	go func() { time.Sleep(20 * time.Millisecond); end1(); end1(); time.Sleep(20 * time.Millisecond); end2() }()
	e.waitEarlier(context.Background(), 0, false)
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("waited %s for two requests that took 40 ms", d)
	}
	// A request that starts while a flush waits is not waited for.
	earlier := e.start()
	opened := e.epoch.Load() + 1
	done := make(chan struct{})
	go func() { e.waitEarlier(context.Background(), 0, false); close(done) }()
	for e.epoch.Load() != opened {
		time.Sleep(time.Millisecond)
	}
	later := e.start()
	earlier()
	select {
	case <-done:
	case <-time.After(flushWait / 2):
		t.Errorf("the flush waited for a request that started after it")
	}
	later()
	// A request that never ends holds a flush only until its context ends.
	e.start()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start = time.Now()
	e.waitEarlier(ctx, 0, false)
	if d := time.Since(start); d >= flushWait {
		t.Errorf("waited %s despite the context", d)
	}
}
