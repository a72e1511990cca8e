package storage

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Object is one stored JSON document. Numbers decoded from storage are
// json.Number values so that integers keep their exact value.
type Object = map[string]any

// ACL maps a permission name ("read", "write", "record:create", ...) to the
// principals holding it on one object.
type ACL = map[string][]string

// Ref names one list of objects: a resource type under one parent URI.
type Ref struct {
	// Resource is the resource name, e.g. "record".
	Resource string
	// Parent is the URI of the parent object without the /v1 prefix, e.g.
	// "/buckets/blog/collections/posts"; "" for top-level resources.
	Parent string
}

func (r Ref) String() string { return r.Parent + "/" + r.Resource }

// Backend is a transactional object and ACL store, safe for concurrent use.
type Backend interface {
	// View runs fn in a read-only transaction; writes inside it fail with
	// ErrReadOnly.
	View(ctx context.Context, fn func(Tx) error) error
	// Update runs fn in a read-write transaction and commits when fn returns
	// nil. When fn returns an error nothing it wrote is kept and the error
	// is returned unchanged. fn may be called more than once.
	//
	// fn must do storage work only: no password hashing, no network call
	// (e-mail, HTTP), no sleeping or waiting on other goroutines. A bolt
	// file has one writer: every other write of the server waits while fn
	// runs, and PostgreSQL holds the list's lock for as long. Slow work
	// goes before the transaction (resource.Resource.Prepare) or after its
	// commit.
	Update(ctx context.Context, fn func(Tx) error) error
	// Close releases the backend's resources; the backend is unusable after.
	Close() error
}

// Tx is one transaction. It must not be used after the function it was
// passed to has returned, nor from several goroutines at once.
type Tx interface {
	// Context returns the context the transaction was opened with.
	Context() context.Context

	// Get returns the live object id of the list, or ErrNotFound (also for
	// a tombstone).
	Get(ref Ref, id string) (Object, error)
	// Exists tells whether a live object id is in the list, without
	// decoding it.
	Exists(ref Ref, id string) (bool, error)
	// Create stores a new object; obj must carry a string "id". It fails
	// with a *UnicityError when a live object has that id. An integer
	// "last_modified" in obj is kept as sent (replication) with the rules
	// of RES-13; otherwise a fresh timestamp is assigned. The stored object
	// is returned.
	Create(ref Ref, obj Object) (Object, error)
	// Replace stores obj under its "id", creating or overwriting it. A sent
	// "last_modified" is used only when greater than the list's current
	// timestamp.
	Replace(ref Ref, obj Object) (Object, error)
	// Delete replaces a live object by a tombstone and returns the
	// tombstone. lastModified, when greater than the list timestamp, is
	// used as the tombstone's timestamp. ErrNotFound when there is no live
	// object.
	Delete(ref Ref, id string, lastModified int64) (Object, error)
	// DeleteMany deletes the live objects matching q (filters, sort, After
	// and Limit apply as in List) and returns their tombstones in q's order.
	DeleteMany(ref Ref, q Query) ([]Object, error)
	// List returns the objects matching q, in q's order, at most q.Limit
	// of them (all when Limit is 0).
	List(ref Ref, q Query) ([]Object, error)
	// Count returns how many objects match the filters (tombstones only
	// when includeDeleted is true).
	Count(ref Ref, filters []Filter, includeDeleted bool) (int, error)
	// Timestamp returns the list's current timestamp. In a write
	// transaction a list that never had one gets it now, persistently; in
	// a read-only transaction such a list answers 0.
	Timestamp(ref Ref) (int64, error)
	// PurgeDeleted removes tombstones of the list: those older than before
	// (when before > 0), and beyond the newest keep ones (when keep >= 0).
	// It returns how many were removed.
	PurgeDeleted(ref Ref, before int64, keep int) (int, error)
	// DeleteTree purges, without tombstones, every list whose parent is uri
	// or lies under uri, with their timestamps. ACLs are left to DeleteACLs.
	// DeleteTree("") empties the whole store, ACLs and memberships included.
	DeleteTree(uri string) error

	// GetACL returns the ACL of one object URI (empty when none).
	GetACL(uri string) (ACL, error)
	// GetACLs returns the ACLs of several URIs at once; URIs without an
	// ACL are absent from the result.
	GetACLs(uris []string) (map[string]ACL, error)
	// SetACL replaces the ACL of uri; an empty ACL removes it.
	SetACL(uri string, acl ACL) error
	// DeleteACLs removes the ACL of uri and of every URI under uri + "/".
	DeleteACLs(uri string) error
	// Accessible returns, for every URI equal to prefix or starting with
	// prefix whose ACL names one of principals, the permissions those
	// principals hold on it. It reads the inverse index, not every ACL.
	Accessible(principals []string, prefix string) (map[string][]string, error)

	// AddUserPrincipal records that user (a user id, or
	// "system.Authenticated") holds principal (a group URI).
	AddUserPrincipal(user, principal string) error
	// RemoveUserPrincipal undoes AddUserPrincipal.
	RemoveUserPrincipal(user, principal string) error
	// RemovePrincipal removes principal from every user.
	RemovePrincipal(principal string) error
	// UserPrincipals returns the principals recorded for any of users.
	UserPrincipals(users []string) ([]string, error)
}

// Pinger is implemented by backends that can check their health cheaply;
// the heartbeat endpoint uses it.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Savepointer is implemented by transactions that can undo part of their
// own work: RollbackTo undoes every write made since the matching
// Savepoint, and the transaction goes on. The batch endpoint uses it so
// that a failed sub-request leaves nothing behind.
type Savepointer interface {
	Savepoint() int
	RollbackTo(savepoint int) error
}

// RawLister is implemented by transactions that can return a page as the
// stored JSON of each object, sparing a decode and an encode when the page
// is sent as is. ok is false when the query is not one it serves that way
// (the caller then uses List).
type RawLister interface {
	ListRaw(ref Ref, q Query) (rows [][]byte, ok bool, err error)
}

// Lister is implemented by transactions that can name every list of a
// resource type (maintenance commands use it).
type Lister interface {
	Lists(resource string) ([]Ref, error)
}

// Backuper is implemented by backends that can write a consistent copy of
// their data while serving.
type Backuper interface {
	Backup(ctx context.Context, path string) error
}

// Sharer is implemented by backends that several server instances may use
// at once (PostgreSQL): what one instance caches, another may change, so
// plugins confirm cached credentials against storage.
type Sharer interface {
	SharedBetweenInstances() bool
}

// TombstoneWriter is implemented by transactions that write a tombstone
// with a given timestamp whether or not the object exists: an import
// copies a list's deletions with it, keeping the list's timestamp (its
// ETag) the source's. The timestamp is kept when greater than the
// list's, as for Delete.
type TombstoneWriter interface {
	WriteTombstone(ref Ref, id string, lastModified int64) (Object, error)
}

// BulkWriter is implemented by transactions that write many objects of
// one list at once (imports): objs, live objects and tombstones (deleted
// true) in ascending last_modified order, each replacing what is stored
// under its id, with its ACL (none when nil; a tombstone's is dropped).
// Each keeps its last_modified when greater than the list's, as Create
// and WriteTombstone do one by one; uri gives the object URI of an id.
// It is what a backend with round trips (PostgreSQL) offers to write a
// page in a few statements, and a key-value backend to write one with
// the list's metadata touched once.
//
// A transaction that called WriteMany may commit before its writes are on
// disk (PostgreSQL commits it with synchronous_commit off, so that the
// next page is sent while the server writes the last one's log): after a
// crash the last pages may be missing, as if the import had stopped
// there. An import therefore calls Sync (BulkSyncer) before it reports
// success; a run again writes what is missing.
type BulkWriter interface {
	WriteMany(ref Ref, objs []BulkObject, uri func(id string) string) error
}

// BulkObject is one object of a bulk write with its ACL and, once a
// BulkPreparer has prepared it, the backend's own form of both.
type BulkObject struct {
	Object   Object
	ACL      ACL
	Prepared any
	// SkipSame leaves what is stored alone when it is the same version
	// (same last_modified, same deletion: an import run again), and when
	// Object is a tombstone and a live object is stored (the target has
	// moved on since); WriteMany then sets Skipped. It spares an import
	// reading the page's ids before writing them.
	SkipSame bool
	Skipped  bool
}

// SameVersion tells whether an object's stored version, prev, is to be
// left alone rather than replaced by obj (BulkObject.SkipSame).
func SameVersion(prev, obj Object) bool {
	if prev == nil {
		return false
	}
	if LastModified(prev) == LastModified(obj) && IsDeleted(prev) == IsDeleted(obj) {
		return true
	}
	return IsDeleted(obj) && !IsDeleted(prev)
}

// BulkPreparer is implemented by backends whose bulk writes spend CPU
// time on each object outside their store (encoding it): PrepareMany
// does that work ahead, outside any transaction, and sets each object's
// Prepared, which WriteMany then uses instead of doing it again. An
// import prepares a page while the previous one is being written. The
// objects must reach WriteMany unchanged; one not prepared is encoded
// there.
type BulkPreparer interface {
	PrepareMany(objs []BulkObject) error
}

// BulkUpdater is implemented by backends whose write transactions are
// made for many small concurrent writes and cost more per write than a
// plain transaction (bolt runs them on an in-memory layer that a second
// goroutine commits): BulkUpdate runs fn as one write transaction of
// many writes (an import's page), waiting first for the transactions
// before it and keeping others out until it has committed. Its contract
// is Update's.
type BulkUpdater interface {
	BulkUpdate(ctx context.Context, fn func(Tx) error) error
}

// BulkUpdate runs fn with b's BulkUpdate when it has one, else Update.
func BulkUpdate(ctx context.Context, b Backend, fn func(Tx) error) error {
	if bu, ok := b.(BulkUpdater); ok {
		return bu.BulkUpdate(ctx, fn)
	}
	return b.Update(ctx, fn)
}

// ForUpdateReader is implemented by transactions whose concurrent writers
// of a list can interleave (PostgreSQL): GetForUpdate reads an object for
// a write that depends on what it read (If-Match, a PATCH) and keeps the
// list's writers out until the transaction ends, so the check and the
// write are one step. A backend with a single writer needs no such read.
type ForUpdateReader interface {
	GetForUpdate(ref Ref, id string) (Object, error)
}

// GetForUpdate reads an object the transaction is about to write:
// through tx's ForUpdateReader when it has one, else with Get.
func GetForUpdate(tx Tx, ref Ref, id string) (Object, error) {
	if r, ok := tx.(ForUpdateReader); ok {
		return r.GetForUpdate(ref, id)
	}
	return tx.Get(ref, id)
}

// Held names an object a write depends on: id in list (ParentHolder).
type Held struct {
	List Ref
	ID   string
}

// ParentHolder is implemented by transactions whose writes to different
// lists run side by side (PostgreSQL, several instances): a write under
// objects (a record under its collection and bucket) that only checked
// they exist could land after another transaction deleted them and what
// was under them, and stay there, under a parent that is gone.
// HoldParents reads the objects from the database (no cache) once the
// transaction holds, to its end, a lock that a write of their lists
// waits for: a deletion of one of them either committed before, and
// HoldParents sees it gone, or waits for this transaction and then
// deletes what it wrote. It reports, for each object in order (top
// down), whether it is live; under is the list about to be written,
// whose own lock the backend may take in the same round trip. A backend
// whose writes run one at a time needs none: Exists is as good there.
type ParentHolder interface {
	HoldParents(objs []Held, under Ref) ([]bool, error)
}

// HoldParents checks the objects a write depends on: through tx's
// ParentHolder when it has one, else with Exists, stopping at the first
// one missing (those after it are reported missing too).
func HoldParents(tx Tx, objs []Held, under Ref) ([]bool, error) {
	if h, ok := tx.(ParentHolder); ok {
		return h.HoldParents(objs, under)
	}
	return ParentsExist(tx, objs)
}

// ParentsExist is HoldParents with Exists alone.
func ParentsExist(tx Tx, objs []Held) ([]bool, error) {
	live := make([]bool, len(objs))
	for i, o := range objs {
		ok, err := tx.Exists(o.List, o.ID)
		if err != nil || !ok {
			return live, err
		}
		live[i] = true
	}
	return live, nil
}

// Prefetcher is implemented by transactions whose GetForUpdate and ACL
// reads cost a round trip to the database each (PostgreSQL):
// PrefetchForUpdate reads, in one, the objects of a list the transaction
// is about to write, as GetForUpdate would (the list's writers kept out,
// the rows locked), and their ACLs (uri names an object's); GetForUpdate
// answers each of those ids once from what it read, unless the
// transaction wrote the object meanwhile, and GetACLs answers their ACLs
// until the transaction changes them. A batch of writes to one list calls
// it with the ids its sub-requests name.
type Prefetcher interface {
	PrefetchForUpdate(ref Ref, ids []string, uri func(id string) string) error
}

// BulkSyncer is implemented by backends whose bulk writes (BulkWriter)
// may commit before they are durable: Sync returns once every commit made
// before it is on disk.
type BulkSyncer interface {
	Sync(ctx context.Context) error
}

// Indexer is implemented by backends that keep declared indexes
// (QRY-14): DeclareIndexes makes fields (dotted paths) the indexed fields
// of the list, replacing the previous set, and builds what is missing
// without blocking writers for long; it returns once the indexes are
// built (callers run it in the background, and again at start: it is
// idempotent and resumes an interrupted build). Until an index is built,
// queries scan. An index never changes an answer: queries give exactly
// what a scan gives.
type Indexer interface {
	DeclareIndexes(ctx context.Context, ref Ref, fields []string) error
}

// Analyzer is implemented by backends whose query planner needs fresh
// statistics after a bulk load (PostgreSQL): an import calls it as the
// data grows, so that lookups by id use the indexes at once.
type Analyzer interface {
	Analyze(ctx context.Context) error
}

// Stat is one figure a backend reports about itself, for metrics.
type Stat struct {
	// Name is a metric name without prefix ("write_lock_wait_seconds_total").
	Name, Help string
	Value      float64
	// Counter is true for a total that only grows, false for a level.
	Counter bool
}

// StatsReporter is implemented by backends that report figures about
// themselves: connection pool use, cache hits, waits for the writer.
type StatsReporter interface {
	Stats() []Stat
}

// Change is one committed change of an object, as a ChangeWatcher hears
// of it.
type Change struct {
	Ref Ref
	ID  string
	// Action is "create", "update" or "delete"; "" when the backend could
	// not tell (a database whose notification triggers predate it).
	Action string
	// Timestamp is the object's last_modified after the change (0 when
	// unknown).
	Timestamp int64
	// All says that changes may have been missed (the notification
	// connection was lost and is back): any list may have changed.
	All bool
}

// ChangeWatcher is implemented by backends that several instances share
// (PostgreSQL): fn hears, after commit, of every object change any
// instance commits, and any other server writing the same database
// (Kinto). fn runs on the backend's notification goroutine and must not
// block. ok is false when the backend cannot notify (its notification
// triggers are missing or its cache, which carries them, is off); cancel
// stops the calls.
type ChangeWatcher interface {
	WatchChanges(fn func(Change)) (cancel func(), ok bool)
}

// Layout says how a backend that shares its tables with Kinto stores the
// objects of one resource. The generic store keys every object by
// (resource, parent, id); some of Kinto's resources are stored otherwise,
// and a backend another server reads must follow.
type Layout int

const (
	// UnderParent stores each object under its list's parent: the
	// default, for every resource Nimbus and Kinto lay out alike.
	UnderParent Layout = iota
	// UnderOwnID stores each object of a top-level resource with its own
	// id as its parent, the way Kinto stores accounts (so that Kinto lists
	// a user's own account only), while Nimbus still reads and writes
	// them as one list (parent "").
	UnderOwnID
)

// LayoutFollower is implemented by backends whose rows other servers
// read (PostgreSQL, shared with Kinto): the resource that declares a
// layout other than UnderParent tells the backend before serving.
type LayoutFollower interface {
	SetLayout(resource string, l Layout)
}

// KeyOrderKeeper is implemented by backends that store an object's JSON
// with its keys in the order of its order hint (see OrderKey), so that
// reads answer the keys in the order the client sent them. Other backends
// (PostgreSQL's JSONB) keep an order of their own, the same on every read.
type KeyOrderKeeper interface {
	KeepsKeyOrder() bool
}

// ErrNotFound is returned when an object does not exist or is deleted.
var ErrNotFound = errors.New("storage: object not found")

// ErrReadOnly is returned by writes inside a read-only transaction.
var ErrReadOnly = errors.New("storage: read-only transaction")

// ErrConflict is returned when a concurrent write made the transaction
// impossible; retrying is expected to succeed.
var ErrConflict = errors.New("storage: conflict with a concurrent write")

// UnicityError reports an object that already exists with the same value of
// Field (always "id" for the generic store).
type UnicityError struct {
	Field    string
	Existing Object
}

func (e *UnicityError) Error() string {
	return fmt.Sprintf("storage: an object with this %s already exists", e.Field)
}

// BackendError wraps a failure of the underlying database (I/O, lock,
// connection). It is reported to clients as 503.
type BackendError struct {
	Op  string
	Err error
}

func (e *BackendError) Error() string { return "storage: " + e.Op + ": " + e.Err.Error() }
func (e *BackendError) Unwrap() error { return e.Err }

// ErrInvalidObject is returned when an object lacks a valid string id.
var ErrInvalidObject = errors.New("storage: object has no valid id")

// ErrUnstorable matches (errors.Is) an UnstorableError.
var ErrUnstorable = errors.New("storage: a value the backend cannot store or compare")

// UnstorableError reports a value the caller wrote or looked up that the
// backend cannot store or compare: PostgreSQL refuses the character
// U+0000 and invalid UTF-8 in text and JSONB, numbers beyond its numeric
// range (about 1e131072, 1e-16383) and timestamps a client sets beyond
// its timestamp type's (year 294276). It is the client's input, not the
// database's failure. Read tells that it came from a lookup or a filter
// rather than from a written object.
type UnstorableError struct {
	Read bool
	Err  error
}

func (e *UnstorableError) Error() string        { return e.Err.Error() }
func (e *UnstorableError) Unwrap() error        { return e.Err }
func (e *UnstorableError) Is(target error) bool { return target == ErrUnstorable }

// ErrTooLargeForIndex is returned (wrapped) when a written value is too
// large for an index of the backend (PostgreSQL refuses B-tree entries
// over 2,704 bytes; the indexes of declared fields bound theirs, so this
// is a last resort). It is the client's input.
var ErrTooLargeForIndex = errors.New("storage: a value too large for an index")

// ErrIndexLimit is returned (wrapped) by Indexer.DeclareIndexes for the
// fields it left without an index because the backend's bound on indexed
// fields is reached (PostgreSQL, whose declared indexes cover a table every
// write of every list maintains). Their queries scan, with the same
// answers; the other fields are built.
var ErrIndexLimit = errors.New("storage: the bound on indexed fields is reached")

type readAfterKey struct{}

// WithReadAfter marks ctx with the moment its request arrived: reads made
// with it must reflect every write acknowledged before t. Backends that
// cache across instances use it to skip a synchronisation already made
// for the same request (the HTTP layer sets it on every request).
func WithReadAfter(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, readAfterKey{}, t)
}

// ReadAfter returns the moment set by WithReadAfter, if any.
func ReadAfter(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(readAfterKey{}).(time.Time)
	return t, ok
}
