package resource

import (
	"errors"

	"github.com/nimbus-server/nimbus/permissions"
	"github.com/nimbus-server/nimbus/storage"
)

// allowed checks one permission for the request's principals.
func (r *Request) allowed(tx storage.Tx, chain []permissions.Node, perm string) (bool, error) {
	ps, err := r.Principals(tx)
	if err != nil {
		return false, err
	}
	return r.app.Authorizer.Allowed(tx, ps, chain, perm)
}

// Allowed tells whether the caller holds perm on a chain of nodes (the
// object first, the root last), for plugins' routes.
func (r *Request) Allowed(tx storage.Tx, chain []permissions.Node, perm string) (bool, error) {
	return r.allowed(tx, chain, perm)
}

// readPerm is the permission a GET of one object needs.
func (a *App) readPerm(res *Resource) string {
	if a.Tree.Grants(res.Name, "read:attributes") != nil {
		return "read:attributes"
	}
	return "read"
}

// shownPrecondition keeps the existing object in a 412 only for a caller
// who may read it (CORE-09), as the resource shows it (ReadFilter): a
// record:create grantee who sends If-None-Match: * with someone else's id
// learns nothing of that record.
func (a *App) shownPrecondition(r *Request, tx storage.Tx, res *Resource, chain []permissions.Node, e *Error, current storage.Object) error {
	if e.Details == nil {
		return e
	}
	ok, err := r.allowed(tx, chain, a.readPerm(res))
	if err != nil {
		return err
	}
	if !ok {
		e.Details = nil
	} else if res.ReadFilter != nil {
		e.Details = map[string]any{"existing": res.ReadFilter(r, current)}
	}
	return e
}

// missingObject answers a write on a missing object: 404 when the caller
// may read the parent (or holds the permission by inheritance), 403/401
// otherwise (PERM-09).
func (a *App) missingObject(r *Request, tx storage.Tx, res *Resource, m matchdict, id string, early func() *Error) error {
	chain := res.chain(m, id)
	ok, err := r.allowed(tx, chain, "write")
	if err != nil {
		return err
	}
	if !ok && len(chain) > 2 {
		if ok, err = a.readsList(r, tx, res, chain[1:]); err != nil {
			return err
		}
	}
	if !ok {
		return r.Deny()
	}
	if e := checkIDs(res, m, true); e != nil {
		return e
	}
	if early != nil {
		// A caller who is to hear 404 hears of the request's own errors
		// first (CORE-21: validation before a missing object or
		// parent), as Kinto validates the body and headers before its
		// view reads the object; one refused above is not told them.
		if bad := early(); bad != nil {
			return bad
		}
	}
	if _, err := parents(tx, res, m); err != nil {
		return err
	}
	return NotFound(res.Name, id)
}

// deniedCreation answers a creation (PUT of a missing object, POST) the
// caller may not make. For an object two levels down (a record), a caller
// who may read the list it would join hears that its parent is missing,
// 404 errno 111 after the request's own errors (early, nil: none), as
// PATCH and DELETE tell it (PERM-09) and as Kinto answers a record
// written under a missing collection of a bucket the caller reads. With
// its parents there, to a caller who may not read the list, or for a
// collection or group (Kinto: 403 under a missing bucket), it is
// 403/401: existence is not told.
func (a *App) deniedCreation(r *Request, tx storage.Tx, res *Resource, m matchdict, parent []permissions.Node, early func() error) error {
	if len(parent) < 3 {
		return r.Deny()
	}
	ok, err := a.readsList(r, tx, res, parent)
	if err != nil {
		return err
	}
	if !ok {
		return r.Deny()
	}
	_, perr := parents(tx, res, m)
	var missing *Error
	if perr == nil {
		return r.Deny()
	}
	if !errors.As(perr, &missing) {
		return perr
	}
	if early != nil {
		if bad := early(); bad != nil {
			return bad
		}
	}
	return perr
}

// readsList tells whether the caller may read the list under parent (not
// its attributes), with the settings of res: what decides between 404
// and 403 for an object that is missing, as Kinto decides it (PERM-09).
func (a *App) readsList(r *Request, tx storage.Tx, res *Resource, parent []permissions.Node) (bool, error) {
	ps, err := r.Principals(tx)
	if err != nil {
		return false, err
	}
	return a.Authorizer.AllowedOn(tx, ps, res.Name, parent, "read")
}
