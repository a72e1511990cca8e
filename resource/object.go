package resource

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/nimbus-server/nimbus/permissions"
	"github.com/nimbus-server/nimbus/storage"
)

func httpDate(ms int64) string { return time.UnixMilli(ms).UTC().Format(http.TimeFormat) }

func getOrNil(tx storage.Tx, ref storage.Ref, id string) (storage.Object, error) {
	o, err := tx.Get(ref, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	return o, err
}

// objectGet serves GET and HEAD on one object (RES-08).
func (a *App) objectGet(res *Resource) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := requestOf(c)
		m := pathIDs(c)
		id := m[res.Name+"_id"]
		chain := res.chain(m, id)
		pc, perr := parsePrecond(c.Request())
		var body map[string]any
		var ts int64
		var notModified bool
		err := r.View(func(tx storage.Tx) error {
			tx = memo(tx)
			ok, err := r.allowed(tx, chain, a.readPerm(res))
			if err != nil {
				return err
			}
			if !ok {
				return r.Deny()
			}
			if e := checkIDs(res, m, true); e != nil {
				return e
			}
			if perr != nil {
				return perr
			}
			pobjs, err := parents(tx, res, m, !r.Authenticated())
			if err != nil {
				return err
			}
			obj, err := getOrNil(tx, res.ref(m), id)
			if err != nil {
				return err
			}
			if obj == nil {
				return NotFound(res.Name, id)
			}
			ts = storage.LastModified(obj)
			if pc.hasNone && !pc.noneAny && pc.none == ts {
				notModified = true
				return nil
			}
			if e := pc.checkWrite(obj, 0); e != nil {
				return a.shownPrecondition(r, tx, res, chain, e, obj)
			}
			fields, ferr := parseFields(r, res)
			if ferr != nil {
				return ferr
			}
			acl, err := tx.GetACL(chain[0].URI)
			if err != nil {
				return err
			}
			body, err = a.objectBody(r, tx, res, chain, project(obj, fields), acl)
			a.cacheHeaders(r, res, m, pobjs)
			return err
		})
		if err != nil {
			return err
		}
		r.SetETag(ts)
		r.Expose("Last-Modified", "ETag", "Cache-Control", "Expires", "Pragma")
		if notModified {
			return c.NoContent(http.StatusNotModified)
		}
		return r.JSON(http.StatusOK, body)
	}
}

// missingObject answers a write on a missing object: 404 when the caller
// may read the parent (or holds the permission by inheritance), 403/401
// otherwise (PERM-09).
func (a *App) missingObject(r *Request, tx storage.Tx, res *Resource, m matchdict, id string) error {
	chain := res.chain(m, id)
	ok, err := r.allowed(tx, chain, "write")
	if err != nil {
		return err
	}
	if !ok && len(chain) > 2 {
		// Read on the parent list (not its attributes), with the
		// settings of this resource, as Kinto decides it.
		ps, perr := r.Principals(tx)
		if perr != nil {
			return perr
		}
		if ok, err = a.Authorizer.AllowedOn(tx, ps, res.Name, chain[1:], "read"); err != nil {
			return err
		}
	}
	if !ok {
		return r.Deny()
	}
	if e := checkIDs(res, m, true); e != nil {
		return e
	}
	if _, err := parents(tx, res, m); err != nil {
		return err
	}
	return NotFound(res.Name, id)
}

// writeTarget returns the existing object a PATCH or DELETE changes,
// after checking the caller may write it; a missing object gets the
// answer of missingObject.
func (a *App) writeTarget(r *Request, tx storage.Tx, res *Resource, m matchdict, id string, chain []permissions.Node) (storage.Object, error) {
	old, err := getOrNil(tx, res.ref(m), id)
	if err != nil {
		return nil, err
	}
	if old == nil {
		return nil, a.missingObject(r, tx, res, m, id)
	}
	ok, err := r.allowed(tx, chain, "write")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, r.Deny()
	}
	return old, nil
}

// objectPut serves PUT: create or replace (RES-09).
func (a *App) objectPut(res *Resource) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := requestOf(c)
		m := pathIDs(c)
		id := m[res.Name+"_id"]
		in := putInput{body: a.parseWriteBody(r, res), dataText: storage.RawField(r.body, "data")}
		in.pc, in.perr = parsePrecond(c.Request())
		if res.Prepare != nil && in.body.err == nil {
			if err := res.Prepare(r, id); err != nil {
				return err
			}
		}
		out, err := a.putObject(r, res, m, id, in)
		if err != nil {
			return err
		}
		r.SetETag(storage.LastModified(out.stored))
		status := http.StatusOK
		if out.created {
			status = http.StatusCreated
		}
		return r.JSON(status, out.body)
	}
}

// putInput is what a PUT asks: the decoded body (with the text of its data
// for key order), the preconditions, and how the write is run.
type putInput struct {
	body     writeBody
	dataText []byte
	pc       precond
	perr     *Error
	run      runner
}

// putOutput is what a PUT did.
type putOutput struct {
	stored  storage.Object
	body    map[string]any
	created bool
}

// runner says how one operation of the object service runs: in the
// request's own write transaction or in one the caller holds, and with
// or without the caller's authorization.
type runner struct {
	tx       storage.Tx
	asServer bool
	// pending keeps the events of writes in a caller's transaction until
	// the caller reports its commit.
	pending *[]*Event
}

// committed hands events to the after-commit listeners, or keeps them
// for the caller's commit when the write ran in the caller's
// transaction.
func (rn runner) committed(a *App, r *Request, events []*Event) {
	if rn.tx != nil && rn.pending != nil {
		*rn.pending = append(*rn.pending, events...)
		return
	}
	a.afterCommit(r, events)
}

func (rn runner) update(r *Request, fn func(tx storage.Tx) error) error {
	if rn.tx != nil {
		return fn(rn.tx)
	}
	return r.Update(fn)
}

func (rn runner) view(r *Request, fn func(tx storage.Tx) error) error {
	if rn.tx != nil {
		return fn(rn.tx)
	}
	return r.View(fn)
}

// allowed is the caller's permission, or true for the server's own work.
func (rn runner) allowed(r *Request, tx storage.Tx, chain []permissions.Node, perm string) (bool, error) {
	if rn.asServer {
		return true, nil
	}
	return r.allowed(tx, chain, perm)
}

// putObject creates or replaces one object: authorization, ids,
// preconditions, validation, storage, ACL, hooks and events, in one write
// transaction; listeners hear of it after commit.
func (a *App) putObject(r *Request, res *Resource, m matchdict, id string, in putInput) (putOutput, error) {
	chain := res.chain(m, id)
	uri := chain[0].URI
	pc, wb := in.pc, in.body
	var out putOutput
	var events []*Event
	err := in.run.update(r, func(tx storage.Tx) error {
		events = nil
		old, err := getOrNil(tx, res.ref(m), id)
		if err != nil {
			return err
		}
		out.created = old == nil
		if res.PreWrite != nil && !in.run.asServer {
			if err := res.PreWrite(r, tx, id, old != nil); err != nil {
				return err
			}
		}
		var ok bool
		if old != nil && !(pc.hasNone && pc.noneAny) {
			ok, err = in.run.allowed(r, tx, chain, "write")
		} else {
			ok, err = in.run.allowed(r, tx, chain[1:], res.Name+":create")
		}
		if err != nil {
			return err
		}
		if !ok {
			return r.Deny()
		}
		if e := checkIDs(res, m, true); e != nil {
			return e
		}
		if in.perr != nil {
			return in.perr
		}
		if wb.err != nil {
			return wb.err
		}
		if _, err := parents(tx, res, m); err != nil {
			return err
		}
		if old == nil && pc.hasMatch {
			return PreconditionFailed(0, nil)
		}
		if e := pc.checkWrite(old, 0); e != nil {
			return a.shownPrecondition(r, tx, res, chain, e, old)
		}
		data := wb.data
		if !wb.hasData {
			data = map[string]any{}
			if old != nil {
				data = copyData(old)
			}
		}
		if v, ok := data["id"]; ok && v != id {
			return Invalid("body", "data.id", "Object id does not match existing object")
		}
		newObj := copyData(data)
		if wb.hasData && in.dataText != nil {
			storage.WithClientOrder(newObj, in.dataText)
		}
		newObj["id"] = id
		setSentTimestamp(newObj, data, old)
		oldACL, err := tx.GetACL(uri)
		if err != nil {
			return err
		}
		acl := oldACL
		if wb.hasPerms {
			acl = wb.perms
		}
		out.stored, out.body, events, err = a.store(r, tx, res, m, chain, old, newObj, oldACL, acl)
		return err
	})
	if err != nil {
		return putOutput{}, err
	}
	in.run.committed(a, r, events)
	return out, nil
}

// copyData copies an object's fields without the server-managed ones.
func copyData(o storage.Object) storage.Object {
	out := make(storage.Object, len(o))
	for k, v := range o {
		if k != "last_modified" && k != "deleted" {
			out[k] = v
		}
	}
	return out
}

// setSentTimestamp keeps an integer last_modified the client sent
// (replication, RES-13) and drops anything else.
func setSentTimestamp(obj, sent, old storage.Object) {
	delete(obj, "last_modified")
	v, ok := sent["last_modified"]
	if !ok {
		return
	}
	ts, isInt := storage.Int(v)
	if !isInt || ts <= 0 {
		return
	}
	if old != nil && ts <= storage.LastModified(old) {
		return
	}
	obj["last_modified"] = ts
}

// store validates and writes an object and its ACL, runs the hooks and
// before-commit listeners, and builds the response body.
func (a *App) store(r *Request, tx storage.Tx, res *Resource, m matchdict, chain []permissions.Node, old, obj storage.Object, oldACL, acl storage.ACL) (storage.Object, map[string]any, []*Event, error) {
	w := &Write{Request: r, Tx: tx, URI: chain[0].URI, ParentURI: res.parentURI(m), ID: obj["id"].(string), Old: old, Data: obj, OldACL: oldACL}
	if res.Validate != nil {
		if err := res.Validate(w); err != nil {
			return nil, nil, nil, err
		}
	}
	stored, err := tx.Replace(res.ref(m), w.Data)
	if err != nil {
		return nil, nil, nil, err
	}
	w.Data = stored
	w.ACL = a.withOwner(r, res, stored, acl)
	if err := tx.SetACL(w.URI, w.ACL); err != nil {
		return nil, nil, nil, err
	}
	if res.AfterWrite != nil {
		if err := res.AfterWrite(w); err != nil {
			return nil, nil, nil, err
		}
	}
	action := "update"
	if old == nil {
		action = "create"
	}
	ev := a.newEvent(r, res, action, m, w.URI, storage.LastModified(stored))
	ev.IDs["id"] = w.ID
	ev.IDs[res.Name+"_id"] = w.ID
	ev.Impacted = []Impacted{{Old: old, New: stored, Permissions: w.ACL}}
	events := []*Event{ev}
	if err := a.beforeCommit(tx, events); err != nil {
		return nil, nil, nil, err
	}
	body, err := a.objectBody(r, tx, res, chain, stored, w.ACL)
	if err == nil && old == nil {
		// The creator sees the ACL of what they just created, even when
		// they do not hold write on it (an account created anonymously).
		perms := map[string]any{}
		for k, v := range w.ACL {
			if len(v) > 0 {
				perms[k] = v
			}
		}
		body["permissions"] = perms
	}
	return stored, body, events, err
}

// objectDelete serves DELETE on one object (RES-11).
func (a *App) objectDelete(res *Resource) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := requestOf(c)
		m := pathIDs(c)
		var in deleteInput
		in.pc, in.perr = parsePrecond(c.Request())
		if v := c.QueryParam("last_modified"); v != "" {
			n, err := strconv.ParseInt(trimQuotes(v), 10, 64)
			if err != nil {
				in.ferr = Invalid("querystring", "last_modified", "Invalid value for last_modified")
			}
			in.forced = n
		}
		tomb, err := a.deleteObject(r, res, m, m[res.Name+"_id"], in)
		if err != nil {
			return err
		}
		r.SetETag(storage.LastModified(tomb))
		return r.JSON(http.StatusOK, map[string]any{"data": tomb})
	}
}

// deleteInput is what a DELETE asks: preconditions, a forced tombstone
// timestamp, and how the delete runs.
type deleteInput struct {
	pc     precond
	perr   *Error
	forced int64
	ferr   *Error
	run    runner
}

// deleteObject deletes one object and everything under it, after
// authorization and preconditions, and returns its tombstone; listeners
// hear of it after commit.
func (a *App) deleteObject(r *Request, res *Resource, m matchdict, id string, in deleteInput) (storage.Object, error) {
	chain := res.chain(m, id)
	var tomb storage.Object
	var events []*Event
	err := in.run.update(r, func(tx storage.Tx) error {
		events = nil
		var old storage.Object
		var err error
		if in.run.asServer {
			if old, err = getOrNil(tx, res.ref(m), id); err == nil && old == nil {
				err = NotFound(res.Name, id)
			}
		} else {
			old, err = a.writeTarget(r, tx, res, m, id, chain)
		}
		if err != nil {
			return err
		}
		if in.perr != nil {
			return in.perr
		}
		if in.ferr != nil {
			return in.ferr
		}
		if e := in.pc.checkWrite(old, 0); e != nil {
			return a.shownPrecondition(r, tx, res, chain, e, old)
		}
		acl, err := tx.GetACL(chain[0].URI)
		if err != nil {
			return err
		}
		tomb, err = a.deleteOne(r, tx, res, m, old, in.forced)
		if err != nil {
			return err
		}
		ev := a.newEvent(r, res, "delete", m, chain[0].URI, storage.LastModified(tomb))
		ev.IDs["id"] = id
		ev.Impacted = []Impacted{{Old: old, New: tomb, Permissions: acl}}
		events = []*Event{ev}
		return a.beforeCommit(tx, events)
	})
	if err != nil {
		return nil, err
	}
	in.run.committed(a, r, events)
	return tomb, nil
}

// deleteOne deletes an object, its ACL and everything under it.
func (a *App) deleteOne(r *Request, tx storage.Tx, res *Resource, m matchdict, old storage.Object, forced int64) (storage.Object, error) {
	id := storage.ID(old)
	uri := res.objectURI(m, id)
	tomb, err := tx.Delete(res.ref(m), id, forced)
	if err != nil {
		return nil, err
	}
	if res.AfterDelete != nil {
		if err := res.AfterDelete(r, tx, uri, old); err != nil {
			return nil, err
		}
	}
	if err := tx.DeleteACLs(uri); err != nil {
		return nil, err
	}
	if err := tx.DeleteTree(uri); err != nil {
		return nil, err
	}
	return tomb, nil
}

func trimQuotes(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}
