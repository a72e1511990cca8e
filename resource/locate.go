package resource

import (
	"strings"

	"github.com/nimbus-server/nimbus/storage"
)

// Location is what a URI names: its resource, list and ids.
type Location struct {
	Resource *Resource
	Ref      storage.Ref
	ID       string
	// IDs holds "<resource>_id" for the object and each ancestor.
	IDs map[string]string
}

// Locate parses an object URI ("/buckets/b/collections/c") against the
// declared resources.
func (a *App) Locate(uri string) (Location, bool) {
	parts := strings.Split(strings.Trim(uri, "/"), "/")
	if len(parts) < 2 || len(parts)%2 != 0 {
		return Location{}, false
	}
	var cur *Resource
	ids := matchdict{}
	for i := 0; i < len(parts); i += 2 {
		var next *Resource
		for _, r := range a.resourceOrder {
			if r.Plural == parts[i] && r.parent == cur {
				next = r
				break
			}
		}
		if next == nil || parts[i+1] == "" {
			return Location{}, false
		}
		cur = next
		ids[cur.Name+"_id"] = parts[i+1]
	}
	id := ids[cur.Name+"_id"]
	return Location{Resource: cur, Ref: cur.ref(ids), ID: id, IDs: ids}, true
}
