package resource

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/nimbus-server/nimbus/permissions"
	"github.com/nimbus-server/nimbus/storage"
)

// pathIDs reads the ids of the URL path (decoded once by decodeParams).
func pathIDs(c echo.Context) matchdict {
	m := matchdict{}
	for i, n := range c.ParamNames() {
		m[n] = c.ParamValues()[i]
	}
	return m
}

// checkIDs validates the ids of the path (400 errno 107, location path).
func checkIDs(res *Resource, m matchdict, withObject bool) *Error {
	for _, p := range res.ancestors() {
		if !p.idOK(m[p.Name+"_id"]) {
			return Invalid("path", "id", "Invalid object id")
		}
	}
	if withObject && !res.idOK(m[res.Name+"_id"]) {
		return Invalid("path", "id", "Invalid object id")
	}
	return nil
}

// parents checks that every ancestor object exists, from the top down
// (404 errno 111 for the first missing). With full, it also returns them
// by resource name; otherwise only existence is checked, which needs no
// decoding.
func parents(tx storage.Tx, res *Resource, m matchdict, full ...bool) (map[string]storage.Object, error) {
	anc := res.ancestors()
	out := make(map[string]storage.Object, len(anc))
	for i := len(anc) - 1; i >= 0; i-- {
		p := anc[i]
		id := m[p.Name+"_id"]
		if len(full) == 0 || !full[0] {
			ok, err := tx.Exists(p.ref(m), id)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, MissingParent(p.Name, id)
			}
			continue
		}
		obj, err := tx.Get(p.ref(m), id)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, MissingParent(p.Name, id)
		}
		if err != nil {
			return nil, err
		}
		out[p.Name] = obj
	}
	return out, nil
}

// memoTx remembers the ACLs read during one read-only transaction, since
// answering one request reads the same ACLs several times.
type memoTx struct {
	storage.Tx
	acls map[string]storage.ACL
}

func memo(tx storage.Tx) storage.Tx {
	if _, ok := tx.(*memoTx); ok {
		return tx
	}
	return &memoTx{Tx: tx, acls: map[string]storage.ACL{}}
}

func (m *memoTx) GetACL(uri string) (storage.ACL, error) {
	if acl, ok := m.acls[uri]; ok {
		return acl, nil
	}
	acl, err := m.Tx.GetACL(uri)
	if err == nil {
		m.acls[uri] = acl
	}
	return acl, err
}

// ListRaw forwards to the transaction when it is a storage.RawLister.
func (m *memoTx) ListRaw(ref storage.Ref, q storage.Query) ([][]byte, bool, error) {
	if rl, ok := m.Tx.(storage.RawLister); ok {
		return rl.ListRaw(ref, q)
	}
	return nil, false, nil
}

func (m *memoTx) GetACLs(uris []string) (map[string]storage.ACL, error) {
	out := make(map[string]storage.ACL, len(uris))
	for _, u := range uris {
		acl, err := m.GetACL(u)
		if err != nil {
			return nil, err
		}
		if len(acl) > 0 {
			out[u] = acl
		}
	}
	return out, nil
}

// allowed checks one permission for the request's principals.
func (r *Request) allowed(tx storage.Tx, chain []permissions.Node, perm string) (bool, error) {
	ps, err := r.Principals(tx)
	if err != nil {
		return false, err
	}
	return r.app.Authorizer.Allowed(tx, ps, chain, perm)
}

// Allowed tells whether the caller holds perm on the object of resource
// resName whose chain of URIs is given by ids (for plugins' routes).
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

// precond holds the conditional request headers.
type precond struct {
	match, none       int64
	hasMatch, hasNone bool
	matchAny, noneAny bool
}

func parsePrecond(req *http.Request) (precond, *Error) {
	var p precond
	parse := func(name string) (int64, bool, bool, *Error) {
		v := strings.TrimSpace(req.Header.Get(name))
		if v == "" {
			return 0, false, false, nil
		}
		if v == "*" {
			return 0, true, true, nil
		}
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			if n, err := strconv.ParseInt(v[1:len(v)-1], 10, 64); err == nil {
				return n, true, false, nil
			}
		}
		return 0, false, false, Invalid("header", name, "The value should be integer between double quotes.")
	}
	var err *Error
	if p.match, p.hasMatch, p.matchAny, err = parse("If-Match"); err != nil {
		return p, err
	}
	if p.none, p.hasNone, p.noneAny, err = parse("If-None-Match"); err != nil {
		return p, err
	}
	return p, nil
}

// checkObject applies the preconditions to an existing object (nil when
// missing) for a write; it returns the 412 to answer, if any.
func (p precond) checkWrite(current storage.Object, listTS int64) *Error {
	if current == nil {
		if p.hasMatch {
			return PreconditionFailed(listTS, nil)
		}
		return nil
	}
	ts := storage.LastModified(current)
	if p.hasMatch && !p.matchAny && p.match != ts {
		return PreconditionFailed(ts, current)
	}
	if p.hasNone && p.noneAny {
		return PreconditionFailed(ts, current)
	}
	return nil
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
	var unknown []string
	for k := range body {
		if k != "data" && k != "permissions" {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		wb.err = Invalid("body", unknown[0], "Unrecognized keys: "+strings.Join(unknown, ", "))
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
		wb.hasPerms = true
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
	for perm, list := range m {
		if !contains(names, perm) {
			return nil, Invalid("body", "permissions."+perm, fmt.Sprintf("%q is not a valid permission name for %s (use one of %s)", perm, res.Name, strings.Join(names, ", ")))
		}
		if list == nil {
			if allowNull {
				acl[perm] = nil
			}
			continue
		}
		items, ok := list.([]any)
		if !ok {
			return nil, Invalid("body", "permissions."+perm, fmt.Sprintf("%v is not iterable", list))
		}
		principals := []string{}
		for _, it := range items {
			s, ok := it.(string)
			if !ok {
				return nil, Invalid("body", "permissions."+perm, fmt.Sprintf("%v is not a string", it))
			}
			if len(s) > MaxPrincipalBytes {
				return nil, Invalid("body", "permissions."+perm, fmt.Sprintf("principals are at most %d bytes long", MaxPrincipalBytes))
			}
			principals = append(principals, s)
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
	if !contains(out["write"], owner) {
		out["write"] = append(append([]string{}, out["write"]...), owner)
	}
	return out
}

// objectBody builds {"data", "permissions"}; permissions are shown only to
// callers with write on the object (PERM-10).
func (a *App) objectBody(r *Request, tx storage.Tx, res *Resource, chain []permissions.Node, obj storage.Object, acl storage.ACL) (map[string]any, error) {
	perms := map[string]any{}
	canWrite, err := r.allowed(tx, chain, "write")
	if err != nil {
		return nil, err
	}
	if canWrite {
		for k, v := range acl {
			if len(v) > 0 {
				perms[k] = v
			}
		}
	}
	if res.ReadFilter != nil {
		obj = res.ReadFilter(r, obj)
	}
	return map[string]any{"data": obj, "permissions": perms}, nil
}

// cacheHeaders sets the client cache headers of RES-18 on a GET.
func (a *App) cacheHeaders(r *Request, res *Resource, m matchdict, parentObjs map[string]storage.Object) {
	h := r.ResponseHeader()
	if r.Authenticated() {
		h.Set("Cache-Control", "no-cache, no-store")
		return
	}
	s := a.Settings
	n, ok := -1, false
	if res.Name == "record" {
		bid, cid := m["bucket_id"], m["collection_id"]
		for _, key := range []string{bid + "." + cid + ".record_cache_expires_seconds", bid + ".record_cache_expires_seconds",
			"record_cache_expires_seconds", bid + "_" + cid + "_record_cache_expires_seconds", bid + "_record_cache_expires_seconds"} {
			if n, ok = s.Int(key); ok {
				break
			}
		}
		if col := parentObjs["collection"]; col != nil {
			if ce, isInt := storage.Int(col["cache_expires"]); isInt && (!ok || int(ce) > n) {
				n, ok = int(ce), true
			}
		}
	} else {
		n, ok = s.Int(res.Name + "_cache_expires_seconds")
	}
	if !ok {
		return
	}
	if n <= 0 {
		noCache(h)
		return
	}
	h.Set("Cache-Control", fmt.Sprintf("max-age=%d", n))
	h.Set("Expires", httpDate(Now()+int64(n)*1000))
}
