package kinto_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/storage/bolt"
	"github.com/nimbus-server/nimbus/storage/postgres"
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
		pg := pgtest.Start(t)
		b, err := postgres.Open(context.Background(), pg.NewDatabase(t), postgres.Options{MaxConns: 10})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		pgtest.WaitCache(t, b)
		withPG := map[string]string{"storage_backend": "postgresql"}
		for k, v := range settings {
			withPG[k] = v
		}
		fn(t, apitest.NewWithBackend(t, b, withPG))
	})
}
