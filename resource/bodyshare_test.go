package resource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"
)

// TestBodyShare: a body takes its share of the budget as it arrives. A
// body that finds the budget taken stops being read at the floor (it
// holds no more memory than a small body while it waits) and is refused
// after the wait; one that fits holds its size, never more than the
// whole budget, and gives all of it back; with its length announced or
// not (chunked).
func TestBodyShare(t *testing.T) {
	const size = 300_000
	cases := []struct {
		name    string
		body    int
		taken   int64 // held by others meanwhile
		wantErr bool
		maxRead int64
		// freed: the others give their share back after 30 ms, so the
		// body waits, then is read whole (and its time limit restarts).
		freed bool
	}{
		{"a small body is never counted", 60_000, size, false, 60_000, false},
		{"a large body fits", 200_000, 0, false, 200_000, false},
		{"a body larger than the budget holds all of it", 1 << 20, 0, false, 1 << 20, false},
		{"a large body waits at the floor, then is refused", 1 << 20, 250_000, true, budgetFloor, false},
		{"a large body waits until the budget is free", 200_000, 250_000, false, 200_000, true},
	}
	for _, tc := range cases {
		for _, chunked := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, chunked %v", tc.name, chunked), func(t *testing.T) {
				b := newByteBudget("request_body_budget_bytes", size, 100*time.Millisecond)
				if tc.taken > 0 {
					b.sem.Acquire(context.Background(), tc.taken) //nolint:errcheck // background context
					if tc.freed {
						time.AfterFunc(30*time.Millisecond, func() { b.sem.Release(tc.taken) })
					}
				}
				s := &budgetShare{b: b, ctx: context.Background()}
				waited := false
				s.waited = func() { waited = true }
				length := int64(tc.body)
				if chunked {
					length = -1
				}
				c := &chargedReader{r: bytes.NewReader(make([]byte, tc.body)), s: s, length: length}
				got, err := io.ReadAll(c)
				var ob overBudget
				if tc.wantErr != errors.As(err, &ob) {
					t.Fatalf("read %d bytes, error %v", len(got), err)
				}
				if c.read > tc.maxRead {
					t.Errorf("read %d bytes, at most %d", c.read, tc.maxRead)
				}
				if !tc.wantErr {
					if want := min(int64(tc.body), size); tc.body >= budgetFloor && s.held < want || s.held > size {
						t.Errorf("holds %d for a body of %d", s.held, tc.body)
					}
					if tc.body < budgetFloor && s.held != 0 {
						t.Errorf("a small body holds %d", s.held)
					}
				}
				if waited != tc.freed {
					t.Errorf("the wait hook ran %v, want %v", waited, tc.freed)
				}
				s.release()
				if tc.taken > 0 && !tc.freed {
					b.sem.Release(tc.taken)
				}
				if !b.sem.TryAcquire(size) {
					t.Error("the share was not given back whole")
				}
			})
		}
	}
}
