package kinto

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/nimbus-server/nimbus/permissions"
	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// Plugin declares buckets, collections, groups and records.
type Plugin struct{}

// Name implements resource.Plugin.
func (Plugin) Name() string { return "kinto" }

// Register implements resource.Plugin.
func (Plugin) Register(r *resource.Registry) error {
	// Creating buckets is a permission on the root, granted by settings
	// only (bucket_create_principals).
	if err := r.Tree().AddPermission(permissions.Root, "bucket:create", permissions.Grants{permissions.Root: {"bucket:create"}}); err != nil {
		return err
	}
	perms := func(name string) map[string]permissions.Grants { return kintoPermissions[name] }
	schemas := newSchemaCache()
	for _, res := range []*resource.Resource{
		{Name: "bucket", Plural: "buckets", NewID: resource.NewName, Permissions: perms("bucket"), Validate: schemas.validateBucket,
			AfterDelete: bucketDeleted},
		{Name: "group", Parent: "bucket", Plural: "groups", NewID: resource.NewName, Permissions: perms("group"),
			Validate: schemas.validateGroup, AfterWrite: groupMembers, AfterDelete: groupDeleted},
		{Name: "collection", Parent: "bucket", Plural: "collections", NewID: resource.NewName, Permissions: perms("collection"),
			Validate: schemas.validateCollection},
		{Name: "record", Parent: "collection", Plural: "records", NewID: resource.NewOrderedUUID, Permissions: perms("record"),
			Validate: schemas.validateRecord},
	} {
		if err := r.AddResource(res); err != nil {
			return err
		}
	}
	if ix, ok := r.Storage().(storage.Indexer); ok {
		if err := r.AddCapability("indexes", "Collections declare the record fields they are searched by (indexes).",
			"https://github.com/nimbus-server/nimbus/blob/main/docs/performance.md#declared-indexes", map[string]any{"max_per_collection": maxIndexes}); err != nil {
			return err
		}
		k := &indexKeeper{ix: ix, log: r.Logger()}
		k.ctx, k.stop = context.WithCancel(context.Background())
		r.OnShutdown(k.stop)
		r.AddListener(resource.Listener{Actions: []string{"create", "update", "delete"}, Resources: []string{"collection"}, AfterCommit: k.changed})
		r.OnServe(func() { k.resume(r.Storage()) })
	}
	if r.Settings().Bool("experimental_collection_schema_validation") {
		if err := r.AddCapability("schema", "Validates collection records with JSON schemas.",
			"https://kinto.readthedocs.io/en/latest/api/1.x/collections.html#collection-json-schema", nil); err != nil {
			return err
		}
		schemas.enabled = true
	}
	return nil
}

func (c *schemaCache) validateBucket(w *resource.Write) error {
	for _, k := range []string{"collection:schema", "group:schema", "record:schema"} {
		if v, ok := w.Data[k]; ok {
			if err := c.checkSchema(k, v); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *schemaCache) validateGroup(w *resource.Write) error {
	raw, ok := w.Data["members"]
	if !ok {
		// A group without members has none: a PUT that leaves them
		// out, or a merge-patch that sets them to null, empties the
		// list, as Kinto's schema default does (a PATCH that does not
		// name them keeps them, being merged with the stored group).
		w.Data["members"] = []any{}
		return nil
	}
	list, ok := raw.([]any)
	if !ok {
		return resource.Invalid("body", "data.members", resource.ValueText(raw)+" is not iterable")
	}
	for i, m := range list {
		// Each member's error names it, as Kinto does (data.members.0).
		name := "data.members." + strconv.Itoa(i)
		s, ok := m.(string)
		if m == nil || ok && s == "" {
			return resource.Invalid("body", name, "Required")
		}
		if !ok {
			return resource.Invalid("body", name, resource.ValueText(m)+" is not a string")
		}
		if len(s) > resource.MaxPrincipalBytes {
			return resource.Invalid("body", name, fmt.Sprintf("members are at most %d bytes long", resource.MaxPrincipalBytes))
		}
		if strings.HasPrefix(s, "/buckets/") {
			return resource.Invalid("body", name, "Groups cannot be nested: "+s)
		}
		if s == permissions.Everyone {
			return resource.Invalid("body", name, "system.Everyone cannot be a group member")
		}
	}
	if !c.enabled {
		return nil
	}
	b, uri, err := bucketOf(w)
	if err != nil {
		return err
	}
	return c.validate(uri, b, "group:schema", w.Data, w.Request)
}

func members(obj storage.Object) []string {
	var out []string
	if list, ok := obj["members"].([]any); ok {
		for _, m := range list {
			if s, ok := m.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// groupMembers makes the membership index hold exactly the group's
// members. Each write starts from no membership at all rather than from
// the old version's members: on a database Kinto 26.2 also writes, the
// memberships of a bucket's groups outlive the bucket's deletion (Kinto
// deletes the groups without them), and a group created again at the
// same URI must not hand its principal to those former members.
func groupMembers(w *resource.Write) error {
	if err := w.Tx.RemovePrincipal(w.URI); err != nil {
		return err
	}
	for _, m := range members(w.Data) {
		if err := w.Tx.AddUserPrincipal(m, w.URI); err != nil {
			return err
		}
	}
	w.Request.ResetPrincipals()
	return nil
}

func groupDeleted(r *resource.Request, tx storage.Tx, uri string, old storage.Object) error {
	r.ResetPrincipals()
	return tx.RemovePrincipal(uri)
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// bucketDeleted takes the principals of the bucket's groups away from
// their members, before the groups are purged with the bucket.
func bucketDeleted(r *resource.Request, tx storage.Tx, uri string, old storage.Object) error {
	groups, err := tx.List(storage.Ref{Resource: "group", Parent: uri}, storage.Query{})
	if err != nil {
		return err
	}
	for _, g := range groups {
		if err := tx.RemovePrincipal(uri + "/groups/" + storage.ID(g)); err != nil {
			return err
		}
	}
	r.ResetPrincipals()
	return nil
}
