package resource

import (
	"errors"

	"github.com/nimbus-server/nimbus/storage"
)

// Objects is the in-process object service: plugins create, read and
// delete objects of any declared resource with the engine's rules (ids,
// parents, ACLs, preconditions, validation hooks, timestamps, tombstones,
// events) without building an HTTP request. By default it acts as the
// caller of the request it comes from, in a write transaction of its own
// (or the request's batch transaction); AsServer drops the caller's
// authorization and In runs inside a transaction the plugin holds.
//
// Errors are *Error values (404 for a missing object or parent, 403/401
// when the caller may not, 412 for a precondition, 400 for bad ids) or
// storage errors, exactly as the HTTP endpoints would answer them.
type Objects struct {
	r   *Request
	run runner
}

// Objects returns the object service acting as the request's caller.
func (r *Request) Objects() Objects { return Objects{r: r} }

// AsServer returns a service that does not check the caller's
// permissions (the plugin has decided); events still name the caller.
func (o Objects) AsServer() Objects {
	o.run.asServer = true
	return o
}

// In returns a service whose operations run inside tx. Their events wait
// until the plugin calls Committed after its transaction commits.
func (o Objects) In(tx storage.Tx) Objects {
	o.run.tx = tx
	o.run.pending = new([]*Event)
	return o
}

// Committed delivers the events of the writes made with In to the
// after-commit listeners; call it once the transaction has committed.
func (o Objects) Committed() {
	if o.run.pending == nil {
		return
	}
	events := *o.run.pending
	*o.run.pending = nil
	o.r.app.afterCommit(o.r, events)
}

// Locate parses an object URI ("/buckets/b/collections/c") against the
// declared resources.
func (o Objects) Locate(uri string) (Location, bool) { return o.r.app.Locate(uri) }

func (o Objects) locate(uri string) (Location, error) {
	loc, ok := o.r.app.Locate(uri)
	if !ok {
		return loc, Invalid("path", "id", "Invalid object URI")
	}
	return loc, nil
}

// Get returns the object at uri and its ACL, if the caller may read it.
func (o Objects) Get(uri string) (storage.Object, storage.ACL, error) {
	loc, err := o.locate(uri)
	if err != nil {
		return nil, nil, err
	}
	a, res, m := o.r.app, loc.Resource, matchdict(loc.IDs)
	chain := res.chain(m, loc.ID)
	var obj storage.Object
	var acl storage.ACL
	err = o.run.view(o.r, func(tx storage.Tx) error {
		ok, err := o.run.allowed(o.r, tx, chain, a.readPerm(res))
		if err != nil {
			return err
		}
		if !ok {
			return o.r.Deny()
		}
		if e := checkIDs(res, m, true); e != nil {
			return e
		}
		if _, err := parents(tx, res, m); err != nil {
			return err
		}
		if obj, err = getOrNil(tx, loc.Ref, loc.ID); err != nil {
			return err
		}
		if obj == nil {
			return NotFound(res.Name, loc.ID)
		}
		acl, err = tx.GetACL(chain[0].URI)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if res.ReadFilter != nil && !o.run.asServer {
		obj = res.ReadFilter(o.r, obj)
	}
	return obj, acl, nil
}

// Can tells whether the caller holds perm ("read", "write", or a
// creation permission such as "record:create") on the object at uri,
// through its own ACL, its ancestors' or the settings, as the endpoints
// decide it. The object need not exist.
func (o Objects) Can(uri, perm string) (bool, error) {
	loc, err := o.locate(uri)
	if err != nil {
		return false, err
	}
	chain := loc.Resource.chain(matchdict(loc.IDs), loc.ID)
	var ok bool
	err = o.run.view(o.r, func(tx storage.Tx) (err error) {
		ok, err = o.run.allowed(o.r, tx, chain, perm)
		return err
	})
	return ok, err
}

// Put creates or replaces the object at uri with data (its id is the
// URI's) and, when acl is not nil, that ACL; it reports whether the
// object was created. The resource's Validate and AfterWrite hooks run
// as for an HTTP PUT; its Prepare hook does not (it reads the HTTP body).
func (o Objects) Put(uri string, data storage.Object, acl storage.ACL) (storage.Object, bool, error) {
	return o.put(uri, data, acl, precond{})
}

// Create creates the object at uri; an existing one gives
// ErrObjectExists (and is left alone).
func (o Objects) Create(uri string, data storage.Object, acl storage.ACL) (storage.Object, error) {
	obj, _, err := o.put(uri, data, acl, precond{hasNone: true, noneAny: true})
	var e *Error
	if errors.As(err, &e) && e.Status == 412 {
		return nil, ErrObjectExists
	}
	return obj, err
}

// Ensure creates the object at uri with no data unless it exists, as an
// implied write of the server on the caller's behalf (Kinto's default
// bucket creates the caller's bucket and collections this way): nothing
// happens when the object exists; otherwise the caller's credential scope
// is checked (the request hooks: a read-only token creates nothing), not
// their permissions, and the caller becomes the object's writer. It
// reports whether the object was created. The creation stays when the
// request fails afterwards, in a batch as alone (where it commits at
// once): Kinto keeps the default bucket's implied objects when the
// request then answers 404.
func (o Objects) Ensure(uri string) (bool, error) {
	loc, err := o.locate(uri)
	if err != nil {
		return false, err
	}
	if e := checkIDs(loc.Resource, matchdict(loc.IDs), true); e != nil {
		return false, e
	}
	var exists bool
	if err := o.run.view(o.r, func(tx storage.Tx) (err error) { exists, err = tx.Exists(loc.Ref, loc.ID); return }); err != nil || exists {
		return false, err
	}
	if err := o.check("PUT", uri, loc); err != nil {
		return false, err
	}
	_, err = o.AsServer().Create(uri, storage.Object{}, nil)
	if errors.Is(err, ErrObjectExists) {
		return false, nil
	}
	if err == nil && o.run.tx == nil {
		o.r.keepWrites()
	}
	return err == nil, err
}

// Merge writes data into the object at uri as an HTTP PATCH with a JSON
// body does when the object exists (data's keys replace the stored ones;
// each permission named in permissions, the decoded JSON object a client
// sent, replaces the stored one), and creates it as a PUT does when it
// does not (the caller becomes its writer). The If-Match and
// If-None-Match headers of the request apply, as on the object's own
// endpoint. It reports whether the object was created.
func (o Objects) Merge(uri string, data storage.Object, permissions any) (storage.Object, bool, error) {
	loc, err := o.locate(uri)
	if err != nil {
		return nil, false, err
	}
	if err := o.check("PATCH", uri, loc); err != nil {
		return nil, false, err
	}
	if data == nil {
		data = storage.Object{}
	}
	wb := writeBody{data: data, hasData: true}
	if permissions != nil {
		wb.perms, wb.err = o.r.app.parsePermissions(loc.Resource, permissions, false)
		wb.hasPerms = true
	}
	in := putInput{body: wb, run: o.run, merge: true}
	in.pc, in.perr = parsePrecond(o.r.c.Request())
	out, err := o.r.app.putObject(o.r, loc.Resource, matchdict(loc.IDs), loc.ID, in)
	return out.stored, out.created, err
}

// ErrObjectExists is what Create returns for an object already there.
var ErrObjectExists = errors.New("resource: the object exists")

func (o Objects) put(uri string, data storage.Object, acl storage.ACL, pc precond) (storage.Object, bool, error) {
	loc, err := o.locate(uri)
	if err != nil {
		return nil, false, err
	}
	if err := o.check("PUT", uri, loc); err != nil {
		return nil, false, err
	}
	if data == nil {
		data = storage.Object{}
	}
	in := putInput{body: writeBody{data: data, hasData: true, perms: acl, hasPerms: acl != nil}, pc: pc, run: o.run}
	out, err := o.r.app.putObject(o.r, loc.Resource, matchdict(loc.IDs), loc.ID, in)
	return out.stored, out.created, err
}

// Delete deletes the object at uri and everything under it, and returns
// its tombstone.
func (o Objects) Delete(uri string) (storage.Object, error) {
	loc, err := o.locate(uri)
	if err != nil {
		return nil, err
	}
	if err := o.check("DELETE", uri, loc); err != nil {
		return nil, err
	}
	return o.r.app.deleteObject(o.r, loc.Resource, matchdict(loc.IDs), loc.ID, deleteInput{run: o.run})
}

// Purge deletes the object at uri with its ACL and everything under it
// inside tx, running the resource's delete hook but neither authorization
// nor events: the plugin reports the change itself (user-data deletion
// builds one event for many objects). It returns the tombstone.
func (o Objects) Purge(tx storage.Tx, uri string) (storage.Object, error) {
	loc, ok := o.r.app.Locate(uri)
	if !ok {
		return nil, storage.ErrNotFound
	}
	old, err := tx.Get(loc.Ref, loc.ID)
	if err != nil {
		return nil, err
	}
	return o.r.app.deleteOne(o.r, tx, loc.Resource, matchdict(loc.IDs), old, 0)
}

// check runs, for a write the service makes on the caller's behalf, the
// resource's guard and the request hooks, as if the caller had sent it
// (a read-only token must not create through an implied write).
func (o Objects) check(method, uri string, loc Location) error {
	if o.run.asServer {
		return nil
	}
	op := Operation{Method: method, Path: "/v1" + uri, Implied: true}
	if g := loc.Resource.Guard; g != nil {
		action := "put"
		if method == "DELETE" {
			action = "delete"
		}
		if err := g(o.r, action, loc.ID); err != nil {
			return err
		}
	}
	return o.r.app.runRequestHooks(o.r, op)
}
