package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// ErrCorrupt is returned for a file that is not a whole bolt database:
// truncated, overwritten, or something else entirely.
var ErrCorrupt = errors.New("bolt: the file is truncated or corrupt")

// bbolt's on-disk meta page, as far as Verify reads it: a 16-byte page
// header, then magic, version, page size, flags, root bucket (16 bytes),
// freelist page id, the high-water page id, the transaction id and an
// FNV-64a checksum of the meta fields before it.
const (
	pageHeaderSize = 16
	metaMagic      = 0xED0CDAED
	metaSize       = 64
)

// Verify reads the two meta pages of the bolt file at path without
// mapping it, and refuses a file bbolt would fault on: no valid meta
// page, or shorter than the pages its newest meta page counts (a
// truncated copy). bbolt maps the file and reads those pages directly,
// so opening such a file kills the process with SIGBUS instead of
// returning an error. An empty or missing file is fine (a new database).
func Verify(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	if size == 0 {
		return nil
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a folder, not a bolt file", path)
	}
	// The second meta page starts one page in; without a valid first
	// one the page size is unknown, so try the sizes bbolt uses.
	best := readMeta(f, 0)
	offsets := []int64{4096, 8192, 16384, 65536}
	if best != nil {
		offsets = []int64{int64(best.pageSize)}
	}
	for _, off := range offsets {
		if m := readMeta(f, off); m != nil {
			if best == nil || m.txid > best.txid {
				best = m
			}
			break
		}
	}
	if best == nil {
		return fmt.Errorf("%w: %s has no valid bolt header", ErrCorrupt, path)
	}
	if need := int64(best.pgid) * int64(best.pageSize); need > size || best.pgid < 2 {
		return fmt.Errorf("%w: %s holds %d bytes where its header counts %d", ErrCorrupt, path, size, need)
	}
	return nil
}

type meta struct {
	pageSize uint32
	pgid     uint64
	txid     uint64
}

// readMeta decodes the meta page at off, or returns nil when it is not
// one (wrong magic or checksum, or past the end of the file).
func readMeta(f io.ReaderAt, off int64) *meta {
	buf := make([]byte, pageHeaderSize+metaSize)
	if _, err := f.ReadAt(buf, off); err != nil {
		return nil
	}
	m := buf[pageHeaderSize:]
	le := binary.LittleEndian
	if le.Uint32(m[0:]) != metaMagic {
		return nil
	}
	h := fnv.New64a()
	h.Write(m[:56])
	if h.Sum64() != le.Uint64(m[56:]) {
		return nil
	}
	out := &meta{pageSize: le.Uint32(m[8:]), pgid: le.Uint64(m[40:]), txid: le.Uint64(m[48:])}
	if out.pageSize < 512 || out.pageSize > 1<<20 {
		return nil
	}
	return out
}
