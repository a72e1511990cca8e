package resource

import (
	"fmt"
	"net/http"
	"time"

	"github.com/nimbus-server/nimbus/permissions"
	"github.com/nimbus-server/nimbus/storage"
)

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

// cacheHeaders sets the client cache headers of RES-18 on a GET: no-cache,
// no-store unless an anonymous caller reads what a setting or the
// collection's cache_expires lets clients keep.
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
		// Nothing to cache for: as for authenticated callers, as Kinto
		// 26.2 answers (without it, a browser may cache a public list
		// heuristically, from its Last-Modified, and show it stale).
		h.Set("Cache-Control", "no-cache, no-store")
		return
	}
	if n <= 0 {
		noCache(h)
		return
	}
	h.Set("Cache-Control", fmt.Sprintf("max-age=%d", n))
	h.Set("Expires", httpDate(Now()+int64(n)*1000))
}

func httpDate(ms int64) string { return time.UnixMilli(ms).UTC().Format(http.TimeFormat) }
