package resource

import (
	"errors"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
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
	// The router may hand a trailing segment to the last parameter
	// ("records/r/extra"): no id holds a slash, so no route serves it.
	for _, v := range m {
		if strings.Contains(v, "/") {
			return ErrUnknownURL()
		}
	}
	for _, p := range res.ancestors() {
		if !p.idOK(m[p.Name+"_id"]) {
			return InvalidObjectID()
		}
	}
	if withObject && !res.idOK(m[res.Name+"_id"]) {
		return InvalidObjectID()
	}
	return nil
}

// parents checks that every ancestor object exists, from the top down.
// A missing one is answered 404 errno 111 naming the object's parent (a
// record in a missing bucket names its collection, as Kinto does: the
// parent is missing too). With full, it also returns them by resource
// name; otherwise only existence is checked, which needs no decoding.
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
				return nil, missingParent(anc, m)
			}
			continue
		}
		obj, err := tx.Get(p.ref(m), id)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, missingParent(anc, m)
		}
		if err != nil {
			return nil, err
		}
		out[p.Name] = obj
	}
	return out, nil
}

// holdParents is parents for a write under them (POST, PUT, PATCH and
// DELETE on a list): where writes to different lists run side by side,
// the ancestors are read once the transaction holds them against their
// deletion, so that nothing is written under a parent deleted meanwhile
// (storage.ParentHolder); the list written may be locked in the same
// step.
func holdParents(tx storage.Tx, res *Resource, m matchdict) error {
	anc := res.ancestors()
	if len(anc) == 0 {
		return nil
	}
	objs := make([]storage.Held, len(anc))
	for i := range anc {
		p := anc[len(anc)-1-i]
		objs[i] = storage.Held{List: p.ref(m), ID: m[p.Name+"_id"]}
	}
	live, err := storage.HoldParents(tx, objs, res.ref(m))
	if err != nil {
		return err
	}
	if slices.Contains(live, false) {
		return missingParent(anc, m)
	}
	return nil
}

// missingParent is the 404 of a request under a missing ancestor: it names
// the nearest one, the object's parent (anc[0]).
func missingParent(anc []*Resource, m matchdict) *Error {
	return MissingParent(anc[0].Name, m[anc[0].Name+"_id"])
}

func getOrNil(tx storage.Tx, ref storage.Ref, id string) (storage.Object, error) {
	o, err := tx.Get(ref, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	return o, err
}
