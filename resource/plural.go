package resource

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/nimbus-server/nimbus/permissions"
	"github.com/nimbus-server/nimbus/storage"
)

// listScope decides which objects of a list the caller may see with perm
// ("read" or "write"), per PERM-07: all (ids nil), only some (ids), or
// none at all (empty ids when creating there is allowed, else an error).
func (a *App) listScope(r *Request, tx storage.Tx, res *Resource, m matchdict, perm string) ([]string, error) {
	ps, err := r.Principals(tx)
	if err != nil {
		return nil, err
	}
	var whole bool
	if res.parent == nil {
		// A top-level list has no parent ACL: as in Kinto, only the
		// setting named after the wanted permission covers it whole.
		whole = a.Authorizer.Setting(ps, res.Name, perm)
	} else if whole, err = r.allowed(tx, res.chain(m, ""), perm); err != nil {
		return nil, err
	}
	if !whole && res.ListAll != nil {
		if whole, err = res.ListAll(r, tx); err != nil {
			return nil, err
		}
	}
	if whole {
		return nil, nil
	}
	own := perm
	if perm == "read" {
		// As in Kinto, an object is listed when its own ACL lets the
		// caller read its attributes (a collection with record:create).
		own = a.readPerm(res)
	}
	ids, err := a.Authorizer.Readable(tx, ps, res.Name, res.listPrefix(m), own)
	if err != nil {
		return nil, err
	}
	if res.ListFilter != nil {
		ids = res.ListFilter(r, ids)
	}
	if len(ids) > 0 {
		return ids, nil
	}
	canCreate, err := r.allowed(tx, res.chain(m, "")[1:], res.Name+":create")
	if err != nil {
		return nil, err
	}
	if !canCreate {
		return nil, r.Deny()
	}
	return []string{}, nil
}

// pluralGet serves GET and HEAD on a list (RES-12, querying.md).
func (a *App) pluralGet(res *Resource) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := requestOf(c)
		m := pathIDs(c)
		ref := res.ref(m)
		if r.stream {
			return a.serveStream(r, res, m)
		}
		head := c.Request().Method == http.MethodHead
		pc, perr := parsePrecond(c.Request())
		perr = cmpErr(perr, r.unusedBodyError())
		var lq *listQuery
		var objs []storage.Object
		var raws [][]byte
		var useRaw, cut bool
		var ts int64
		var total int
		var ids []string
		var pobjs map[string]storage.Object
		read := func() error {
			objs, raws, useRaw, cut, total = nil, nil, false, false, 0
			return a.pipeline(r, steps{
				authorize: func(tx storage.Tx, _ storage.Object) (err error) {
					ids, err = a.listScope(r, tx, res, m, "read")
					return err
				},
				validate: func(tx storage.Tx, _ storage.Object) (err error) {
					if e := checkIDs(res, m, false); e != nil {
						return e
					}
					if pobjs, err = parents(tx, res, m, !r.Authenticated()); err != nil {
						return err
					}
					var qerr *Error
					if lq, qerr = a.parseList(r, res, false); qerr != nil {
						return qerr
					}
					return errorsOf(perr)
				},
				// The preconditions are applied after the transaction: an
				// empty list may need its timestamp set first.
				execute: func(tx storage.Tx, _ storage.Object) (_ []*Event, err error) {
					if ts, err = tx.Timestamp(ref); err != nil {
						return nil, err
					}
					lq.q.IDs = ids
					a.cacheHeaders(r, res, m, pobjs)
					if head {
						total, err = tx.Count(ref, lq.q.Filters, lq.q.IncludeDeleted)
						if err == nil && ids != nil {
							q := lq.q
							q.Limit = 0
							var all []storage.Object
							all, err = tx.List(ref, q)
							total = len(all)
						}
						return nil, err
					}
					if err := resolveTokenRef(tx, ref, lq); err != nil {
						return nil, err
					}
					q := lq.q
					q.Limit = lq.pageSize + 1
					// A page of large records ends at page_max_bytes
					// (Next-Page goes on after its last one).
					q.MaxBytes, q.Cut = a.pageBytes(r), &cut
					if rl, ok := tx.(storage.RawLister); ok && lq.fields == nil && res.ReadFilter == nil {
						var served bool
						if raws, served, err = rl.ListRaw(ref, q); err != nil || served {
							useRaw = served
							return nil, err
						}
					}
					objs, err = tx.List(ref, q)
					return nil, err
				},
			})
		}
		if err := read(); err != nil {
			return err
		}
		if ts == 0 {
			// A list never written has no timestamp yet: it gets one, as
			// in Kinto. Writes may have landed since the page was read,
			// and the timestamp would then be theirs: the list is read
			// again (its timestamp first, then the page), or a client
			// syncing from this ETag (_since) would never get them.
			var set int64
			if err := r.Update(func(tx storage.Tx) (err error) { set, err = tx.Timestamp(ref); return }); err != nil {
				return err
			}
			if err := read(); err != nil {
				return err
			}
			if ts == 0 {
				ts = set
			}
		}
		r.SetETag(ts)
		r.Expose("Next-Page", "Last-Modified", "ETag", "Cache-Control", "Expires", "Pragma", "Total-Objects", "Total-Records")
		if pc.hasNone && (pc.noneAny || pc.none == ts) {
			if pc.noneAny {
				return PreconditionFailed(ts, nil)
			}
			return c.NoContent(http.StatusNotModified)
		}
		if pc.hasMatch && !pc.matchAny && pc.match != ts {
			return PreconditionFailed(ts, nil)
		}
		if head {
			h := r.ResponseHeader()
			h.Set("Total-Objects", strconv.Itoa(total))
			h.Set("Total-Records", strconv.Itoa(total))
			h.Set("Content-Type", "application/json")
			return c.NoContent(http.StatusOK)
		}
		if useRaw {
			return a.writeRaw(r, lq, raws, cut)
		}
		if len(objs) > lq.pageSize {
			objs = objs[:lq.pageSize]
			cut = true
		}
		if cut && len(objs) > 0 {
			a.setNextPage(r, lq, objs[len(objs)-1], len(objs))
		}
		out := make([]storage.Object, len(objs))
		for i, o := range objs {
			if res.ReadFilter != nil {
				o = res.ReadFilter(r, o)
			}
			out[i] = project(o, lq.fields)
		}
		return r.JSON(http.StatusOK, map[string]any{"data": out})
	}
}

// pluralPost serves POST on a list: create, or return the existing object
// when data.id names one (RES-07).
func (a *App) pluralPost(res *Resource) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := requestOf(c)
		m := pathIDs(c)
		ref := res.ref(m)
		pc, perr := parsePrecond(c.Request())
		wb := a.parseWriteBody(r, res)
		var id string
		var idErr *Error
		// The id is read whenever data is an object, even when the body
		// has another error: an existing object is then authorized first
		// (an anonymous caller hears 401, not the body's 400: CORE-21).
		if wb.data != nil {
			if v, ok := wb.data["id"]; ok {
				s, isStr := v.(string)
				if !isStr || !res.idOK(s) {
					idErr = InvalidObjectID()
				}
				id = s
			}
		}
		generated := id == ""
		if wb.err == nil && idErr == nil {
			if err := r.prepare(res, id); err != nil {
				return err
			}
		}
		var out map[string]any
		var stored storage.Object
		var existed bool
		var chain []permissions.Node
		// listPrecondition answers If-Match on the list: its timestamp.
		// always marks a creation, which any If-Match fails, "*"
		// included: the object it names does not exist (as in Kinto).
		listPrecondition := func(tx storage.Tx, always bool) error {
			if !pc.hasMatch || pc.matchAny && !always {
				return nil
			}
			lts, err := tx.Timestamp(ref)
			if err != nil {
				return err
			}
			if always || lts != pc.match {
				return PreconditionFailed(lts, nil)
			}
			return nil
		}
		created := newDataCopy(wb.data, storage.RawField(r.body, "data"))
		err := a.pipeline(r, steps{
			write: true,
			load: func(tx storage.Tx) (storage.Object, error) {
				if generated {
					id = ""
					if res.NewID != nil {
						id = res.NewID()
					}
				}
				chain = res.chain(m, id)
				if generated || idErr != nil {
					return nil, nil
				}
				// Under the list's lock, as PUT reads: a creation of the
				// same id committing meanwhile is then answered as the
				// object it created, not as a conflict.
				return loader(res, m, id)(tx)
			},
			authorize: func(tx storage.Tx, old storage.Object) error {
				existed = old != nil
				if res.PreWrite != nil {
					if err := res.PreWrite(r, tx, id, existed); err != nil {
						return err
					}
				}
				// An existing id answers the object to its readers;
				// otherwise the caller must be allowed to create.
				var ok bool
				var err error
				if existed {
					ok, err = r.allowed(tx, chain, a.readPerm(res))
				} else {
					ok, err = r.allowed(tx, chain[1:], res.Name+":create")
					if err == nil && !ok {
						return a.deniedCreation(r, tx, res, m, chain[1:], func() error {
							return errorsOf(checkIDs(res, m, false), perr, wb.err, idErr)
						})
					}
				}
				if err == nil && !ok {
					err = r.Deny()
				}
				return err
			},
			validate: func(tx storage.Tx, old storage.Object) error {
				if existed {
					return errorsOf(perr, wb.err)
				}
				if err := errorsOf(checkIDs(res, m, false), perr, wb.err, idErr); err != nil {
					return err
				}
				if id == "" {
					return Invalid("body", "data.id", "An id is required for this resource.")
				}
				return holdParents(tx, res, m)
			},
			preconditions: func(tx storage.Tx, old storage.Object) error {
				if !existed {
					return listPrecondition(tx, true)
				}
				if pc.hasNone && pc.noneAny {
					return a.shownPrecondition(r, tx, res, chain, PreconditionFailed(storage.LastModified(old), old), old)
				}
				return listPrecondition(tx, false)
			},
			execute: func(tx storage.Tx, old storage.Object) ([]*Event, error) {
				if existed {
					stored = old
					acl, err := tx.GetACL(chain[0].URI)
					if err != nil {
						return nil, err
					}
					out, err = a.objectBody(r, tx, res, chain, old, acl)
					return nil, err
				}
				newObj := created.take()
				newObj["id"] = id
				setSentTimestamp(newObj, wb.data, nil)
				acl := storage.ACL{}
				if wb.hasPerms {
					acl = wb.perms
				}
				var events []*Event
				var err error
				stored, out, events, err = a.store(r, tx, res, m, chain, nil, newObj, storage.ACL{}, acl)
				return events, err
			},
		})
		if err != nil {
			return err
		}
		r.SetETag(storage.LastModified(stored))
		if existed {
			return r.JSON(http.StatusOK, out)
		}
		return r.JSON(http.StatusCreated, out)
	}
}

// pluralDelete serves DELETE on a list: every matching object the caller
// may write (QRY-11).
func (a *App) pluralDelete(res *Resource) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := requestOf(c)
		m := pathIDs(c)
		ref := res.ref(m)
		pc, perr := parsePrecond(c.Request())
		perr = cmpErr(perr, r.unusedBodyError())
		var tombs []storage.Object
		var ts int64
		var next string
		var lq *listQuery
		var ids []string
		err := a.pipeline(r, steps{
			write: true,
			authorize: func(tx storage.Tx, _ storage.Object) (err error) {
				ids, err = a.listScope(r, tx, res, m, "write")
				return err
			},
			validate: func(tx storage.Tx, _ storage.Object) error {
				if e := checkIDs(res, m, false); e != nil {
					return e
				}
				if err := holdParents(tx, res, m); err != nil {
					return err
				}
				if lq == nil {
					var qerr *Error
					if lq, qerr = a.parseList(r, res, true); qerr != nil {
						return qerr
					}
				}
				return errorsOf(perr)
			},
			preconditions: func(tx storage.Tx, _ storage.Object) (err error) {
				if ts, err = tx.Timestamp(ref); err != nil {
					return err
				}
				if pc.hasNone && pc.noneAny || pc.hasMatch && !pc.matchAny && pc.match != ts {
					return PreconditionFailed(ts, nil)
				}
				return nil
			},
			execute: func(tx storage.Tx, _ storage.Object) ([]*Event, error) {
				tombs, next = nil, ""
				q := lq.q
				q.IDs = ids
				q.IncludeDeleted = false
				q.Limit = lq.pageSize + 1
				objs, err := tx.List(ref, q)
				if err != nil {
					return nil, err
				}
				if len(objs) > lq.pageSize {
					objs = objs[:lq.pageSize]
					next = a.encodeToken(objs[len(objs)-1], lq.q.Sort, len(objs), true, false)
				}
				ev := a.newEvent(r, res, "delete", m, res.listPrefix(m)[:len(res.listPrefix(m))-1], 0)
				for _, old := range objs {
					acl, err := tx.GetACL(res.objectURI(m, storage.ID(old)))
					if err != nil {
						return nil, err
					}
					tomb, err := a.deleteOne(r, tx, res, m, old, 0)
					if err != nil {
						return nil, err
					}
					tombs = append(tombs, tomb)
					ev.Impacted = append(ev.Impacted, Impacted{Old: old, New: tomb, Permissions: acl})
					if lm := storage.LastModified(tomb); lm > ev.Timestamp {
						ev.Timestamp = lm
					}
				}
				if len(tombs) == 0 {
					return nil, nil
				}
				return []*Event{ev}, nil
			},
		})
		if err != nil {
			return err
		}
		etag := ts
		for _, t := range tombs {
			if lm := storage.LastModified(t); lm > etag {
				etag = lm
			}
		}
		r.SetETag(etag)
		if next != "" {
			r.ResponseHeader().Set("Next-Page", a.nextPageURL(r, next, lq.pageSize))
		}
		if tombs == nil {
			tombs = []storage.Object{}
		}
		return r.JSON(http.StatusOK, map[string]any{"data": tombs})
	}
}

// pageBytes is the bound of r's list page: page_max_bytes, or a batch's
// share of it for a sub-request (batchState.pageBytes).
func (a *App) pageBytes(r *Request) int {
	if bs, ok := r.Ctx().Value(batchKey{}).(*batchState); ok {
		return bs.pageBytes
	}
	return a.opts.pageMaxBytes
}

// setNextPage sets the Next-Page link of a page of n objects that more
// may follow: a full page, or one ended at page_max_bytes.
func (a *App) setNextPage(r *Request, lq *listQuery, last storage.Object, n int) {
	offset := 0
	if lq.token != nil {
		offset = lq.token.Offset
	}
	tok := a.encodeToken(last, lq.q.Sort, offset+n, false, true)
	r.ResponseHeader().Set("Next-Page", a.nextPageURL(r, tok, lq.pageSize))
}

// writeRaw answers a page from stored JSON, adding Next-Page when there
// are more rows (only the last row of the page is decoded, for the token).
func (a *App) writeRaw(r *Request, lq *listQuery, raws [][]byte, cut bool) error {
	if len(raws) > lq.pageSize {
		raws = raws[:lq.pageSize]
		cut = true
	}
	if cut && len(raws) > 0 {
		v, err := storage.DecodeJSON(raws[len(raws)-1])
		last, ok := v.(map[string]any)
		if err != nil || !ok {
			return Internal()
		}
		a.setNextPage(r, lq, last, len(raws))
	}
	n := 10
	for _, b := range raws {
		n += len(b) + 1
	}
	out := make([]byte, 0, n)
	out = append(out, `{"data":[`...)
	for i, b := range raws {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, b...)
	}
	out = append(out, "]}"...)
	r.ResponseHeader().Set("Content-Type", "application/json")
	return r.Blob(http.StatusOK, "application/json", out)
}
