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
		if res.Prepare != nil {
			if err := res.Prepare(r, id); err != nil {
				return err
			}
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
				_, _, bad := a.mergePatch(r, res, storage.Object{}, nil, ct == "application/merge-patch+json")
				if d, ok := errorDetail(bad); ok && d == nothingToPatch {
					// Kinto refuses an empty patch in its view, once the
					// object is found.
					return nil
				}
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
					return nil, Invalid("body", "data.id", "Object id does not match existing object")
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

// nothingToPatch refuses a merge patch with neither data nor permissions.
const nothingToPatch = "Provide at least one of data or permissions"

// errorDetail returns the description of a validation error's first
// detail.
func errorDetail(e *Error) (string, bool) {
	if e == nil {
		return "", false
	}
	ds, ok := e.Details.([]map[string]any)
	if !ok || len(ds) == 0 {
		return "", false
	}
	d, ok := ds[0]["description"].(string)
	return d, ok
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

// mergePatch applies a plain JSON or a merge-patch body.
func (a *App) mergePatch(r *Request, res *Resource, old storage.Object, oldACL storage.ACL, rfc7396 bool) (patchDoc, map[string]any, *Error) {
	body, err := r.BodyObject()
	if err != nil {
		return patchDoc{}, nil, err
	}
	for k := range body {
		if k != "data" && k != "permissions" {
			return patchDoc{}, nil, Invalid("body", k, "Unrecognized keys: "+k)
		}
	}
	_, hasData := body["data"]
	_, hasPerms := body["permissions"]
	if !hasData && !hasPerms {
		return patchDoc{}, nil, Invalid("body", "", nothingToPatch)
	}
	data := copyData(old)
	var sent map[string]any
	if hasData {
		d, ok := body["data"].(map[string]any)
		if !ok {
			return patchDoc{}, nil, Invalid("body", "data", "data must be an object")
		}
		sent = d
		if rfc7396 {
			data = mergeRFC7396(data, d)
		} else {
			for k, v := range d {
				data[k] = v
			}
		}
		if lm, ok := d["last_modified"]; ok {
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
	if hasPerms {
		perms, perr := a.parsePermissions(res, body["permissions"], rfc7396)
		if perr != nil {
			return patchDoc{}, nil, perr
		}
		for k, v := range perms {
			if v == nil {
				delete(acl, k)
			} else {
				acl[k] = v
			}
		}
	}
	return patchDoc{data: data, acl: acl}, sent, nil
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
