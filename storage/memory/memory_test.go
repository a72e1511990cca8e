package memory_test

import (
	"testing"

	"github.com/nimbus-server/nimbus/permissions/permtest"
	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/memory"
	"github.com/nimbus-server/nimbus/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Backend { return memory.New() })
}

func TestACLConformance(t *testing.T) {
	permtest.Run(t, func(t *testing.T) storage.Backend { return memory.New() })
}
