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
			_, err := tx.Replace(metaRef(n), info.object())
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
	return f.b.Update(ctx, func(tx storage.Tx) error { return tx.DeleteTree(fileParent(name)) })
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
