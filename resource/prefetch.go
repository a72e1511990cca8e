package resource

import (
	"net/http"
	"strings"

	"github.com/nimbus-server/nimbus/storage"
)

// prefetch reads ahead, in one go per list, the objects a batch's
// sub-requests are about to write (PUT, PATCH or DELETE of one object),
// when the transaction reads an object for a write in a round trip of its
// own (storage.Prefetcher: PostgreSQL), with their ACLs. Each sub-request
// then reads what its own reads would have returned, without the round
// trips: a batch of 25 PUTs (kinto.js's sync) costs one read instead of
// 50. A path the router does not send to a declared resource's object
// route is left to its own reads.
func (a *App) prefetch(tx storage.Tx, subs []subRequest) error {
	p, ok := tx.(storage.Prefetcher)
	if !ok || len(subs) < 2 {
		return nil
	}
	var order []storage.Ref
	ids := map[storage.Ref][]string{}
	uris := map[storage.Ref]func(string) string{}
	seen := map[string]bool{}
	// Lists are locked in the order the sub-requests would lock them, up
	// to the first write that is not one object's (a POST, a list's
	// DELETE): a different order could deadlock with another writer.
collect:
	for _, s := range subs {
		switch s.method {
		case http.MethodGet, http.MethodHead:
			continue
		case http.MethodPut, http.MethodPatch, http.MethodDelete:
		default:
			break collect
		}
		res, m, id, ok := a.objectOf(s.method, s.path)
		if !ok {
			break
		}
		ref := res.ref(m)
		if key := ref.Resource + "\x00" + ref.Parent + "\x00" + id; !seen[key] {
			seen[key] = true
			if ids[ref] == nil {
				order = append(order, ref)
				uris[ref] = func(id string) string { return res.objectURI(m, id) }
			}
			ids[ref] = append(ids[ref], id)
		}
	}
	for _, ref := range order {
		if err := p.PrefetchForUpdate(ref, ids[ref], uris[ref]); err != nil {
			return err
		}
	}
	return nil
}

// objectOf places a sub-request's path (/v1/…, with or without a query)
// on the object route of a declared resource, as the router does (a
// plugin's own route, the personal bucket's alias, is not one): the
// resource, the route's parameters and the object's id.
func (a *App) objectOf(method, path string) (*Resource, matchdict, string, bool) {
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	if a.Echo == nil {
		return nil, nil, "", false
	}
	c := a.Echo.NewContext(nil, nil)
	a.Echo.Router().Find(method, path, c)
	for _, res := range a.resources {
		if c.Path() != "/v1"+res.objectPath() {
			continue
		}
		m := matchdict{}
		for i, name := range c.ParamNames() {
			m[name] = c.ParamValues()[i]
		}
		id := m[res.Name+"_id"]
		return res, m, id, id != ""
	}
	return nil, nil, "", false
}
