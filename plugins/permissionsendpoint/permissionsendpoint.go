package permissionsendpoint

import (
	"net/http"
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
	return r.AddRoute(resource.Route{Method: http.MethodGet, Path: "/permissions", Handler: serve,
		Summary: "Everything the caller may access, with their permissions."})
}

func serve(r *resource.Request) error {
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
			if ok, _ := tx.Exists(loc.Ref, loc.ID); !ok {
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
	return r.ServeList(Fields, []storage.Sort{{Field: "uri", Desc: true}}, entries)
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
