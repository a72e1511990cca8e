package cli

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

// TestPace: the binary paces the collector (GOGC 400, a ballast, a soft
// limit under a container's memory, or under the machine's) unless the
// operator chose with GOGC or GOMEMLIMIT, whose choice is left alone.
func TestPace(t *testing.T) {
	const container, machine = 1 << 30, 8 << 30
	cases := []struct {
		name, gogc, memLimit string
		container, machine   int64
		wantBallast          bool
		wantPercent          int
		wantLimit            int64 // math.MaxInt64: none set
	}{
		{"nothing known", "", "", 0, 0, true, gcPercent, math.MaxInt64},
		{"on a machine", "", "", 0, machine, true, gcPercent, machine / 4 * 3},
		{"GOGC set", "150", "", 0, machine, false, 100, machine / 4 * 3},
		{"GOMEMLIMIT set", "", "1GiB", 0, machine, false, gcPercent, math.MaxInt64},
		{"both set", "off", "1GiB", 0, machine, false, 100, math.MaxInt64},
		{"in a container", "", "", container, machine, true, gcPercent, container / 10 * 9},
		{"in a small container", "", "", 256 << 20, machine, false, gcPercent, (256 << 20) / 10 * 9},
		{"in a container, GOMEMLIMIT set", "", "1GiB", container, machine, false, gcPercent, math.MaxInt64},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			prevPercent := debug.SetGCPercent(100)
			prevLimit := debug.SetMemoryLimit(math.MaxInt64)
			defer debug.SetGCPercent(prevPercent)
			defer debug.SetMemoryLimit(prevLimit)
			ballast := pace(c.gogc, c.memLimit, c.container, c.machine)
			if got := len(ballast); (got == heapFloor) != c.wantBallast || (got != 0 && got != heapFloor) {
				t.Errorf("ballast of %d bytes, want one of %d: %v", got, heapFloor, c.wantBallast)
			}
			if got := debug.SetGCPercent(100); got != c.wantPercent {
				t.Errorf("GC percent %d, want %d", got, c.wantPercent)
			}
			if got := debug.SetMemoryLimit(-1); got != c.wantLimit {
				t.Errorf("memory limit %d, want %d", got, c.wantLimit)
			}
		})
	}
}

// TestMachineMemory reads MemTotal from a meminfo file.
func TestMachineMemory(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, content string
		want          int64
	}{
		{"linux", "MemTotal:       24576000 kB\nMemFree:         1000 kB\n", 24576000 << 10},
		{"later line", "Foo: 1 kB\nMemTotal: 2048 kB\n", 2 << 20},
		{"no MemTotal", "MemFree: 1000 kB\n", 0},
		{"garbage", "MemTotal: lots kB\n", 0},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, fmt.Sprint(i))
			if err := os.WriteFile(p, []byte(c.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if got := machineMemory(p); got != c.want {
				t.Errorf("got %d, want %d", got, c.want)
			}
		})
	}
	if got := machineMemory(filepath.Join(dir, "missing")); got != 0 {
		t.Errorf("missing file: got %d", got)
	}
}

// TestContainerMemory reads cgroup limit files as v2 and v1 write them.
func TestContainerMemory(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	missing := filepath.Join(dir, "missing")
	cases := []struct {
		name  string
		files []string
		want  int64
	}{
		{"v2 limit", []string{file("v2", "536870912\n")}, 536870912},
		{"v2 none", []string{file("v2max", "max\n"), file("v1a", "1048576\n")}, 0},
		{"v1 limit after a missing v2", []string{missing, file("v1", "1073741824\n")}, 1073741824},
		{"v1 unlimited", []string{missing, file("v1u", "9223372036854771712\n")}, 0},
		{"garbage", []string{file("bad", "lots\n")}, 0},
		{"no file", []string{missing}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := containerMemory(c.files...); got != c.want {
				t.Errorf("got %d, want %d", got, c.want)
			}
		})
	}
}
