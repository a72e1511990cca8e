package resource

import (
	"mime"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/nimbus-server/nimbus/storage"
)

// patchDoc is what a PATCH produces: the new data and the new ACL.
type patchDoc struct {
	data storage.Object
	acl  storage.ACL
}

// objectPatch serves PATCH in its three forms (RES-10).
func (a *App) objectPatch(res *Resource) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := requestOf(c)
		m := pathIDs(c)
		id := m[res.Name+"_id"]
		chain := res.chain(m, id)
		pc, perr := parsePrecond(c.Request())
		ct, _, _ := mime.ParseMediaType(c.Request().Header.Get("Content-Type"))
		behavior := strings.ToLower(c.Request().Header.Get("Response-Behavior"))
		var out map[string]any
		var stored storage.Object
		var sent map[string]any
		var doc patchDoc
		var oldACL storage.ACL
		headerErrors := func() *Error {
			if perr != nil {
				return perr
			}
			if behavior != "" && behavior != "full" && behavior != "light" && behavior != "diff" {
				return Invalid("header", "Response-Behavior", "Response-Behavior should be one of full, light, diff")
			}
			return nil
		}
		if err := r.prepare(res, id); err != nil {
			return err
		}
		err := a.pipeline(r, steps{
			write: true,
			load:  loader(res, m, id),
			authorize: a.authorizeWrite(r, runner{}, res, m, id, func() *Error {
				if bad := headerErrors(); bad != nil {
					return bad
				}
				if ct == "application/json-patch+json" {
					return jsonPatchShape(r.body)
				}
				_, bad := a.readMergeBody(r, res, ct == "application/merge-patch+json")
				return bad
			}),
			validate: func(tx storage.Tx, old storage.Object) (err error) {
				if bad := headerErrors(); bad != nil {
					return bad
				}
				if oldACL, err = tx.GetACL(chain[0].URI); err != nil {
					return err
				}
				var bad *Error
				if ct == "application/json-patch+json" {
					// Every operation's shape first, as for a missing
					// object: a later bad one is reported before an
					// earlier one fails to apply.
					if bad = jsonPatchShape(r.body); bad != nil {
						return bad
					}
					doc, bad = a.jsonPatch(r, res, old, oldACL)
				} else {
					doc, sent, bad = a.mergePatch(r, res, old, oldACL, ct == "application/merge-patch+json")
				}
				if bad != nil {
					return bad
				}
				return nil
			},
			preconditions: a.writePreconditions(r, res, m, id, pc),
			execute: func(tx storage.Tx, old storage.Object) ([]*Event, error) {
				if v, ok := doc.data["id"]; ok && v != id {
					return nil, Invalid("body", "id", "Object id does not match existing object")
				}
				newObj := copyData(doc.data)
				newObj["id"] = id
				setSentTimestamp(newObj, doc.data, old)
				var events []*Event
				var err error
				stored, out, events, err = a.store(r, tx, res, m, chain, old, newObj, oldACL, doc.acl)
				if err == nil && behavior != "" && behavior != "full" {
					out["data"] = changed(old, stored, sent, behavior == "diff")
				}
				return events, err
			},
		})
		if err != nil {
			return err
		}
		r.SetETag(storage.LastModified(stored))
		return r.JSON(http.StatusOK, out)
	}
}

// changed returns the fields whose value changed (light), or those whose
// stored value also differs from what the client sent (diff).
func changed(old, stored storage.Object, sent map[string]any, diff bool) storage.Object {
	out := storage.Object{}
	for k, v := range stored {
		if ov, ok := old[k]; ok && storage.Equal(ov, v) {
			continue
		}
		if diff {
			if sv, ok := sent[k]; ok && storage.Equal(sv, v) {
				continue
			}
		}
		out[k] = v
	}
	return out
}

// mergeBody is a plain JSON or merge-patch body, read and checked.
type mergeBody struct {
	data              map[string]any
	perms             storage.ACL
	hasData, hasPerms bool
}

// readMergeBody reads and checks a plain JSON or merge-patch body without
// the stored object: whether it asks for any change is the caller's
// question (Kinto answers that only once the object is found).
func (a *App) readMergeBody(r *Request, res *Resource, rfc7396 bool) (mergeBody, *Error) {
	var mb mergeBody
	body, err := r.BodyObject()
	if err != nil {
		return mb, err
	}
	if err := unrecognized(body, "", isBodyKey); err != nil {
		return mb, err
	}
	_, mb.hasData = body["data"]
	_, mb.hasPerms = body["permissions"]
	if mb.hasData {
		d, ok := body["data"].(map[string]any)
		if !ok {
			return mb, Invalid("body", "data", "data must be an object")
		}
		mb.data = d
	}
	if mb.hasPerms {
		perms, perr := a.parsePermissions(res, body["permissions"], rfc7396)
		if perr != nil {
			return mb, perr
		}
		mb.perms = perms
	}
	return mb, nil
}

// mergePatch applies a plain JSON or a merge-patch body.
func (a *App) mergePatch(r *Request, res *Resource, old storage.Object, oldACL storage.ACL, rfc7396 bool) (patchDoc, map[string]any, *Error) {
	mb, bad := a.readMergeBody(r, res, rfc7396)
	if bad != nil {
		return patchDoc{}, nil, bad
	}
	if !mb.hasData && !mb.hasPerms {
		return patchDoc{}, nil, Invalid("body", "", "Provide at least one of data or permissions")
	}
	data := copyData(old)
	if mb.hasData {
		if rfc7396 {
			data = mergeRFC7396(data, mb.data)
		} else {
			for k, v := range mb.data {
				data[k] = v
			}
		}
		if lm, ok := mb.data["last_modified"]; ok {
			data["last_modified"] = lm
		}
		// Existing keys keep their place; new ones follow in the order
		// they were sent.
		storage.ThenClientOrder(data, storage.RawField(r.body, "data"))
	}
	acl := storage.ACL{}
	for k, v := range oldACL {
		acl[k] = v
	}
	for k, v := range mb.perms {
		if v == nil {
			delete(acl, k)
		} else {
			acl[k] = v
		}
	}
	return patchDoc{data: data, acl: acl}, mb.data, nil
}

// mergeRFC7396 merges patch into target: sub-objects recursively, null
// removes a key.
func mergeRFC7396(target map[string]any, patch map[string]any) map[string]any {
	out := make(map[string]any, len(target))
	for k, v := range target {
		out[k] = v
	}
	for k, v := range patch {
		if v == nil {
			delete(out, k)
			continue
		}
		if pm, ok := v.(map[string]any); ok {
			tm, _ := out[k].(map[string]any)
			if tm == nil {
				tm = map[string]any{}
			}
			out[k] = mergeRFC7396(tm, pm)
			continue
		}
		out[k] = v
	}
	return out
}
