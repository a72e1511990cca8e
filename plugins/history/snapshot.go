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
		if exists, eerr := tx.Exists(storage.Ref{Resource: "collection", Parent: bucketURI}, cid); eerr != nil || !exists {
			if eerr != nil {
				return eerr
			}
			return resource.MissingParent("collection", cid)
		}
		live, lerr := tx.List(storage.Ref{Resource: "record", Parent: colURI}, storage.Query{})
		if lerr != nil {
			return lerr
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
			if data == nil || id == "" || t > ts {
				continue
			}
			if v, seen := past[id]; !seen || t > v.ts {
				past[id] = version{ts: t, deleted: e["action"] == "delete" || storage.IsDeleted(data), data: data}
			}
		}
		done := map[string]bool{}
		for _, o := range live {
			id := storage.ID(o)
			done[id] = true
			if storage.LastModified(o) <= ts {
				out = append(out, o)
			} else if v, ok := past[id]; ok && !v.deleted {
				out = append(out, v.data)
			}
		}
		for id, v := range past {
			if !done[id] && !v.deleted {
				out = append(out, v.data)
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
