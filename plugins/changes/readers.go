package changes

import (
	"errors"
	"slices"
	"strings"

	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// Who could read a deleted object. A reader who holds grants on some
// objects of a list only (not the list) receives a deletion when they
// could read the object until it was deleted. A live stream remembers
// what its reader could read; a stream that starts or resumes later
// (_since, Last-Event-ID) cannot, since a deleted object's ACL is gone.
// So each deletion leaves, in the same transaction, the principals the
// object's own ACL named, under its list's parent (a deleted collection
// or bucket takes them along); a catch-up reads them beside the
// tombstone.

// readersRef is where the readers of the deleted objects of the list
// ref are kept.
func readersRef(ref storage.Ref) storage.Ref {
	return storage.Ref{Resource: "changes_deleted_readers", Parent: ref.Parent + "/" + ref.Resource}
}

// noteReaders keeps the principals of each deleted object's own ACL.
func (p *Plugin) noteReaders(tx storage.Tx, ev *resource.Event) error {
	if ev.Request == nil {
		return nil
	}
	for _, imp := range ev.Impacted {
		var principals []any
		for _, perm := range []string{"read", "write"} {
			for _, pr := range imp.Permissions[perm] {
				principals = append(principals, pr)
			}
		}
		id := storage.ID(imp.New)
		if len(principals) == 0 || id == "" {
			continue
		}
		uri := ev.URI
		if !strings.HasSuffix(uri, "/"+id) {
			uri += "/" + id // a plural delete names its list
		}
		loc, ok := ev.Request.Objects().Locate(uri)
		if !ok {
			continue
		}
		entry := storage.Object{"id": id, "deleted_at": storage.LastModified(imp.New), "principals": principals}
		if _, err := tx.Replace(readersRef(loc.Ref), entry); err != nil {
			return err
		}
	}
	return nil
}

// couldRead tells whether one of principals could read the object the
// tombstone tomb of list ref deleted.
func couldRead(tx storage.Tx, ref storage.Ref, tomb storage.Object, principals []string) (bool, error) {
	entry, err := tx.Get(readersRef(ref), storage.ID(tomb))
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if at, _ := storage.Int(entry["deleted_at"]); at != storage.LastModified(tomb) {
		return false, nil // the entry of an earlier deletion of the same id
	}
	list, _ := entry["principals"].([]any)
	for _, pr := range list {
		if s, ok := pr.(string); ok && slices.Contains(principals, s) {
			return true, nil
		}
	}
	return false, nil
}
