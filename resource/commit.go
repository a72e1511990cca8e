package resource

import (
	"context"
	"time"

	"github.com/nimbus-server/nimbus/storage"
)

// OnCommit registers fn to hear, after each write transaction of the
// server commits, what it changed: one storage.Change per object created,
// replaced or deleted, including writes no event reports (history
// entries). Action is "create" for a creation, "delete" for a deletion
// and "" for a replacement (an event says whether it created). A change
// whose Ref has an empty Resource stands for everything under its Parent
// URI (a deleted subtree). fn runs on the committing request's goroutine
// and must be quick.
func (r *Registry) OnCommit(fn func(changes []storage.Change)) {
	r.app.commitHooks = append(r.app.commitHooks, fn)
}

// OnRevocation registers what tells whether a committed change may have
// revoked a credential (a login token deleted, a password changed, an
// account deleted): a plugin that keeps credentials in storage says which
// of its changes do. Plugins holding long-lived answers (streams) ask
// MayRevoke of every change they hear, from this instance or, on a shared
// database, from any other, and check their callers again at once.
func (r *Registry) OnRevocation(pred func(storage.Change) bool) {
	r.app.revocations = append(r.app.revocations, pred)
}

// MayRevoke tells whether a committed change may have revoked a
// credential (see OnRevocation).
func (r *Registry) MayRevoke(ch storage.Change) bool {
	for _, pred := range r.app.revocations {
		if pred(ch) {
			return true
		}
	}
	return false
}

// OnShutdown registers fn to run when the server shuts down, before it
// waits for the requests in flight: long-lived answers (streams) end
// there.
func (r *Registry) OnShutdown(fn func()) { r.app.shutdownHooks = append(r.app.shutdownHooks, fn) }

// Shutdown runs the OnShutdown hooks; the HTTP server calls it when it
// starts shutting down (http.Server.RegisterOnShutdown).
func (a *App) Shutdown() {
	for _, fn := range a.shutdownHooks {
		fn()
	}
}

// update runs fn in a write transaction of the backend and, when the
// transaction commits, tells the OnCommit hooks which lists it changed.
func (a *App) update(ctx context.Context, fn func(tx storage.Tx) error) (err error) {
	if len(a.onTx) > 0 {
		start := time.Now()
		defer func() { a.observeTx(true, start, err) }()
	}
	if len(a.commitHooks) == 0 {
		return a.Storage.Update(ctx, fn)
	}
	var changes []storage.Change
	err = a.Storage.Update(ctx, func(tx storage.Tx) error {
		changes = changes[:0]
		return fn(touching(tx, &changes))
	})
	if err == nil && len(changes) > 0 {
		for _, h := range a.commitHooks {
			h(changes)
		}
	}
	return err
}

// touchTx notes the changes of a write transaction.
type touchTx struct {
	storage.Tx
	changes *[]storage.Change
}

var _ storage.ExistenceChecker = touchTx{}

// ExistingIDs forwards to the transaction (storage.ExistenceChecker when
// it is one).
func (t touchTx) ExistingIDs(ref storage.Ref, ids []string) (map[string]bool, error) {
	return storage.ExistingIDs(t.Tx, ref, ids)
}

// touchSavepointTx is a touchTx over a transaction with savepoints.
type touchSavepointTx struct {
	touchTx
	sp storage.Savepointer
}

func (t touchSavepointTx) Savepoint() int                 { return t.sp.Savepoint() }
func (t touchSavepointTx) RollbackTo(savepoint int) error { return t.sp.RollbackTo(savepoint) }

// touching wraps tx so that its writes are noted in changes, keeping its
// savepoints.
func touching(tx storage.Tx, changes *[]storage.Change) storage.Tx {
	t := touchTx{Tx: tx, changes: changes}
	if sp, ok := tx.(storage.Savepointer); ok {
		return touchSavepointTx{touchTx: t, sp: sp}
	}
	return t
}

// note records the change of an object written without error.
func (t touchTx) note(ref storage.Ref, action string, obj storage.Object, err error) {
	if err == nil {
		*t.changes = append(*t.changes, storage.Change{Ref: ref, ID: storage.ID(obj), Action: action, Timestamp: storage.LastModified(obj)})
	}
}

// actionNoter is the touchTx's ability to name what a replacement was,
// which the engine knows (it read the object before).
type actionNoter interface {
	noteAction(ref storage.Ref, id, action string)
}

func (t touchTx) noteAction(ref storage.Ref, id, action string) {
	cs := *t.changes
	for i := len(cs) - 1; i >= 0; i-- {
		if cs[i].Ref == ref && cs[i].ID == id {
			if cs[i].Action == "" {
				cs[i].Action = action
			}
			return
		}
	}
}

// PrefetchForUpdate keeps the wrapped transaction's ability.
func (t touchTx) PrefetchForUpdate(ref storage.Ref, ids []string, uri func(string) string) error {
	if p, ok := t.Tx.(storage.Prefetcher); ok {
		return p.PrefetchForUpdate(ref, ids, uri)
	}
	return nil
}

// GetForUpdate keeps the wrapped transaction's ability.
func (t touchTx) GetForUpdate(ref storage.Ref, id string) (storage.Object, error) {
	return storage.GetForUpdate(t.Tx, ref, id)
}

func (t touchTx) Create(ref storage.Ref, obj storage.Object) (storage.Object, error) {
	out, err := t.Tx.Create(ref, obj)
	t.note(ref, "create", out, err)
	return out, err
}

func (t touchTx) Replace(ref storage.Ref, obj storage.Object) (storage.Object, error) {
	out, err := t.Tx.Replace(ref, obj)
	t.note(ref, "", out, err)
	return out, err
}

func (t touchTx) Delete(ref storage.Ref, id string, lastModified int64) (storage.Object, error) {
	out, err := t.Tx.Delete(ref, id, lastModified)
	t.note(ref, "delete", out, err)
	return out, err
}

func (t touchTx) DeleteMany(ref storage.Ref, q storage.Query) ([]storage.Object, error) {
	out, err := t.Tx.DeleteMany(ref, q)
	for _, o := range out {
		t.note(ref, "delete", o, err)
	}
	return out, err
}

func (t touchTx) PurgeDeleted(ref storage.Ref, before int64, keep int) (int, error) {
	n, err := t.Tx.PurgeDeleted(ref, before, keep)
	if err == nil && n > 0 {
		*t.changes = append(*t.changes, storage.Change{Ref: ref})
	}
	return n, err
}

func (t touchTx) DeleteTree(uri string) error {
	err := t.Tx.DeleteTree(uri)
	if err == nil {
		*t.changes = append(*t.changes, storage.Change{Ref: storage.Ref{Parent: uri}})
	}
	return err
}
