package attachments

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	"github.com/nimbus-server/nimbus/storage"
)

// chunkSize is how many bytes of a file one chunk object holds, and
// chunksPerTx how many chunks one write transaction stores: a write holds
// the backend's writer for a few megabytes at a time, never a whole file.
const (
	chunkSize   = 256 << 10
	chunksPerTx = 8
)

// dbStore keeps files in the storage backend itself, as chunk objects
// (base64 in JSON, as every backend stores objects): a zero-configuration
// server keeps them in its bolt file, and every instance of a PostgreSQL
// group reaches the same files.
type dbStore struct{ b storage.Backend }

// create claims the name (its meta object, written as pending; a taken
// name is errExists) and then writes the chunks, a few per transaction.
// The caller replaces the meta object once every chunk is stored; a
// failure leaves a claim the caller removes.
func (s dbStore) create(ctx context.Context, name string, src io.Reader, size int64) error {
	err := s.b.Update(ctx, func(tx storage.Tx) error {
		if taken, err := tx.Exists(metaRef(name), "meta"); err != nil || taken {
			if taken {
				return errExists
			}
			return err
		}
		// Chunks a crashed upload of that name left behind go first.
		if err := tx.DeleteTree(fileParent(name)); err != nil {
			return err
		}
		_, err := tx.Create(metaRef(name), storage.Object{"id": "meta", "name": name, "pending": true})
		return err
	})
	if err != nil {
		return err
	}
	buf := make([]byte, chunkSize)
	n := 0
	for done := false; !done; {
		var page []storage.Object
		for len(page) < chunksPerTx {
			got, err := io.ReadFull(src, buf)
			if got > 0 {
				page = append(page, storage.Object{"id": fmt.Sprintf("%08d", n), "b": base64.StdEncoding.EncodeToString(buf[:got])})
				n++
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				done = true
				break
			}
			if err != nil {
				return err
			}
		}
		if len(page) == 0 {
			break
		}
		if err := s.b.Update(ctx, func(tx storage.Tx) error {
			for _, c := range page {
				if _, err := tx.Replace(chunksRef(name), c); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

func (s dbStore) open(ctx context.Context, name string, f fileInfo) (io.ReadSeekCloser, error) {
	return &chunkReader{ctx: ctx, b: s.b, ref: chunksRef(name), size: f.Size, idx: -1}, nil
}

func (s dbStore) remove(ctx context.Context, name string) error {
	return s.b.Update(ctx, func(tx storage.Tx) error { return tx.DeleteTree(fileParent(name)) })
}

// chunkReader reads a stored file chunk by chunk, one read transaction
// per chunk: serving a large file or a Range of it holds one chunk in
// memory at a time.
type chunkReader struct {
	ctx  context.Context
	b    storage.Backend
	ref  storage.Ref
	size int64
	off  int64
	idx  int64
	cur  []byte
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	if idx := r.off / chunkSize; idx != r.idx {
		var obj storage.Object
		err := r.b.View(r.ctx, func(tx storage.Tx) (err error) {
			obj, err = tx.Get(r.ref, fmt.Sprintf("%08d", idx))
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("attachments: chunk %d: %w", idx, err)
		}
		text, _ := obj["b"].(string)
		data, err := base64.StdEncoding.DecodeString(text)
		if err != nil {
			return 0, fmt.Errorf("attachments: chunk %d: %w", idx, err)
		}
		r.idx, r.cur = idx, data
	}
	start := r.off - r.idx*chunkSize
	if start >= int64(len(r.cur)) {
		return 0, io.ErrUnexpectedEOF
	}
	n := copy(p, r.cur[start:])
	r.off += int64(n)
	return n, nil
}

func (r *chunkReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.size
	default:
		return 0, errors.New("attachments: invalid whence")
	}
	if offset < 0 {
		return 0, errors.New("attachments: negative position")
	}
	r.off = offset
	return offset, nil
}

func (r *chunkReader) Close() error { r.cur = nil; return nil }
