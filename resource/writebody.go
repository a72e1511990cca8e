package resource

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/nimbus-server/nimbus/storage"
)

// writeBody is a decoded {"data", "permissions"} request body. Its error
// is reported only after authorization (CORE-21).
type writeBody struct {
	data     map[string]any
	perms    storage.ACL
	hasData  bool
	hasPerms bool
	err      *Error
}

func (a *App) parseWriteBody(r *Request, res *Resource) writeBody {
	var wb writeBody
	body, err := r.BodyObject()
	if err != nil {
		wb.err = err
		return wb
	}
	if wb.err = unrecognized(body, "", isBodyKey); wb.err != nil {
		return wb
	}
	if d, ok := body["data"]; ok {
		m, isObj := d.(map[string]any)
		if !isObj {
			wb.err = Invalid("body", "data", "data must be an object")
			return wb
		}
		wb.data, wb.hasData = m, true
	}
	if p, ok := body["permissions"]; ok {
		wb.perms, wb.err = a.parsePermissions(res, p, false)
		// An object of no permission ({}, or only nulls) is no
		// permissions at all, as Kinto reads it: a PUT keeps the ACL
		// rather than emptying it (another writer's grant, or every
		// writer's when an anonymous caller replaces a public object).
		wb.hasPerms = len(wb.perms) > 0 || wb.err != nil
	}
	if wb.err == nil && res.CheckBody != nil {
		wb.err = res.CheckBody(r, wb.data, wb.hasData)
	}
	return wb
}

// parsePermissions validates a permissions object. With allowNull, a null
// entry is kept as a nil list (merge-patch removal).
func (a *App) parsePermissions(res *Resource, v any, allowNull bool) (storage.ACL, *Error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, Invalid("body", "permissions", "permissions must be an object")
	}
	names := a.Tree.Names(res.Name)
	acl := storage.ACL{}
	// In a fixed order, so that a body with several faults always gets
	// the same error.
	for _, perm := range slices.Sorted(maps.Keys(m)) {
		list := m[perm]
		known := slices.Contains(names, perm)
		if list == nil {
			// Kinto drops a null entry before it checks the name:
			// clearing a permission the object cannot have is no change.
			if allowNull && known {
				acl[perm] = nil
			}
			continue
		}
		if !known {
			return nil, Invalid("body", "permissions."+perm, fmt.Sprintf("%q is not a valid permission name for %s (use one of %s)", perm, res.Name, strings.Join(names, ", ")))
		}
		items, ok := list.([]any)
		if !ok {
			return nil, Invalid("body", "permissions."+perm, ValueText(list)+" is not iterable")
		}
		principals := []string{}
		// A principal named twice is one entry, as Kinto keeps a set:
		// the answer shows what a read will.
		seen := make(map[string]bool, len(items))
		for i, it := range items {
			// Each principal's error names it, as Kinto's does
			// (permissions.read.0); null and "" are no principal at all.
			name := "permissions." + perm + "." + strconv.Itoa(i)
			s, ok := it.(string)
			switch {
			case it == nil || s == "" && ok:
				return nil, Invalid("body", name, "Required")
			case !ok:
				return nil, Invalid("body", name, ValueText(it)+" is not a string")
			case len(s) > MaxPrincipalBytes:
				return nil, Invalid("body", name, fmt.Sprintf("principals are at most %d bytes long", MaxPrincipalBytes))
			}
			if !seen[s] {
				seen[s] = true
				principals = append(principals, s)
			}
		}
		acl[perm] = principals
	}
	return acl, nil
}

// withOwner adds the writer to the ACL's write entry (RES-15).
func (a *App) withOwner(r *Request, res *Resource, obj storage.Object, acl storage.ACL) storage.ACL {
	owner := r.identity.UserID
	if res.Owner != nil {
		owner = res.Owner(r, obj)
	} else if !a.opts.explicitPerms {
		owner = ""
	}
	if owner == "" {
		return acl
	}
	out := storage.ACL{}
	for k, v := range acl {
		out[k] = v
	}
	if !slices.Contains(out["write"], owner) {
		out["write"] = append(append([]string{}, out["write"]...), owner)
	}
	return out
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

// dataCopy is a body's data copied, with the client's key order, before
// the write transaction: for a body of megabytes the copy and the reading
// of its text take a tenth of a second that bolt's one writer (or a
// PostgreSQL group holding its list) would otherwise wait for. The
// transaction's first run takes that copy; a run again (a conflict, a
// PostgreSQL group run again) makes its own, as the first may have been
// changed.
type dataCopy struct {
	data  storage.Object
	text  []byte
	ready storage.Object
}

func newDataCopy(data storage.Object, text []byte) *dataCopy {
	d := &dataCopy{data: data, text: text}
	d.ready = d.make()
	return d
}

func (d *dataCopy) make() storage.Object {
	return storage.WithClientOrder(copyData(d.data), d.text)
}

// take returns the copy made ahead the first time, a new one afterwards.
func (d *dataCopy) take() storage.Object {
	if o := d.ready; o != nil {
		d.ready = nil
		return o
	}
	return d.make()
}

// isBodyKey tells the top-level keys of a write's body.
func isBodyKey(k string) bool { return k == "data" || k == "permissions" }

// unrecognized is the 400 for the keys of m that known refuses (nil when
// there is none): every such key is listed, sorted, and the first one is
// named (after prefix), so that a body with several gets the same answer
// every time.
func unrecognized(m map[string]any, prefix string, known func(string) bool) *Error {
	var unknown []string
	for k := range m {
		if !known(k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return Invalid("body", prefix+unknown[0], "Unrecognized keys: "+strings.Join(unknown, ", "))
}
