package cli

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// How the collector is paced in the nimbus binary, unless the operator
// chose (GOGC or GOMEMLIMIT in the environment).
//
// A request allocates many short-lived objects while the live heap of a
// server stays small (2 to 8 MB). Go sets the next collection at GOGC
// percent above the live heap, and at 4 MB times GOGC/100 at least, so
// under load the collector ran ten times a second even at GOGC 400 (55-80
// times with Go's default): every cycle stops the world briefly and asks
// allocating goroutines to help mark, which lengthens whatever they hold
// meanwhile (on PostgreSQL, the leader of a write group holding the list's
// lock). So:
//   - GOGC 400 instead of 100: collections five times the live heap
//     apart;
//   - a ballast of heapFloor bytes: an allocation without pointers that
//     is never touched (the operating system does not back it with
//     memory, and the collector does not scan it) but counts as live, so
//     that collections are at least about heapFloor × 5 apart while the
//     real live heap is small; with a large live heap it adds heapFloor to
//     the pace, a few percent;
//   - in a container with a memory limit, a soft limit of nine tenths of
//     it (debug.SetMemoryLimit): the collector then runs as often as it
//     must to stay under it, so the pace above never costs the process
//     its container; no ballast in a container of less than
//     ballastMinMemory, where it would only make collections more
//     frequent near the limit;
//   - elsewhere, a soft limit of three quarters of the machine's memory
//     (MemTotal), which it shares with others (often PostgreSQL): with
//     GOGC 400 a live heap of a few GB (large bodies served at once,
//     resource/bodybudget.go) would otherwise let the heap grow to five
//     times that before the next collection.
//
// docs/performance.md ("Twelfth session") has the figures.
const (
	gcPercent        = 400
	heapFloor        = 16 << 20
	ballastMinMemory = 512 << 20
)

// paceGC applies the pacing above to this process and returns the
// ballast, which the caller keeps alive for as long as the process serves
// (nil when the operator chose).
func paceGC() []byte {
	return pace(os.Getenv("GOGC"), os.Getenv("GOMEMLIMIT"),
		containerMemory("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"),
		machineMemory("/proc/meminfo"))
}

// pace applies the pacing given the environment's GOGC and GOMEMLIMIT,
// the container's memory limit and the machine's memory (0: unknown).
func pace(gogc, memLimit string, container, machine int64) []byte {
	if gogc == "" {
		debug.SetGCPercent(gcPercent)
	}
	switch {
	case memLimit != "":
	case container > 0:
		debug.SetMemoryLimit(container / 10 * 9)
	case machine > 0:
		debug.SetMemoryLimit(machine / 4 * 3)
	}
	if gogc != "" || memLimit != "" || (container > 0 && container < ballastMinMemory) {
		return nil
	}
	return make([]byte, heapFloor)
}

// machineMemory returns the MemTotal line of a /proc/meminfo file in
// bytes, or 0 when it cannot be read.
func machineMemory(file string) int64 {
	raw, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		rest, ok := strings.CutPrefix(line, "MemTotal:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil || kb <= 0 || kb > 1<<52 {
			return 0
		}
		return kb << 10
	}
	return 0
}

// containerMemory returns the memory limit the first of files holds (the
// cgroup v2 file, then v1's), or 0 when it says there is none ("max", or
// v1's "unlimited", a value near 2^63) or no file can be read.
func containerMemory(files ...string) int64 {
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
		if err != nil || n <= 0 || n >= 1<<62 {
			return 0
		}
		return n
	}
	return 0
}
