package resource_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/resource"
)

// probe is a plugin whose heartbeat check counts its runs, waits for
// release while gate is set, and fails while failing is set.
type probe struct {
	runs    *atomic.Int32
	gate    *chan struct{}
	failing *atomic.Bool
}

func (probe) Name() string { return "probe" }

func (p probe) Register(r *resource.Registry) error {
	r.AddHeartbeat("probe", func(ctx context.Context) error {
		p.runs.Add(1)
		if g := *p.gate; g != nil {
			<-g
		}
		if p.failing.Load() {
			return errors.New("probe down")
		}
		return nil
	})
	return nil
}

// TestHeartbeatsShareARun: heartbeats that arrive while the checks run
// take that run's result instead of running the checks again (each run
// pings the storage and writes a file with attachments on: an anonymous
// flood ran them all at once); a heartbeat after a run runs them again,
// so a failure shows at once.
func TestHeartbeatsShareARun(t *testing.T) {
	var runs atomic.Int32
	var failing atomic.Bool
	gate := make(chan struct{})
	srv := serveMemory(t, map[string]string{}, probe{&runs, &gate, &failing})
	get := func() int {
		res, err := http.Get(srv.URL + "/v1/__heartbeat__")
		if err != nil {
			t.Error(err)
			return 0
		}
		res.Body.Close()
		return res.StatusCode
	}
	// Twenty at once, while the first run waits: one run for all.
	const n = 20
	codes := make(chan int, n)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); codes <- get() }()
	for runs.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	for range n - 1 {
		wg.Add(1)
		go func() { defer wg.Done(); codes <- get() }()
	}
	// The others cannot be seen joining: give them time to arrive. One
	// arriving late starts a run of its own, so the bound below leaves
	// room for a few (each of the twenty ran the checks before).
	time.Sleep(300 * time.Millisecond)
	close(gate)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusOK {
			t.Errorf("heartbeat %d", c)
		}
	}
	ran := runs.Load()
	if ran > 3 {
		t.Errorf("%d runs of the checks for %d heartbeats at once, want 1", ran, n)
	}
	// Later heartbeats run the checks again: a failure shows at once.
	failing.Store(true)
	if c := get(); c != http.StatusServiceUnavailable {
		t.Errorf("heartbeat while the check fails: %d", c)
	}
	failing.Store(false)
	if c := get(); c != http.StatusOK || runs.Load() != ran+2 {
		t.Errorf("heartbeat after the failure: %d, %d runs (%d before the two)", c, runs.Load(), ran)
	}
}
