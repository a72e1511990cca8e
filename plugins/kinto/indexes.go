package kinto

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// maxIndexes and maxIndexField bound a collection's declared indexes
// (QRY-14).
const (
	maxIndexes    = 16
	maxIndexField = 256
)

// checkIndexes validates a collection's "indexes": a list of distinct
// dotted field paths, at most 16 of at most 256 characters, never id or
// last_modified (always indexed).
func checkIndexes(v any) error {
	bad := func(msg string) error { return resource.Invalid("body", "data.indexes", msg) }
	list, ok := v.([]any)
	if !ok {
		return bad("indexes must be a list of field names")
	}
	if len(list) > maxIndexes {
		return bad(fmt.Sprintf("at most %d indexes per collection", maxIndexes))
	}
	seen := map[string]bool{}
	for _, x := range list {
		f, ok := x.(string)
		switch {
		case !ok:
			return bad(fmt.Sprintf("%v is not a field name", x))
		case f == "" || len(f) > maxIndexField || strings.HasPrefix(f, ".") || strings.HasSuffix(f, ".") ||
			strings.Contains(f, "..") || strings.ContainsRune(f, 0):
			return bad(fmt.Sprintf("%q is not a field path (dotted names, at most %d characters)", f, maxIndexField))
		case f == "id" || f == "last_modified":
			return bad(f + " is always indexed")
		case seen[f]:
			return bad(fmt.Sprintf("%q is declared twice", f))
		}
		seen[f] = true
	}
	return nil
}

// indexFields reads the declared fields of a collection object.
func indexFields(coll storage.Object) []string {
	list, _ := coll["indexes"].([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		if f, ok := x.(string); ok {
			out = append(out, f)
		}
	}
	return out
}

// indexKeeper hands collections' declarations to the backend, in the
// background, one at a time (builds read whole collections) and in the
// order the declarations were committed, so that the last one wins.
type indexKeeper struct {
	ix   storage.Indexer
	log  *slog.Logger
	ctx  context.Context
	stop context.CancelFunc

	mu      sync.Mutex
	queue   []declared
	running bool
}

// declare builds the indexes of the records of the collection at uri
// (none: the collection stopped declaring, or is gone).
func (k *indexKeeper) declare(uri string, fields []string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.queue = append(k.queue, declared{uri, fields})
	if !k.running {
		k.running = true
		go k.drain()
	}
}

// drain hands the queued declarations over until none is left.
func (k *indexKeeper) drain() {
	for {
		k.mu.Lock()
		if len(k.queue) == 0 || k.ctx.Err() != nil {
			k.queue, k.running = nil, false
			k.mu.Unlock()
			return
		}
		d := k.queue[0]
		k.queue = k.queue[1:]
		k.mu.Unlock()
		if err := k.build(d); err != nil {
			if errors.Is(err, storage.ErrTooLargeForIndex) || errors.Is(err, storage.ErrIndexLimit) {
				// The others are built; these stay out (a path too deep,
				// at every start; past the bound, until there is room).
				k.log.Warn("indexes: some left out, their queries scan", "collection", d.uri, "error", err)
				continue
			}
			if k.ctx.Err() == nil {
				k.log.Error("indexes: building failed; queries scan meanwhile (the next start tries again)", "collection", d.uri, "error", err)
			}
			continue
		}
		if len(d.fields) > 0 {
			k.log.Info("indexes: ready", "collection", d.uri, "fields", strings.Join(d.fields, " "))
		}
	}
}

// build declares d's indexes; a panic in the backend is an error of
// this build (logged), not the end of the server, as this runs in the
// background, where nothing else would recover it.
func (k *indexKeeper) build(d declared) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return k.ix.DeclareIndexes(k.ctx, storage.Ref{Resource: "record", Parent: d.uri}, d.fields)
}

// changed follows collection writes: a changed declaration is built; a
// deleted collection that declared fields gives them up (on PostgreSQL
// an index no collection declares any more is dropped).
func (k *indexKeeper) changed(ev *resource.Event) {
	for _, imp := range ev.Impacted {
		uri := "/buckets/" + ev.IDs["bucket_id"] + "/collections/"
		if ev.Action == "delete" {
			if imp.Old != nil && len(indexFields(imp.Old)) > 0 {
				k.declare(uri+storage.ID(imp.Old), nil)
			}
			continue
		}
		now := indexFields(imp.New)
		if imp.Old != nil && slices.Equal(now, indexFields(imp.Old)) {
			continue
		}
		if imp.Old == nil && len(now) == 0 {
			continue
		}
		k.declare(uri+storage.ID(imp.New), now)
	}
}

// declared is a collection's URI and its indexed fields.
type declared struct {
	uri    string
	fields []string
}

// resume hands every declaring collection to the backend at start: a
// build the last run did not finish goes on (built ones return at once).
func (k *indexKeeper) resume(b storage.Backend) {
	go func() {
		var found []declared
		err := b.View(k.ctx, func(tx storage.Tx) error {
			l, ok := tx.(storage.Lister)
			if !ok {
				return nil
			}
			refs, err := l.Lists("collection")
			if err != nil {
				return err
			}
			for _, ref := range refs {
				colls, err := tx.List(ref, storage.Query{Filters: []storage.Filter{{Field: "indexes", Op: storage.OpHas, Value: true}}})
				if err != nil {
					return err
				}
				for _, c := range colls {
					if fields := indexFields(c); len(fields) > 0 {
						found = append(found, declared{ref.Parent + "/collections/" + storage.ID(c), fields})
					}
				}
			}
			return nil
		})
		if err != nil && k.ctx.Err() == nil {
			k.log.Error("indexes: the declaring collections could not be listed", "error", err)
		}
		for _, c := range found {
			k.declare(c.uri, c.fields)
		}
	}()
}
