package bolt_test

import (
	"path/filepath"
	"testing"

	"github.com/nimbus-server/nimbus/permissions/permtest"
	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/bolt"
	"github.com/nimbus-server/nimbus/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Backend {
		b, err := bolt.Open(filepath.Join(t.TempDir(), "test.db"), bolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

func TestACLConformance(t *testing.T) {
	permtest.Run(t, func(t *testing.T) storage.Backend {
		b, err := bolt.Open(filepath.Join(t.TempDir(), "acl.db"), bolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}
