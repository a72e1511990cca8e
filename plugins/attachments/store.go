package attachments

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/nimbus-server/nimbus/storage"
)

// blobStore keeps the bytes of stored files, by stored name.
type blobStore interface {
	// create stores the size bytes of src under name; errExists when
	// name is taken (the caller picks another).
	create(ctx context.Context, name string, src io.Reader, size int64) error
	// open returns the bytes of a stored file for serving.
	open(ctx context.Context, name string, f fileInfo) (io.ReadSeekCloser, error)
	// remove deletes a stored file; a missing one is no error.
	remove(ctx context.Context, name string) error
}

var errExists = errors.New("attachments: the name is taken")

// fileInfo is what the server keeps about a stored file, whatever the
// store: for serving it (type, hash as ETag, size). It is the one object
// ("meta") of the file's own list, whose chunks (database store) are a
// list under the same parent: removing the file is one DeleteTree.
type fileInfo struct {
	Name     string `json:"name"`
	Size     int64  `json:"size"`
	Mimetype string `json:"mimetype"`
	Hash     string `json:"hash"`
}

// linksRef is Kinto's list of which record a stored file belongs to
// (kinto-attachment's "attachments" under "__attachments__"), so that
// Kinto sharing the database finds the same files.
var linksRef = storage.Ref{Resource: "attachments", Parent: "__attachments__"}

// filesRoot is the parent of every stored file's lists.
const filesRoot = "/__attachment_files__"

// namesRef lists every stored file by name, whatever the store, one
// object {id: nameKey(name), name} a file: the flush endpoint removes
// these files from the folder, and nothing else in it.
var namesRef = storage.Ref{Resource: "attachment_name", Parent: filesRoot}

// nameKey is the key of a stored name: names hold "/", so a hash of it.
func nameKey(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:16])
}

// fileParent is the parent of a stored file's lists: its meta object and
// its chunks.
func fileParent(name string) string { return filesRoot + "/" + nameKey(name) }

func metaRef(name string) storage.Ref {
	return storage.Ref{Resource: "attachment_file", Parent: fileParent(name)}
}

func chunksRef(name string) storage.Ref {
	return storage.Ref{Resource: "attachment_chunk", Parent: fileParent(name)}
}

func (f fileInfo) object() storage.Object {
	return storage.Object{"id": "meta", "name": f.Name, "size": f.Size, "mimetype": f.Mimetype, "hash": f.Hash}
}

func fileFrom(o storage.Object) fileInfo {
	f := fileInfo{}
	f.Name, _ = o["name"].(string)
	f.Mimetype, _ = o["mimetype"].(string)
	f.Hash, _ = o["hash"].(string)
	switch n := o["size"].(type) {
	case int64:
		f.Size = n
	case float64:
		f.Size = int64(n)
	case int:
		f.Size = int64(n)
	default:
		if num, ok := n.(interface{ Int64() (int64, error) }); ok {
			f.Size, _ = num.Int64()
		}
	}
	return f
}

// fsStore keeps files in a folder of the local filesystem
// (attachment.base_path), as kinto-attachment's local storage does.
type fsStore struct{ base string }

// path is where a stored name lives; names come from storedName (safe
// segments only), and a name that would leave the folder is refused.
func (s fsStore) path(name string) (string, error) {
	clean := path.Clean("/" + name)
	if clean == "/" || strings.Contains(name, "..") {
		return "", errors.New("attachments: invalid stored name")
	}
	return filepath.Join(s.base, filepath.FromSlash(clean[1:])), nil
}

func (s fsStore) create(_ context.Context, name string, src io.Reader, _ int64) error {
	p, err := s.path(name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if _, err := os.Lstat(p); err == nil {
		return errExists
	}
	// Written beside, then renamed: a reader never sees half a file.
	tmp, err := os.CreateTemp(filepath.Dir(p), ".upload-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, src); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// A hard link fails when the name was taken meanwhile.
	if err := os.Link(tmp.Name(), p); err != nil {
		if errors.Is(err, os.ErrExist) {
			return errExists
		}
		return err
	}
	return nil
}

func (s fsStore) open(_ context.Context, name string, _ fileInfo) (io.ReadSeekCloser, error) {
	p, err := s.path(name)
	if err != nil {
		return nil, err
	}
	return os.Open(p)
}

func (s fsStore) remove(_ context.Context, name string) error {
	p, err := s.path(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// removeFlushed removes the named files, then the folders the folder
// pattern made for them that are left empty (never the base folder).
// Only the flush endpoint does this: a folder removed while an upload
// makes it would fail that upload.
func (s fsStore) removeFlushed(names []string) error {
	var first error
	for _, n := range names {
		p, err := s.path(n)
		if err == nil {
			err = os.Remove(p)
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			first = cmp.Or(first, err)
			continue
		}
		for dir := filepath.Dir(p); dir != s.base && strings.HasPrefix(dir, s.base+string(filepath.Separator)); dir = filepath.Dir(dir) {
			if os.Remove(dir) != nil {
				break
			}
		}
	}
	return first
}
