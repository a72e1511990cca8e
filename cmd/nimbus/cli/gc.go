package cli

import (
	"os"
	"runtime/debug"
)

// How the collector is paced in the nimbus binary, unless the operator
// chose (GOGC or GOMEMLIMIT in the environment).
//
// A request allocates many short-lived objects while the live heap of a
// server stays small (2 to 3 MB with an empty cache). Go sets the next
// collection at GOGC percent above the live heap, and at 4 MB times
// GOGC/100 at least, so under load the collector ran several times a
// second (80 times with Go's default GOGC): every cycle stops the world
// briefly and asks allocating goroutines to help mark, which lengthens
// whatever they hold meanwhile (on PostgreSQL, the leader of a write group
// holding the list's lock). Two measures, both of which an operator
// overrides by setting GOGC or GOMEMLIMIT:
//   - GOGC 400 instead of 100: collections five times the live heap
//     apart;
//   - a ballast of heapFloor bytes: an allocation without pointers that
//     is never touched (the operating system does not back it with
//     memory, and the collector does not scan it) but counts as live, so
//     that collections are at least about heapFloor × 5 apart while the
//     real live heap is small. With a large live heap it adds heapFloor to
//     the pace, a few percent.
//
// docs/performance.md ("Twelfth session") has the figures.
const (
	gcPercent = 400
	heapFloor = 16 << 20
)

// paceGC applies the pacing above and returns the ballast, which the
// caller keeps alive for as long as the process serves (nil when the
// operator chose).
func paceGC() []byte {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return nil
	}
	return make([]byte, heapFloor)
}
