package cli

import (
	"fmt"

	"github.com/nimbus-server/nimbus/storage"
)

// importStats is what an import did.
type importStats struct {
	written, skipped, tombstones int
	// kept counts objects of the target that an import from a server
	// left alone: they were not copied from that server (see fromHTTP).
	kept int
	// noPerms counts objects copied without the permissions the source
	// did not show; missing names the first ones.
	noPerms int
	missing []string
}

// write stores one copied object, or tombstone, with its ACL, as both
// imports do, and counts it. A tombstone keeps its timestamp, and so the
// list's timestamp (its ETag) is the source's; a backend that cannot
// write one skips it. A group's memberships are rebuilt from its members,
// as the group resource keeps them.
func (st *importStats) write(tx storage.Tx, ref storage.Ref, uri string, obj storage.Object, acl storage.ACL) error {
	if storage.IsDeleted(obj) {
		tw, ok := tx.(storage.TombstoneWriter)
		if !ok {
			st.skipped++
			return nil
		}
		if _, err := tw.WriteTombstone(ref, storage.ID(obj), storage.LastModified(obj)); err != nil {
			return err
		}
		if err := tx.DeleteACLs(uri); err != nil {
			return err
		}
		st.tombstones++
		return nil
	}
	if _, err := tx.Replace(ref, obj); err != nil {
		return fmt.Errorf("%s: %w", uri, err)
	}
	if err := tx.SetACL(uri, acl); err != nil {
		return err
	}
	if ref.Resource == "group" {
		if err := tx.RemovePrincipal(uri); err != nil {
			return err
		}
		members, _ := obj["members"].([]any)
		for _, m := range members {
			if p, ok := m.(string); ok {
				if err := tx.AddUserPrincipal(p, uri); err != nil {
					return err
				}
			}
		}
	}
	st.written++
	return nil
}

// bulkList tells whether the lines of ref are written with the backend's
// bulk writes (storage.BulkWriter). Groups go one by one: their members
// become memberships.
func bulkList(tx storage.Tx, ref storage.Ref) bool {
	_, bulk := tx.(storage.BulkWriter)
	return bulk && ref.Resource != "group"
}

// writeList writes the lines of one list: in bulk where the backend
// offers it (bulkList), else one by one. A bulk list's lines the target
// holds already (same version) are skipped by the backend and counted
// here.
func (st *importStats) writeList(tx storage.Tx, ref storage.Ref, plural string, lines []line) error {
	uri := func(id string) string { return ref.Parent + "/" + plural + "/" + id }
	if !bulkList(tx, ref) {
		for _, l := range lines {
			if err := st.write(tx, ref, uri(storage.ID(l.Data)), l.Data, l.Permissions); err != nil {
				return err
			}
		}
		return nil
	}
	objs := make([]storage.BulkObject, len(lines))
	for i, l := range lines {
		objs[i] = storage.BulkObject{Object: l.Data, ACL: l.Permissions, Prepared: l.prepared, SkipSame: true}
	}
	if err := tx.(storage.BulkWriter).WriteMany(ref, objs, uri); err != nil {
		return err
	}
	for _, o := range objs {
		if o.Skipped {
			st.skipped++
		} else if storage.IsDeleted(o.Object) {
			st.tombstones++
		} else {
			st.written++
		}
	}
	return nil
}

// add adds the counts of another run.
func (st *importStats) add(o importStats) {
	st.written += o.written
	st.skipped += o.skipped
	st.tombstones += o.tombstones
	st.kept += o.kept
	st.noPerms += o.noPerms
	if len(st.missing) == 0 {
		st.missing = o.missing
	}
}

// prepare has the backend do its per-object work of a page's bulk writes
// ahead of the page's transaction (storage.BulkPreparer).
func prepare(bp storage.BulkPreparer, lines []line) error {
	objs := make([]storage.BulkObject, len(lines))
	for i, l := range lines {
		objs[i] = storage.BulkObject{Object: l.Data, ACL: l.Permissions}
	}
	if err := bp.PrepareMany(objs); err != nil {
		return err
	}
	for i := range lines {
		lines[i].prepared = objs[i].Prepared
	}
	return nil
}
