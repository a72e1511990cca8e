package history

import (
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/nimbus-server/nimbus/permissions"
	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// snapshot serves GET /buckets/{bid}/snapshot/collections/{cid}@{ts}: the
// collection's records as they were at that timestamp, rebuilt from the
// history of the records changed since.
//
// Only the records the collection holds now, live or as tombstones, are
// rebuilt, as in Kinto 26.2: the records of an earlier collection of the
// same name, purged with it, are left out, since whoever may read the
// collection now (a reader the new owner granted) must not read through
// it what was deleted before it existed; nor are the versions recorded
// before the collection was created (a record id used again). A
// collection that does not exist has no records (200, empty list, as in
// Kinto).
func (p *Plugin) snapshot(r *resource.Request) error {
	bid := r.Param("bucket_id")
	spec := r.Param("spec")
	cid, rawTS, ok := strings.Cut(spec, "@")
	ts, err := strconv.ParseInt(rawTS, 10, 64)
	bucketURI := "/buckets/" + bid
	colURI := bucketURI + "/collections/" + cid
	var out []storage.Object
	verr := r.View(func(tx storage.Tx) error {
		chain := []permissions.Node{{Resource: "collection", URI: colURI}, {Resource: "bucket", URI: bucketURI}, {Resource: permissions.Root}}
		allowed, aerr := r.Allowed(tx, chain, "read")
		if aerr != nil {
			return aerr
		}
		if !allowed {
			return r.Deny()
		}
		if !ok || err != nil || ts < 0 {
			return resource.Invalid("path", "timestamp", "The timestamp must be a non-negative integer")
		}
		held, lerr := tx.List(storage.Ref{Resource: "record", Parent: colURI}, storage.Query{IncludeDeleted: true})
		if lerr != nil {
			return lerr
		}
		changed := false
		for _, o := range held {
			changed = changed || storage.LastModified(o) > ts
		}
		if !changed {
			// Nothing to rebuild: the live records as they are.
			for _, o := range held {
				if !storage.IsDeleted(o) {
					out = append(out, o)
				}
			}
			return nil
		}
		born, berr := createdAt(tx, bucketURI, cid)
		if berr != nil {
			return berr
		}
		entries, herr := tx.List(storage.Ref{Resource: "history", Parent: bucketURI}, storage.Query{Filters: []storage.Filter{
			{Field: "collection_id", Op: storage.OpEq, Value: cid}, {Field: "resource_name", Op: storage.OpEq, Value: "record"}}})
		if herr != nil {
			return herr
		}
		// The latest version of each record at or before ts, from history.
		type version struct {
			ts      int64
			deleted bool
			data    storage.Object
		}
		past := map[string]version{}
		for _, e := range entries {
			target, _ := e["target"].(map[string]any)
			data, _ := target["data"].(map[string]any)
			id, _ := e["record_id"].(string)
			t := storage.LastModified(data)
			if data == nil || id == "" || t > ts || t < born {
				// After ts, or a version of a record of the collection
				// deleted before this one was created.
				continue
			}
			if v, seen := past[id]; !seen || t > v.ts {
				past[id] = version{ts: t, deleted: e["action"] == "delete" || storage.IsDeleted(data), data: data}
			}
		}
		for _, o := range held {
			switch {
			case storage.LastModified(o) <= ts:
				// Unchanged since: as it is, unless it was already deleted.
				if !storage.IsDeleted(o) {
					out = append(out, o)
				}
			default:
				// Changed or deleted since: its version at ts, if it had one.
				if v, ok := past[storage.ID(o)]; ok && !v.deleted {
					out = append(out, v.data)
				}
			}
		}
		return nil
	})
	if verr != nil {
		return verr
	}
	sort.SliceStable(out, func(i, j int) bool { return storage.LastModified(out[i]) > storage.LastModified(out[j]) })
	if out == nil {
		out = []storage.Object{}
	}
	return r.JSON(http.StatusOK, map[string]any{"data": out})
}

// createdAt is when the collection cid was last created, from its history
// (0 when history has no creation of it: the history plugin was off, or
// excluded it).
func createdAt(tx storage.Tx, bucketURI, cid string) (int64, error) {
	created, err := tx.List(storage.Ref{Resource: "history", Parent: bucketURI}, storage.Query{Filters: []storage.Filter{
		{Field: "collection_id", Op: storage.OpEq, Value: cid}, {Field: "resource_name", Op: storage.OpEq, Value: "collection"},
		{Field: "action", Op: storage.OpEq, Value: "create"}}, Limit: 1})
	if err != nil || len(created) == 0 {
		return 0, err
	}
	target, _ := created[0]["target"].(map[string]any)
	data, _ := target["data"].(map[string]any)
	return storage.LastModified(data), nil
}
