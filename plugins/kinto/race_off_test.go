//go:build !race

package kinto_test

// raceScale stretches the latency bounds of tests under the race
// detector; without it, the bounds are the requirement's.
const raceScale = 1
