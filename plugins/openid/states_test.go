package openid

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/memory"
)

// TestLoginStatesBounded: expired states are removed at most every
// purgeEvery, not on each login (which read every state each time), and
// a login past the bound of waiting states is refused only once the
// expired ones are gone.
func TestLoginStatesBounded(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type step struct {
		what    string
		at      time.Duration // after t0
		expires time.Duration // of the state the login stores, after at
		refused bool
		waiting int // states left after the step
	}
	for _, c := range []struct {
		name  string
		steps []step
	}{
		{"refused at the bound, until a state expires", []step{
			{"first login purges (nothing yet)", 0, time.Minute, false, 1},
			{"second", time.Second, time.Hour, false, 2},
			{"third", 2 * time.Second, time.Hour, false, 3},
			{"fourth: the bound, nothing expired", 3 * time.Second, time.Hour, true, 3},
			{"the first expired, a purge due: room again", 2 * time.Minute, time.Hour, false, 3},
		}},
		{"expired states go every purgeEvery, not on each login", []step{
			{"first login purges", 0, time.Second, false, 1},
			{"expired, but the last purge is recent", 5 * time.Second, time.Second, false, 2},
			{"past purgeEvery: both expired ones go", purgeEvery + time.Second, time.Hour, false, 1},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := memory.New()
			k := &stateKeeper{max: 3}
			for i, st := range c.steps {
				now := t0.Add(st.at)
				err := k.add(func(fn func(storage.Tx) error) error { return b.View(ctx, fn) },
					func(fn func(storage.Tx) error) error { return b.Update(ctx, fn) },
					now, storage.Object{"id": fmt.Sprint("s", i), "expires": now.Add(st.expires).UnixMilli()})
				if got := errors.Is(err, errTooManyLogins); got != st.refused || err != nil && !got {
					t.Fatalf("%s: error %v", st.what, err)
				}
				var n int
				if err := b.View(ctx, func(tx storage.Tx) (err error) { n, err = tx.Count(stateRef, nil, false); return }); err != nil {
					t.Fatal(err)
				}
				if n != st.waiting {
					t.Fatalf("%s: %d states waiting, want %d", st.what, n, st.waiting)
				}
			}
		})
	}
}
