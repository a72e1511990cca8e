package bolt_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nimbus-server/nimbus/storage/bolt"
	"github.com/nimbus-server/nimbus/storage/storagetest"
)

// BenchmarkBolt measures a real file (in NIMBUS_BENCH_DIR, default the
// system temp folder) holding 100,000 records.
func BenchmarkBolt(b *testing.B) {
	dir := os.Getenv("NIMBUS_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	path := filepath.Join(dir, "bench.db")
	os.Remove(path)
	defer os.Remove(path)
	backend, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer backend.Close()
	storagetest.Seed(b, backend)
	storagetest.Bench(b, backend)
}
