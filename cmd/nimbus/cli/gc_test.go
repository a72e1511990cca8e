package cli

import (
	"runtime/debug"
	"testing"
)

// TestPaceGC: the binary paces the collector (GOGC 400 and a ballast)
// unless the operator chose with GOGC or GOMEMLIMIT, whose choice is left
// alone.
func TestPaceGC(t *testing.T) {
	cases := []struct {
		name, gogc, memlimit string
		wantBallast          bool
		wantPercent          int
	}{
		{"nothing set", "", "", true, gcPercent},
		{"GOGC set", "150", "", false, 100},
		{"GOMEMLIMIT set", "", "1GiB", false, gcPercent},
		{"both set", "off", "1GiB", false, 100},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("GOGC", c.gogc)
			t.Setenv("GOMEMLIMIT", c.memlimit)
			prev := debug.SetGCPercent(100)
			defer debug.SetGCPercent(prev)
			ballast := paceGC()
			if got := len(ballast); (got == heapFloor) != c.wantBallast || (got != 0 && got != heapFloor) {
				t.Errorf("ballast of %d bytes, want one of %d: %v", got, heapFloor, c.wantBallast)
			}
			if got := debug.SetGCPercent(100); got != c.wantPercent {
				t.Errorf("GC percent %d, want %d", got, c.wantPercent)
			}
		})
	}
}
