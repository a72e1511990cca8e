package resource

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/nimbus-server/nimbus/permissions"
	"github.com/nimbus-server/nimbus/storage"
)

// objectGet serves GET and HEAD on one object (RES-08).
func (a *App) objectGet(res *Resource) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := requestOf(c)
		m := pathIDs(c)
		id := m[res.Name+"_id"]
		chain := res.chain(m, id)
		pc, perr := parsePrecond(c.Request())
		perr = cmpErr(perr, r.unusedBodyError())
		var body map[string]any
		var ts int64
		var notModified bool
		var pobjs map[string]storage.Object
		err := a.pipeline(r, steps{
			load: loader(res, m, id),
			authorize: func(tx storage.Tx, _ storage.Object) error {
				ok, err := r.allowed(tx, chain, a.readPerm(res))
				if err == nil && !ok {
					err = r.Deny()
				}
				return err
			},
			validate: func(tx storage.Tx, obj storage.Object) (err error) {
				if err := errorsOf(checkIDs(res, m, true), perr); err != nil {
					return err
				}
				if pobjs, err = parents(tx, res, m, !r.Authenticated()); err != nil {
					return err
				}
				if obj == nil {
					return NotFound(res.Name, id)
				}
				return nil
			},
			preconditions: func(tx storage.Tx, obj storage.Object) error {
				ts = storage.LastModified(obj)
				if notModified = pc.hasNone && !pc.noneAny && pc.none == ts; notModified {
					return nil
				}
				if e := pc.checkWrite(obj, 0); e != nil {
					return a.shownPrecondition(r, tx, res, chain, e, obj)
				}
				return nil
			},
			execute: func(tx storage.Tx, obj storage.Object) ([]*Event, error) {
				if notModified {
					return nil, nil
				}
				fields, ferr := parseFields(r, res)
				if ferr != nil {
					return nil, ferr
				}
				acl, err := tx.GetACL(chain[0].URI)
				if err != nil {
					return nil, err
				}
				body, err = a.objectBody(r, tx, res, chain, project(obj, fields), acl)
				if fields != nil {
					// A selection of fields answers them alone, without
					// the ACL, as Kinto does.
					delete(body, "permissions")
				}
				a.cacheHeaders(r, res, m, pobjs)
				return nil, err
			},
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

// objectPut serves PUT: create or replace (RES-09).
func (a *App) objectPut(res *Resource) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := requestOf(c)
		m := pathIDs(c)
		id := m[res.Name+"_id"]
		in := putInput{body: a.parseWriteBody(r, res), dataText: storage.RawField(r.body, "data")}
		in.pc, in.perr = parsePrecond(c.Request())
		if in.body.err == nil {
			if err := r.prepare(res, id); err != nil {
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
	// merge makes the write to an existing object a PATCH with a JSON
	// body: data's keys replace the stored ones, perms the named
	// permissions (Objects.Merge).
	merge bool
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

// putObject creates or replaces one object through the pipeline:
// authorization (write, or create for a new object or If-None-Match: *),
// ids, headers and body, parents, preconditions, then storage, ACL,
// hooks and events.
func (a *App) putObject(r *Request, res *Resource, m matchdict, id string, in putInput) (putOutput, error) {
	chain := res.chain(m, id)
	uri := chain[0].URI
	pc, wb := in.pc, in.body
	var out putOutput
	var sent *dataCopy
	if wb.hasData && !in.merge {
		// A replacement's data is the body's whatever is stored: copied
		// now. A merge's depends on the stored version.
		sent = newDataCopy(wb.data, in.dataText)
	}
	err := a.pipeline(r, steps{
		write: true, run: in.run,
		load: loader(res, m, id),
		authorize: func(tx storage.Tx, old storage.Object) error {
			if res.PreWrite != nil && !in.run.asServer {
				if err := res.PreWrite(r, tx, id, old != nil); err != nil {
					return err
				}
			}
			var ok bool
			var err error
			if old != nil && !(pc.hasNone && pc.noneAny) {
				ok, err = in.run.allowed(r, tx, chain, "write")
			} else {
				ok, err = in.run.allowed(r, tx, chain[1:], res.Name+":create")
				if err == nil && !ok && old == nil {
					return a.deniedCreation(r, tx, res, m, chain[1:], func() error {
						return errorsOf(checkIDs(res, m, true), in.perr, wb.err)
					})
				}
			}
			if err == nil && !ok {
				err = r.Deny()
			}
			return err
		},
		validate: func(tx storage.Tx, _ storage.Object) error {
			if err := errorsOf(checkIDs(res, m, true), in.perr, wb.err); err != nil {
				return err
			}
			return holdParents(tx, res, m)
		},
		preconditions: func(tx storage.Tx, old storage.Object) error {
			if old == nil && pc.hasMatch {
				return PreconditionFailed(0, nil)
			}
			return a.writePreconditions(r, res, m, id, pc)(tx, old)
		},
		execute: func(tx storage.Tx, old storage.Object) ([]*Event, error) {
			out.created = old == nil
			data := wb.data
			if in.merge && old != nil {
				data = copyData(old)
				for k, v := range wb.data {
					data[k] = v
				}
			}
			if !wb.hasData {
				data = map[string]any{}
				if old != nil {
					data = copyData(old)
				}
			}
			if v, ok := data["id"]; ok && v != id {
				return nil, Invalid("body", "id", "Object id does not match existing object")
			}
			var newObj storage.Object
			if sent != nil {
				newObj = sent.take()
			} else {
				newObj = copyData(data)
				if wb.hasData && in.dataText != nil {
					storage.WithClientOrder(newObj, in.dataText)
				}
			}
			newObj["id"] = id
			setSentTimestamp(newObj, data, old)
			oldACL, err := tx.GetACL(uri)
			if err != nil {
				return nil, err
			}
			acl := oldACL
			switch {
			case wb.hasPerms && in.merge && old != nil:
				acl = storage.ACL{}
				for k, v := range oldACL {
					acl[k] = v
				}
				for k, v := range wb.perms {
					if v == nil {
						delete(acl, k)
					} else {
						acl[k] = v
					}
				}
			case wb.hasPerms:
				acl = wb.perms
			}
			var events []*Event
			out.stored, out.body, events, err = a.store(r, tx, res, m, chain, old, newObj, oldACL, acl)
			return events, err
		},
	})
	if err != nil {
		return putOutput{}, err
	}
	return out, nil
}

// store validates and writes an object and its ACL, runs the hooks, and
// returns the stored object, the response body and the event of the
// change (the pipeline hands it to the listeners).
func (a *App) store(r *Request, tx storage.Tx, res *Resource, m matchdict, chain []permissions.Node, old, obj storage.Object, oldACL, acl storage.ACL) (storage.Object, map[string]any, []*Event, error) {
	w := &Write{Request: r, Tx: tx, URI: chain[0].URI, ParentURI: res.parentURI(m), ID: obj["id"].(string), Old: old, Data: obj, OldACL: oldACL}
	if res.Validate != nil {
		if err := res.Validate(w); err != nil {
			return nil, nil, nil, err
		}
	}
	// A creation says so: the storage then need not look for a row to
	// replace (on PostgreSQL, the row joins the statement that creates
	// history entries instead of one that reads every key first). old is
	// nil only when no live object holds the id, read under the list's
	// lock, so Create's UnicityError is a race with a writer that ignores
	// it (Kinto), answered 409 as Kinto answers its integrity errors.
	put := tx.Replace
	if old == nil {
		put = tx.Create
	}
	stored, err := put(res.ref(m), w.Data)
	if err != nil {
		return nil, nil, nil, err
	}
	action := "update"
	if old == nil {
		action = "create"
	}
	if n, ok := tx.(actionNoter); ok {
		n.noteAction(res.ref(m), w.ID, action)
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
	ev := a.newEvent(r, res, action, m, w.URI, storage.LastModified(stored))
	ev.IDs["id"] = w.ID
	ev.IDs[res.Name+"_id"] = w.ID
	ev.Impacted = []Impacted{{Old: old, New: stored, Permissions: w.ACL}}
	events := []*Event{ev}
	if old == nil {
		// The creator sees the ACL of what they just created, even when
		// they do not hold write on it (an account created anonymously):
		// no permission check is needed to show it.
		perms := map[string]any{}
		for k, v := range w.ACL {
			if len(v) > 0 {
				perms[k] = v
			}
		}
		shown := stored
		if res.ReadFilter != nil {
			shown = res.ReadFilter(r, shown)
		}
		return stored, map[string]any{"data": shown, "permissions": perms}, events, nil
	}
	body, err := a.objectBody(r, tx, res, chain, stored, w.ACL)
	return stored, body, events, err
}

// objectDelete serves DELETE on one object (RES-11).
func (a *App) objectDelete(res *Resource) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := requestOf(c)
		m := pathIDs(c)
		var in deleteInput
		in.pc, in.perr = parsePrecond(c.Request())
		in.perr = cmpErr(in.perr, r.unusedBodyError())
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

// deleteObject deletes one object and everything under it through the
// pipeline, and returns its tombstone.
func (a *App) deleteObject(r *Request, res *Resource, m matchdict, id string, in deleteInput) (storage.Object, error) {
	uri := res.objectURI(m, id)
	var tomb storage.Object
	err := a.pipeline(r, steps{
		write: true, run: in.run,
		load: loader(res, m, id),
		authorize: a.authorizeWrite(r, in.run, res, m, id, func() *Error {
			if in.perr != nil {
				return in.perr
			}
			return in.ferr
		}),
		validate:      func(storage.Tx, storage.Object) error { return errorsOf(in.perr, in.ferr) },
		preconditions: a.writePreconditions(r, res, m, id, in.pc),
		execute: func(tx storage.Tx, old storage.Object) ([]*Event, error) {
			acl, err := tx.GetACL(uri)
			if err != nil {
				return nil, err
			}
			if tomb, err = a.deleteOne(r, tx, res, m, old, in.forced); err != nil {
				return nil, err
			}
			ev := a.newEvent(r, res, "delete", m, uri, storage.LastModified(tomb))
			ev.IDs["id"] = id
			ev.Impacted = []Impacted{{Old: old, New: tomb, Permissions: acl}}
			return []*Event{ev}, nil
		},
	})
	if err != nil {
		return nil, err
	}
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
