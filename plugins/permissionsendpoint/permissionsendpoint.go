package permissionsendpoint

import (
	"net/http"
	"runtime"
	"sort"
	"strings"

	"github.com/nimbus-server/nimbus/permissions"
	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// Fields of an entry.
var Fields = []string{"uri", "resource_name", "id", "bucket_id", "collection_id", "group_id", "record_id", "account_id", "permissions"}

// Plugin is the /permissions endpoint.
type Plugin struct{}

// Name implements resource.Plugin.
func (Plugin) Name() string { return "permissions_endpoint" }

// Register implements resource.Plugin.
func (Plugin) Register(r *resource.Registry) error {
	if err := r.AddCapability("permissions_endpoint", "List every permission granted to the current user.",
		"https://kinto.readthedocs.io/en/latest/api/1.x/permissions.html#list-every-permissions", nil); err != nil {
		return err
	}
	e := &endpoint{slots: make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))}
	return r.AddRoute(resource.Route{Method: http.MethodGet, Path: "/permissions", Handler: e.serve,
		Summary: "Everything the caller may access, with their permissions."})
}

// endpoint answers /permissions, as many at once as there are slots.
//
// An answer is computed from every object the caller holds a permission
// on: for a user who owns half a million records, seconds of CPU and a
// gigabyte of memory, most of it for the time of the request. Running
// more of them at once than there are cores adds no speed, only memory,
// so the others wait for a slot (or for their client to leave).
type endpoint struct {
	slots chan struct{}
}

func (e *endpoint) serve(r *resource.Request) error {
	// A batch's sub-requests run in the batch's transaction, which may
	// hold the store (the memory backend's lock, bolt's writer): waiting
	// there for a slot whose holders wait to read would hang them all.
	// Batches run their sub-requests one at a time, so they compute one
	// answer at a time each.
	if !r.InBatch() {
		select {
		case e.slots <- struct{}{}:
			defer func() { <-e.slots }()
		case <-r.Ctx().Done():
			return resource.ClientClosed()
		}
	}
	var entries []storage.Object
	err := r.View(func(tx storage.Tx) error {
		ps, err := r.Principals(tx)
		if err != nil {
			return err
		}
		allowed := false
		for _, p := range r.Settings().List("permissions_read_principals") {
			for _, q := range ps {
				allowed = allowed || p == q
			}
		}
		if !allowed {
			return r.Deny()
		}
		acc, err := tx.Accessible(ps, "")
		if err != nil {
			return err
		}
		if err := addSettingsObjects(r, tx, ps, acc); err != nil {
			return err
		}
		for uri, held := range acc {
			loc, ok := r.Objects().Locate(uri)
			if !ok || loc.Resource.Name == "history" {
				continue
			}
			entries = append(entries, entry(r, ps, uri, loc, held))
		}
		var rootPerms []string
		for _, perm := range []string{"account:create", "bucket:create"} { // sorted, as in every entry
			if r.Authorizer().BySettings(ps, permissions.Root, perm) {
				rootPerms = append(rootPerms, perm)
			}
		}
		if len(rootPerms) > 0 {
			entries = append(entries, storage.Object{"uri": "/", "resource_name": "root", "permissions": toAny(rootPerms)})
		}
		return nil
	})
	if err != nil {
		return err
	}
	// What the caller may do changes with every grant: never kept by
	// clients, as Kinto 26.2 answers.
	r.ResponseHeader().Set("Cache-Control", "no-cache, no-store")
	// Whether each object is still there is asked last, of the entries
	// the answer shows only: a user who owns a million records asks for
	// a page of ten, or only for buckets (Kinto Admin's
	// exclude_resource_name=record), and one Exists each took the
	// request a minute on PostgreSQL.
	return r.ServeListConfirmed(Fields, []storage.Sort{{Field: "uri", Desc: true}}, entries,
		func(part []storage.Object) ([]storage.Object, error) { return stillStored(r, part) })
}

// stillStored keeps the entries whose objects are stored (and the root's):
// an ACL entry can outlive its object, Kinto's storage and permission
// backends being apart.
func stillStored(r *resource.Request, entries []storage.Object) ([]storage.Object, error) {
	type objectKey struct {
		ref storage.Ref
		id  string
	}
	keys := make([]objectKey, len(entries))
	ids := map[storage.Ref][]string{}
	for i, e := range entries {
		if loc, ok := r.Objects().Locate(e["uri"].(string)); ok {
			keys[i] = objectKey{loc.Ref, loc.ID}
			ids[loc.Ref] = append(ids[loc.Ref], loc.ID)
		}
	}
	live := map[objectKey]bool{}
	err := r.View(func(tx storage.Tx) error {
		for ref, list := range ids {
			found, err := storage.ExistingIDs(tx, ref, list)
			if err != nil {
				return err
			}
			for id := range found {
				live[objectKey{ref, id}] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	kept := entries[:0:0]
	for i, e := range entries {
		if e["resource_name"] == "root" || live[keys[i]] {
			kept = append(kept, e)
		}
	}
	return kept, nil
}

// settingsResources are the resources whose every object /permissions
// lists when a setting grants the caller a permission on that resource
// type, as Kinto does (PERM-12).
var settingsResources = []string{"bucket", "collection", "group"}

// addSettingsObjects adds to acc every bucket, collection or group on
// which settings grant the caller a permission, with no held permission
// of its own (entry adds the settings grants).
func addSettingsObjects(r *resource.Request, tx storage.Tx, ps []string, acc map[string][]string) error {
	granted := map[string]bool{}
	any := false
	for _, name := range settingsResources {
		for _, perm := range r.Tree().Names(name) {
			if r.Authorizer().BySettings(ps, name, perm) {
				granted[name] = true
				any = true
			}
		}
	}
	if !any {
		return nil
	}
	buckets, err := tx.List(storage.Ref{Resource: "bucket"}, storage.Query{})
	if err != nil {
		return err
	}
	for _, b := range buckets {
		uri := "/buckets/" + storage.ID(b)
		if granted["bucket"] {
			if _, ok := acc[uri]; !ok {
				acc[uri] = nil
			}
		}
		for _, child := range []string{"collection", "group"} {
			if !granted[child] {
				continue
			}
			objs, err := tx.List(storage.Ref{Resource: child, Parent: uri}, storage.Query{})
			if err != nil {
				return err
			}
			for _, o := range objs {
				curi := uri + "/" + child + "s/" + storage.ID(o)
				if _, ok := acc[curi]; !ok {
					acc[curi] = nil
				}
			}
		}
	}
	return nil
}

// entry builds the description of one object, with the permissions held
// directly or through settings, expanded to the same-object implications.
func entry(r *resource.Request, ps []string, uri string, loc resource.Location, held []string) storage.Object {
	name := loc.Resource.Name
	set := map[string]bool{}
	for _, h := range held {
		for _, p := range r.Tree().Implied(name, h) {
			set[p] = true
		}
	}
	for _, perm := range append(r.Tree().Names(name), "read:attributes") {
		if r.Authorizer().BySettings(ps, name, perm) {
			for _, p := range r.Tree().Implied(name, perm) {
				set[p] = true
			}
		}
	}
	perms := make([]string, 0, len(set))
	for p := range set {
		perms = append(perms, p)
	}
	sort.Strings(perms)
	e := storage.Object{"uri": uri, "resource_name": name, "id": loc.ID, "permissions": toAny(perms)}
	for k, v := range loc.IDs {
		if strings.HasSuffix(k, "_id") {
			e[k] = v
		}
	}
	return e
}

func toAny(list []string) []any {
	out := make([]any, len(list))
	for i, s := range list {
		out[i] = s
	}
	return out
}
