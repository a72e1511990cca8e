package accounts

import (
	"context"
	"log/slog"
	"time"

	"github.com/nimbus-server/nimbus/storage"
)

// Expired credentials and finished login counters were never removed:
// an expired session, token or embed credential stops authenticating
// but stayed stored, and each (user, address) pair with a failed login
// kept its counter. Anyone may fail a login (Basic with any user name),
// so the counters grew without bound, and with them the lists that
// revoking an account's credentials reads whole. The sweeper removes
// them in the background, a chunk per transaction so that bolt's only
// writer is never held long.
const (
	// sweepEvery is how often expired objects are removed.
	sweepEvery = 10 * time.Minute
	// sweepGrace keeps an object for this long past its stored expiry:
	// a session's sliding expiry is stored lazily (once a minute at most).
	sweepGrace = 5 * time.Minute
	// sweepChunk is how many objects one transaction removes.
	sweepChunk = 500
)

// sweep removes what expired before now - sweepGrace from each list, a
// chunk at a time, and returns how many objects went.
func (p *Plugin) sweep(ctx context.Context, b storage.Backend, now int64) (int, error) {
	cutoff := now - sweepGrace.Milliseconds()
	expiredBy := []storage.Filter{{Field: "expires", Op: storage.OpGt, Value: int64(0)}, {Field: "expires", Op: storage.OpLt, Value: cutoff}}
	type swept struct {
		ref     storage.Ref
		filters []storage.Filter
	}
	lists := []swept{{sessionRef, expiredBy}, {tokenRef, expiredBy}, {embedRef, expiredBy}}
	if p.throttle.max > 0 {
		// A counter whose window ended counts nothing any more.
		lists = append(lists, swept{throttleRef, []storage.Filter{{Field: "start", Op: storage.OpLt, Value: cutoff - p.throttle.window.Milliseconds()}}})
	}
	total := 0
	for _, l := range lists {
		for {
			var gone []storage.Object
			err := b.Update(ctx, func(tx storage.Tx) (err error) {
				if gone, err = tx.DeleteMany(l.ref, storage.Query{Filters: l.filters, Limit: sweepChunk}); err != nil {
					return err
				}
				_, err = tx.PurgeDeleted(l.ref, 0, 0)
				return err
			})
			if err != nil {
				return total, err
			}
			total += len(gone)
			if l.ref == throttleRef && p.throttle.local != nil {
				for _, o := range gone {
					p.throttle.local.set(storage.ID(o), false)
				}
			}
			if len(gone) < sweepChunk || ctx.Err() != nil {
				break
			}
		}
	}
	return total, ctx.Err()
}

// sweepForever sweeps every sweepEvery until ctx ends.
func (p *Plugin) sweepForever(ctx context.Context, b storage.Backend, log *slog.Logger) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := p.sweep(ctx, b, now())
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("accounts: expired credentials could not be removed (next try in ten minutes)", "error", err)
		case n > 0:
			log.Info("accounts: expired credentials and login counters removed", "count", n)
		}
	}
}
