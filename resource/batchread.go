package resource

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/nimbus-server/nimbus/storage"
)

// A batch runs in one write transaction (BATCH-02), and on the memory and
// bolt backends a write transaction holds the store's only writer (on
// PostgreSQL, a place in a write group that holds list locks). A batch of
// 25 reads of a large sorted list held it for 6 s, and every write of the
// server waited: any reader could stall the server's writes for as long
// as it kept sending such batches. A batch whose sub-requests are all GET
// or HEAD therefore runs in a read transaction. A read may still write
// (the default bucket is created on first use, by a GET too): the first
// write a sub-request attempts stops the batch, which then runs again,
// whole, in a write transaction, as before.

// errNeedsWrite is what the transaction of a batch of reads answers a
// write with.
var errNeedsWrite = errors.New("batch: a sub-request writes")

// readBatchTx is the transaction of a batch of reads: storage's reads go
// through, and each write notes that the batch must run as a write.
type readBatchTx struct {
	storage.Tx
	wrote *bool
}

func (t readBatchTx) refuse() error { *t.wrote = true; return errNeedsWrite }

var _ storage.ExistenceChecker = readBatchTx{}

// ExistingIDs forwards to the transaction (storage.ExistenceChecker when
// it is one).
func (t readBatchTx) ExistingIDs(ref storage.Ref, ids []string) (map[string]bool, error) {
	return storage.ExistingIDs(t.Tx, ref, ids)
}

func (t readBatchTx) Create(storage.Ref, storage.Object) (storage.Object, error) {
	return nil, t.refuse()
}
func (t readBatchTx) Replace(storage.Ref, storage.Object) (storage.Object, error) {
	return nil, t.refuse()
}
func (t readBatchTx) Delete(storage.Ref, string, int64) (storage.Object, error) {
	return nil, t.refuse()
}
func (t readBatchTx) DeleteMany(storage.Ref, storage.Query) ([]storage.Object, error) {
	return nil, t.refuse()
}
func (t readBatchTx) PurgeDeleted(storage.Ref, int64, int) (int, error) { return 0, t.refuse() }
func (t readBatchTx) DeleteTree(string) error                           { return t.refuse() }
func (t readBatchTx) SetACL(string, storage.ACL) error                  { return t.refuse() }
func (t readBatchTx) DeleteACLs(string) error                           { return t.refuse() }
func (t readBatchTx) AddUserPrincipal(string, string) error             { return t.refuse() }
func (t readBatchTx) RemoveUserPrincipal(string, string) error          { return t.refuse() }
func (t readBatchTx) RemovePrincipal(string) error                      { return t.refuse() }

// onlyReads tells whether every sub-request of a batch is a GET or HEAD.
func onlyReads(subs []subRequest) bool {
	for _, s := range subs {
		if s.method != http.MethodGet && s.method != http.MethodHead {
			return false
		}
	}
	return len(subs) > 0
}

// runBatch runs fn, the batch's work, in a read transaction when subs
// are all reads and none of them writes, and in a write transaction
// otherwise.
func (a *App) runBatch(ctx context.Context, subs []subRequest, fn func(storage.Tx) error) error {
	if !onlyReads(subs) {
		return a.update(ctx, fn)
	}
	wrote := false
	err := a.view(ctx, func(tx storage.Tx) error { return fn(readBatchTx{Tx: tx, wrote: &wrote}) })
	if !wrote {
		return err
	}
	return a.update(ctx, fn)
}

// view runs fn in a read transaction of the app's storage.
func (a *App) view(ctx context.Context, fn func(storage.Tx) error) (err error) {
	if len(a.onTx) > 0 {
		start := time.Now()
		defer func() { a.observeTx(false, start, err) }()
	}
	return a.Storage.View(ctx, fn)
}
