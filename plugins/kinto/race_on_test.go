//go:build race

package kinto_test

// raceScale stretches the latency bounds of tests under the race
// detector, which slows every goroutine several times.
const raceScale = 3
