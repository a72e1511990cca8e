package memory_test

import (
	"testing"

	"github.com/nimbus-server/nimbus/storage/memory"
	"github.com/nimbus-server/nimbus/storage/storagetest"
)

func BenchmarkMemory(b *testing.B) {
	backend := memory.New()
	storagetest.Seed(b, backend)
	storagetest.Bench(b, backend)
}
