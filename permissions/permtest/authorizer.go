package permtest

import (
	"fmt"
	"sort"
	"testing"

	"github.com/nimbus-server/nimbus/permissions"
	"github.com/nimbus-server/nimbus/storage"
)

func chainOf(resource string, uris ...string) []permissions.Node {
	names := map[string][]string{
		"bucket":     {"bucket", "root"},
		"collection": {"collection", "bucket", "root"},
		"group":      {"group", "bucket", "root"},
		"record":     {"record", "collection", "bucket", "root"},
	}[resource]
	out := make([]permissions.Node, len(names))
	for i, n := range names {
		out[i] = permissions.Node{Resource: n}
		if i < len(uris) {
			out[i].URI = uris[i]
		}
	}
	return out
}

func testAuthorizer(t *testing.T, b storage.Backend) {
	tree := KintoTree()
	a := &permissions.Authorizer{Tree: tree, Settings: permissions.ParseSettingsGrants(tree, map[string][]string{
		"bucket_create_principals":     {permissions.Authenticated},
		"collection_write_principals":  {"admin"},
		"record_create_principals":     {"poster"},
		"unknownthing_read_principals": {"bob"},
	})}
	const bu, co, re = "/buckets/b", "/buckets/b/collections/c", "/buckets/b/collections/c/records/r"
	update(t, b, func(tx storage.Tx) error {
		for uri, acl := range map[string]storage.ACL{
			bu: {"write": {"owner"}, "read": {"/buckets/b/groups/readers"}, "group:create": {"grouper"}},
			co: {"read": {"colreader"}, "record:create": {"creator"}},
			re: {"read": {"recreader"}, "write": {permissions.Everyone}},
		} {
			if err := tx.SetACL(uri, acl); err != nil {
				return err
			}
		}
		return nil
	})
	rec := chainOf("record", re, co, bu)
	anyRec := chainOf("record", "", co, bu)
	cases := []struct {
		who   string
		chain []permissions.Node
		perm  string
		want  bool
	}{
		{"owner", rec, "write", true},
		{"owner", chainOf("bucket", bu), "collection:create", true},
		{"/buckets/b/groups/readers", rec, "read", true},
		{"/buckets/b/groups/readers", chainOf("collection", co, bu), "write", false},
		{"colreader", rec, "read", true},
		{"colreader", chainOf("collection", co, bu), "write", false},
		{"creator", chainOf("collection", co, bu), "read:attributes", true},
		{"creator", chainOf("collection", co, bu), "read", false},
		{"creator", anyRec, "read", false},
		{"grouper", chainOf("bucket", bu), "read:attributes", true},
		{"grouper", chainOf("group", "/buckets/b/groups/other", bu), "read", false},
		{"recreader", rec, "read", true},
		{"recreader", anyRec, "read", false},
		{"stranger", rec, "write", true}, // system.Everyone holds write on r
		{"admin", chainOf("collection", "/buckets/x/collections/y", "/buckets/x"), "write", true},
		// Settings grants are never inherited by children (PERM-04).
		{"admin", chainOf("record", "/buckets/x/collections/y/records/z", "/buckets/x/collections/y", "/buckets/x"), "write", false},
		{"admin", chainOf("record", "/buckets/x/collections/y/records/z", "/buckets/x/collections/y", "/buckets/x"), "read", false},
		{"admin", chainOf("bucket", "/buckets/x"), "write", false},
		{"poster", chainOf("collection", "/buckets/x/collections/y", "/buckets/x"), "record:create", true},
		{"bob", chainOf("bucket", bu), "read", false},
		{permissions.Authenticated, []permissions.Node{{Resource: "root"}}, "bucket:create", true},
		{"stranger", []permissions.Node{{Resource: "root"}}, "bucket:create", false},
		{"owner", chainOf("record", "/buckets/b/collections/missing/records/new", "/buckets/b/collections/missing", bu), "read", true},
	}
	b.View(ctx, func(tx storage.Tx) error {
		for _, c := range cases {
			principals := []string{c.who, permissions.Everyone}
			got, err := a.Allowed(tx, principals, c.chain, c.perm)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("%s %s on %v: got %v, want %v", c.who, c.perm, c.chain[0], got, c.want)
			}
		}
		ids, err := a.Readable(tx, []string{"recreader"}, "record", co+"/records/", "read")
		if err != nil || fmt.Sprint(ids) != "[r]" {
			t.Errorf("readable records: %v %v", ids, err)
		}
		ids, _ = a.Readable(tx, []string{"nobody"}, "record", co+"/records/", "read")
		sort.Strings(ids)
		if len(ids) != 0 {
			t.Errorf("nobody reads %v", ids)
		}
		return nil
	})
}
