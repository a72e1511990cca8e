package accounts

import (
	"context"

	"github.com/nimbus-server/nimbus/storage"
)

// HashRuns is how many password hashes and verifications the plugin ran.
func HashRuns(p *Plugin) int64 { return p.pool.runs.Load() }

// Sweep runs one sweep of expired credentials and counters at now
// (unix milliseconds).
func Sweep(p *Plugin, ctx context.Context, b storage.Backend, now int64) (int, error) {
	return p.sweep(ctx, b, now)
}
