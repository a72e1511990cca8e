package bolt_test

import (
	"context"
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

func TestBackup(t *testing.T) {
	dir := t.TempDir()
	b, err := bolt.Open(filepath.Join(dir, "live.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ref := storage.Ref{Resource: "record", Parent: "/buckets/b/collections/c"}
	ctx := context.Background()
	if err := b.Update(ctx, func(tx storage.Tx) error {
		_, err := tx.Create(ref, storage.Object{"id": "r", "v": "kept"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(dir, "copy.db")
	if err := b.Backup(ctx, copyPath); err != nil {
		t.Fatal(err)
	}
	b.Close()
	c, err := bolt.Open(copyPath, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.View(ctx, func(tx storage.Tx) error {
		o, err := tx.Get(ref, "r")
		if err != nil || o["v"] != "kept" {
			t.Errorf("backup content: %v %v", o, err)
		}
		return nil
	})
}
