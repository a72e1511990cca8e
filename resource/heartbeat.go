package resource

import (
	"context"
	"net/http"
	"sync"
)

// heartbeatFlight shares one run of the checks between the heartbeat
// requests that arrive while it runs. /__heartbeat__ is anonymous and each
// run pings the storage and runs every plugin's check (the attachments'
// writes and removes a file): a flood of heartbeats ran as many checks at
// once, each a file written on disk. A request that arrives during a run
// takes its result, which started before it at most one run's time
// earlier; nothing is kept after the run, so a backend that fails shows at
// the next request.
type heartbeatFlight struct {
	mu      sync.Mutex
	running *heartbeatRun
}

// heartbeatRun is one run of the checks; done closes when out and status
// are set.
type heartbeatRun struct {
	done   chan struct{}
	out    map[string]any
	status int
}

func (a *App) heartbeatHandler(r *Request) error {
	f := &a.heartbeat
	f.mu.Lock()
	run := f.running
	if run == nil {
		run = &heartbeatRun{done: make(chan struct{})}
		f.running = run
		f.mu.Unlock()
		// The run belongs to every request that joins it: it is not
		// canceled when the first one's client goes away.
		run.out, run.status = a.runHeartbeats(context.Background())
		f.mu.Lock()
		f.running = nil
		f.mu.Unlock()
		close(run.done)
	} else {
		f.mu.Unlock()
		select {
		case <-run.done:
		case <-r.Ctx().Done():
			return ClientClosed()
		}
	}
	out := make(map[string]any, len(run.out))
	for k, v := range run.out {
		out[k] = v
	}
	return r.JSON(run.status, out)
}

// runHeartbeats runs every check at once, each bounded by the heartbeat
// timeout, and returns what each said and the status to answer.
func (a *App) runHeartbeats(parent context.Context) (map[string]any, int) {
	checks := map[string]heartbeatFunc{
		"storage":    func(ctx context.Context) error { return ping(ctx, a.Storage) },
		"permission": func(ctx context.Context) error { return ping(ctx, a.Storage) },
		"cache":      nil,
	}
	for k, v := range a.heartbeats {
		checks[k] = v
	}
	ctx, cancel := context.WithTimeout(parent, a.opts.heartbeatTimeout)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	out := map[string]any{}
	status := http.StatusOK
	for name, check := range checks {
		if check == nil {
			mu.Lock()
			out[name] = true
			mu.Unlock()
			continue
		}
		wg.Add(1)
		go func(name string, check heartbeatFunc) {
			defer wg.Done()
			done := make(chan error, 1)
			go func() { done <- check(ctx) }()
			var err error
			select {
			case err = <-done:
			case <-ctx.Done():
				err = ctx.Err()
			}
			mu.Lock()
			defer mu.Unlock()
			out[name] = err == nil
			if err != nil {
				status = http.StatusServiceUnavailable
				a.Logger.Warn("heartbeat check failed", "check", name, "error", err)
			}
		}(name, check)
	}
	wg.Wait()
	return out, status
}
