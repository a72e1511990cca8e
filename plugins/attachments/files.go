package attachments

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/nimbus-server/nimbus/storage"
)

// files stores files (bytes in the blob store, what serving needs in the
// storage backend) and removes them.
type files struct {
	blobs blobStore
	b     storage.Backend
}

// nameAttempts bounds the names tried when the chosen one is taken
// (kinto-attachment appends -1, -2... to a kept client name).
const nameAttempts = 20

// save stores src under a name from name() (name-1, name-2... when it is
// taken) and returns the name.
func (f files) save(ctx context.Context, name func() string, src io.ReadSeeker, info fileInfo) (string, error) {
	base := name()
	for i := 0; i < nameAttempts; i++ {
		n := base
		if i > 0 {
			ext := path.Ext(base)
			n = strings.TrimSuffix(base, ext) + fmt.Sprintf("-%d", i) + ext
		}
		if _, err := src.Seek(0, io.SeekStart); err != nil {
			return "", err
		}
		err := f.blobs.create(ctx, n, src, info.Size)
		if errors.Is(err, errExists) {
			continue
		}
		if err != nil {
			f.remove(ctx, n)
			return "", fmt.Errorf("attachments: storing %s: %w", n, err)
		}
		info.Name = n
		if err := f.b.Update(ctx, func(tx storage.Tx) error {
			if _, err := tx.Replace(metaRef(n), info.object()); err != nil {
				return err
			}
			_, err := tx.Replace(namesRef, storage.Object{"id": nameKey(n), "name": n})
			return err
		}); err != nil {
			f.remove(ctx, n)
			return "", err
		}
		return n, nil
	}
	return "", fmt.Errorf("attachments: no free name for %s", base)
}

// remove deletes a stored file: its bytes and what the server keeps of it.
func (f files) remove(ctx context.Context, name string) error {
	if err := f.blobs.remove(ctx, name); err != nil {
		return err
	}
	return f.b.Update(ctx, func(tx storage.Tx) error {
		if err := tx.DeleteTree(fileParent(name)); err != nil {
			return err
		}
		if _, err := tx.Delete(namesRef, nameKey(name), 0); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		_, err := tx.PurgeDeleted(namesRef, 0, 0)
		return err
	})
}

// flushedNames returns the names of every stored file: those of namesRef
// and, for files stored before it or by Kinto sharing the database,
// those the links name.
func flushedNames(tx storage.Tx) ([]string, error) {
	seen := map[string]bool{}
	var names []string
	for _, l := range []struct {
		ref   storage.Ref
		field string
	}{{namesRef, "name"}, {linksRef, "location"}} {
		objs, err := tx.List(l.ref, storage.Query{})
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			if n, ok := o[l.field].(string); ok && n != "" && !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	return names, nil
}

// info returns what the server keeps of a stored file; ok is false for
// an unknown name or an upload still being written.
func (f files) info(ctx context.Context, name string) (fileInfo, bool, error) {
	var obj storage.Object
	err := f.b.View(ctx, func(tx storage.Tx) (err error) {
		obj, err = tx.Get(metaRef(name), "meta")
		return err
	})
	if errors.Is(err, storage.ErrNotFound) {
		return fileInfo{}, false, nil
	}
	if err != nil {
		return fileInfo{}, false, err
	}
	if pending, _ := obj["pending"].(bool); pending {
		return fileInfo{}, false, nil
	}
	return fileFrom(obj), true, nil
}
