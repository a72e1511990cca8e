package history

import (
	"strings"
	"time"

	"github.com/nimbus-server/nimbus/permissions"
	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// Fields of a history entry.
var Fields = []string{"id", "last_modified", "action", "resource_name", "uri", "user_id", "date",
	"bucket_id", "collection_id", "group_id", "record_id", "target"}

// Plugin is the history plugin.
type Plugin struct {
	excludeResources []string
	excludeUsers     []string
	trimMax          int
	trimUsers        []string
	trimThreshold    int
	explicit         bool
}

// Name implements resource.Plugin.
func (*Plugin) Name() string { return "history" }

// Settings implements resource.SettingsDeclarer.
func (*Plugin) Settings() []resource.Setting {
	return []resource.Setting{
		{Name: "history.exclude_resources", Type: resource.List,
			Description: "URIs of buckets or collections whose changes are not recorded"},
		{Name: "history.exclude_user_ids", Type: resource.List, Description: "user ids whose changes are not recorded"},
		{Name: "history.auto_trim_max_count", Type: resource.Int, Default: "-1",
			Description: "entries kept per bucket when trimming (-1: never trim)"},
		{Name: "history.auto_trim_user_ids", Type: resource.List,
			Description: "only the entries of these user ids are trimmed (none: every entry)"},
		{Name: "history.auto_trim_threshold", Type: resource.Int, Default: "100",
			Description: "extra entries tolerated before a trim runs"},
	}
}

var _ resource.SettingsDeclarer = (*Plugin)(nil)

// Register implements resource.Plugin.
func (p *Plugin) Register(r *resource.Registry) error {
	s := r.Settings()
	p.excludeResources = s.List("history.exclude_resources")
	p.excludeUsers = s.List("history.exclude_user_ids")
	p.trimMax = s.IntDefault("history.auto_trim_max_count")
	p.trimUsers = s.List("history.auto_trim_user_ids")
	p.trimThreshold = s.IntDefault("history.auto_trim_threshold")
	p.explicit = s.Bool("explicit_permissions")
	err := r.AddResource(&resource.Resource{
		Name: "history", Parent: "bucket", Plural: "history", Fields: Fields,
		PluralMethods: []string{"GET", "HEAD", "DELETE"}, ObjectMethods: []string{},
		Permissions: map[string]permissions.Grants{
			"read":  {"bucket": {"read", "write"}, "history": {"read", "write"}},
			"write": {"bucket": {"write"}, "history": {"write"}},
		},
	})
	if err != nil {
		return err
	}
	extra := map[string]any{}
	if p.trimMax >= 0 {
		extra["auto_trim_max_count"] = p.trimMax
	}
	if len(p.trimUsers) > 0 {
		extra["auto_trim_user_ids"] = p.trimUsers
	}
	if len(p.excludeResources) > 0 {
		var ex []map[string]string
		for _, uri := range p.excludeResources {
			ex = append(ex, idsOf(uri))
		}
		extra["excluded_resources"] = ex
	}
	if err := r.AddCapability("history", "Track changes on data.", "https://kinto.readthedocs.io/en/latest/api/1.x/history.html", extra); err != nil {
		return err
	}
	if err := r.AddRoute(resource.Route{Method: "GET", Path: "/buckets/:bucket_id/snapshot/collections/:spec", Handler: p.snapshot,
		Summary: "A collection's records as they were at a timestamp ({cid}@{timestamp})."}); err != nil {
		return err
	}
	r.AddListener(resource.Listener{
		Actions:      []string{"create", "update", "delete"},
		Resources:    []string{"bucket", "group", "collection", "record"},
		BeforeCommit: p.record,
	})
	return nil
}

// idsOf reads the ids of an object URI ("/buckets/b/collections/c").
func idsOf(uri string) map[string]string {
	out := make(map[string]string, 3)
	parts := strings.Split(strings.Trim(uri, "/"), "/")
	for i := 0; i+1 < len(parts); i += 2 {
		var n string
		switch parts[i] {
		case "buckets":
			n = "bucket"
		case "collections":
			n = "collection"
		case "groups":
			n = "group"
		case "records":
			n = "record"
		default:
			continue
		}
		out[n] = parts[i+1]
	}
	return out
}

func (p *Plugin) excluded(uri, user string) bool {
	for _, u := range p.excludeUsers {
		if u == user {
			return true
		}
	}
	for _, ex := range p.excludeResources {
		if uri == ex || strings.HasPrefix(uri, strings.TrimRight(ex, "/")+"/") {
			return true
		}
	}
	return false
}

// record writes one entry per impacted object of the event.
func (p *Plugin) record(tx storage.Tx, ev *resource.Event) error {
	if ev.ResourceName == "bucket" && ev.Action == "delete" {
		return nil // the bucket's history went with it
	}
	for _, imp := range ev.Impacted {
		obj := imp.New
		id := storage.ID(obj)
		uri := ev.URI
		if !strings.HasSuffix(uri, "/"+id) {
			uri = strings.TrimRight(uri, "/") + "/" + id
		}
		if p.excluded(uri, ev.UserID) {
			continue
		}
		ids := idsOf(uri)
		bucketURI := "/buckets/" + ids["bucket"]
		entry := make(storage.Object, 7+len(ids))
		entry["id"] = resource.NewOrderedUUID()
		entry["action"] = ev.Action
		entry["resource_name"] = ev.ResourceName
		entry["uri"] = uri
		entry["user_id"] = ev.UserID
		// With its offset, as Kinto 26 writes it: a date without one is
		// local time to its readers (Kinto Admin shows it shifted).
		entry["date"] = time.UnixMilli(storage.LastModified(obj)).UTC().Format("2006-01-02T15:04:05.000000+00:00")
		// The object's ACL after the change: none once it is deleted,
		// as Kinto records it (its readers below are those it had).
		targetACL := imp.Permissions
		if ev.Action == "delete" {
			targetACL = nil
		}
		entry["target"] = map[string]any{"data": obj, "permissions": aclValue(targetACL)}
		for k, v := range ids {
			entry[k+"_id"] = v
		}
		readers, err := p.readers(tx, ids, imp.Permissions)
		if err != nil {
			return err
		}
		ref := storage.Ref{Resource: "history", Parent: bucketURI}
		stored, err := tx.Create(ref, entry)
		if err != nil {
			return err
		}
		if len(readers) > 0 {
			if err := tx.SetACL(bucketURI+"/history/"+storage.ID(stored), storage.ACL{"read": readers}); err != nil {
				return err
			}
		}
		if err := p.trim(tx, ref, ev.ResourceName, ev.UserID); err != nil {
			return err
		}
	}
	return nil
}

func aclValue(acl storage.ACL) map[string]any {
	out := map[string]any{}
	for k, v := range acl {
		if len(v) > 0 {
			out[k] = v
		}
	}
	return out
}

// readers returns who may read the entry: the readers and writers of the
// bucket, collection and object as they are now.
func (p *Plugin) readers(tx storage.Tx, ids map[string]string, objACL storage.ACL) ([]string, error) {
	if !p.explicit {
		return nil, nil
	}
	seen := map[string]bool{}
	var out []string
	add := func(acl storage.ACL) {
		for _, perm := range []string{"read", "write"} {
			for _, pr := range acl[perm] {
				if !seen[pr] {
					seen[pr] = true
					out = append(out, pr)
				}
			}
		}
	}
	uris := []string{"/buckets/" + ids["bucket"]}
	if c, ok := ids["collection"]; ok {
		uris = append(uris, "/buckets/"+ids["bucket"]+"/collections/"+c)
	}
	acls, err := tx.GetACLs(uris)
	if err != nil {
		return nil, err
	}
	for _, u := range uris {
		add(acls[u])
	}
	add(objACL)
	return out, nil
}

// trim keeps at most history.auto_trim_max_count entries per resource type
// (and per user when auto_trim_user_ids is set), once the count exceeds
// the maximum by the threshold.
func (p *Plugin) trim(tx storage.Tx, ref storage.Ref, resourceName, user string) error {
	if p.trimMax < 0 {
		return nil
	}
	filters := []storage.Filter{{Field: "resource_name", Op: storage.OpEq, Value: resourceName}}
	if len(p.trimUsers) > 0 {
		found := false
		for _, u := range p.trimUsers {
			found = found || u == user
		}
		if !found {
			return nil
		}
		filters = append(filters, storage.Filter{Field: "user_id", Op: storage.OpEq, Value: user})
	}
	n, err := tx.Count(ref, filters, false)
	if err != nil || n <= p.trimMax+p.trimThreshold {
		return err
	}
	old, err := tx.List(ref, storage.Query{Filters: filters, Sort: []storage.Sort{{Field: "last_modified"}}, Limit: n - p.trimMax})
	if err != nil {
		return err
	}
	for _, o := range old {
		if _, err := tx.Delete(ref, storage.ID(o), 0); err != nil {
			return err
		}
		if err := tx.DeleteACLs(ref.Parent + "/history/" + storage.ID(o)); err != nil {
			return err
		}
	}
	_, err = tx.PurgeDeleted(ref, 0, 0)
	return err
}
