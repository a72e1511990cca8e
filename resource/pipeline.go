package resource

import (
	"errors"

	"github.com/nimbus-server/nimbus/storage"
)

// steps are one endpoint's parts of the request pipeline every resource
// endpoint runs, in this order, inside one transaction:
//
//  1. load: read the stored object the request is about (nil: missing);
//  2. authorize: decide whether the caller may (401/403, or 404 when they
//     may know it is missing);
//  3. validate: report what is wrong with the request (ids, headers, body):
//     only after authorization, so that strangers learn nothing (CORE-21);
//  4. preconditions: If-Match / If-None-Match (412, 304);
//  5. execute: do the work, returning the events of the change.
//
// The endpoint then answers once the transaction has committed and the
// after-commit listeners heard of the events. Every step but execute is
// optional. The functions may run more than once (a transaction retried),
// so they keep no state across runs other than what they set afresh.
type steps struct {
	// write runs the steps in a write transaction; otherwise in a read
	// transaction whose ACL reads are remembered (memoTx).
	write bool
	run   runner

	load          func(tx storage.Tx) (storage.Object, error)
	authorize     func(tx storage.Tx, old storage.Object) error
	validate      func(tx storage.Tx, old storage.Object) error
	preconditions func(tx storage.Tx, old storage.Object) error
	execute       func(tx storage.Tx, old storage.Object) ([]*Event, error)
}

// pipeline runs an endpoint's steps; the before-commit listeners hear of
// the events inside the transaction, the after-commit ones once it has
// committed.
func (a *App) pipeline(r *Request, s steps) error {
	var events []*Event
	body := func(tx storage.Tx) error {
		events = nil
		var old storage.Object
		var err error
		if s.load != nil {
			if old, err = s.load(tx); err != nil {
				return err
			}
		}
		for _, step := range []func(storage.Tx, storage.Object) error{s.authorize, s.validate, s.preconditions} {
			if step == nil {
				continue
			}
			if err := step(tx, old); err != nil {
				return err
			}
		}
		if events, err = s.execute(tx, old); err != nil || !s.write {
			return err
		}
		return a.beforeCommit(tx, events)
	}
	var err error
	if s.write {
		err = s.run.update(r, body)
	} else {
		err = s.run.view(r, func(tx storage.Tx) error { return body(memo(tx)) })
	}
	if err != nil {
		return err
	}
	s.run.committed(a, r, events)
	return nil
}

// loader reads the object id of res's list named by m.
// In a write transaction the read keeps the list's other writers out
// until the write (storage.GetForUpdate), so that If-Match and PATCH
// judge the version they replace.
func loader(res *Resource, m matchdict, id string) func(storage.Tx) (storage.Object, error) {
	return func(tx storage.Tx) (storage.Object, error) {
		o, err := storage.GetForUpdate(tx, res.ref(m), id)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, nil
		}
		return o, err
	}
}

// authorizeWrite is the authorization step of PATCH and DELETE: write on
// an existing object; a missing one gets the answer of missingObject,
// where early (nil: none) tells the request's own errors that need no
// stored object.
func (a *App) authorizeWrite(r *Request, run runner, res *Resource, m matchdict, id string, early func() *Error) func(storage.Tx, storage.Object) error {
	return func(tx storage.Tx, old storage.Object) error {
		if run.asServer {
			if old == nil {
				return NotFound(res.Name, id)
			}
			return nil
		}
		if old == nil {
			return a.missingObject(r, tx, res, m, id, early)
		}
		ok, err := r.allowed(tx, res.chain(m, id), "write")
		if err != nil {
			return err
		}
		if !ok {
			return r.Deny()
		}
		return nil
	}
}

// writePreconditions is the precondition step of PUT, PATCH and DELETE
// on an object: If-Match must name its timestamp and If-None-Match: *
// fails when it exists (CORE-09), the existing object shown to readers
// only.
func (a *App) writePreconditions(r *Request, res *Resource, m matchdict, id string, pc precond) func(storage.Tx, storage.Object) error {
	return func(tx storage.Tx, old storage.Object) error {
		if e := pc.checkWrite(old, 0); e != nil {
			return a.shownPrecondition(r, tx, res, res.chain(m, id), e, old)
		}
		return nil
	}
}

// cmpErr is the first of two request errors that is set.
func cmpErr(a, b *Error) *Error {
	if a != nil {
		return a
	}
	return b
}

// errorsOf returns the first request error of a list, after
// authorization: the validation step of endpoints whose checks need no
// storage.
func errorsOf(errs ...*Error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
