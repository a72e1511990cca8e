//go:build unix

package kinto_test

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used so far (user and
// system), without its children: PostgreSQL, started by pgtest, is not
// counted.
func processCPU() time.Duration {
	var u syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &u) != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
