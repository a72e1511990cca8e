package kinto_test

import (
	"path/filepath"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/storage/bolt"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

// onBackends runs fn against a server on each production backend: a bolt
// file and a throwaway PostgreSQL database (skipped, loudly, where
// PostgreSQL is not installed; CI requires it).
func onBackends(t *testing.T, settings map[string]string, fn func(t *testing.T, s *apitest.Server)) {
	t.Run("bolt", func(t *testing.T) {
		b, err := bolt.Open(filepath.Join(t.TempDir(), "nimbus.db"), bolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		fn(t, apitest.NewWithBackend(t, b, settings))
	})
	t.Run("postgresql", func(t *testing.T) {
		fn(t, apitest.NewPostgresConns(t, pgtest.Start(t).NewDatabase(t), 10, settings))
	})
}
