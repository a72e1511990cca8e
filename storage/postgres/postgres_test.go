package postgres_test

import (
	"os"
	"testing"

	"github.com/nimbus-server/nimbus/permissions/permtest"
	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
	"github.com/nimbus-server/nimbus/storage/storagetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

func TestConformance(t *testing.T) {
	pg := pgtest.Start(t)
	storagetest.Run(t, func(t *testing.T) storage.Backend { return pg.Open(t) })
}

func TestACLConformance(t *testing.T) {
	pg := pgtest.Start(t)
	permtest.Run(t, func(t *testing.T) storage.Backend { return pg.Open(t) })
}
