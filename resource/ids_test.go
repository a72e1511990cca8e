package resource

import (
	"testing"
	"time"
)

func TestGeneratedIDs(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for i := 0; i < 2000; i++ {
		for _, id := range []string{NewUUID4(), NewOrderedUUID()} {
			if !uuidPattern.MatchString(id) {
				t.Fatalf("%q is not a lowercase UUID4", id)
			}
			if seen[id] {
				t.Fatalf("%q generated twice", id)
			}
			seen[id] = true
		}
	}
	// Ordered ids of different milliseconds sort by creation.
	for i := 0; i < 5; i++ {
		id := NewOrderedUUID()
		if id <= prev {
			t.Fatalf("%q sorts before the earlier %q", id, prev)
		}
		prev = id
		time.Sleep(2 * time.Millisecond)
	}
}
