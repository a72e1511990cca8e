package permissions_test

import (
	"fmt"
	"testing"

	"github.com/nimbus-server/nimbus/permissions"
	"github.com/nimbus-server/nimbus/permissions/permtest"
)

func TestTree(t *testing.T) {
	tree := permtest.KintoTree()
	cases := []struct{ got, want string }{
		{fmt.Sprint(tree.Names("bucket")), "[collection:create group:create read write]"},
		{fmt.Sprint(tree.Names("record")), "[read write]"},
		{fmt.Sprint(tree.Implied("bucket", "write")), "[collection:create group:create read read:attributes write]"},
		{fmt.Sprint(tree.Implied("collection", "record:create")), "[read:attributes record:create]"},
		{tree.Parent("record"), "collection"},
	}
	for i, c := range cases {
		if c.got != c.want {
			t.Errorf("case %d: got %s, want %s", i, c.got, c.want)
		}
	}
	if err := tree.Add("record", "collection", nil); err == nil {
		t.Error("adding a resource twice must fail")
	}
	if err := tree.Add("thing", "nope", nil); err == nil {
		t.Error("adding under an unknown parent must fail")
	}
	if err := tree.Add("history", "bucket", map[string]permissions.Grants{"read": {"bucket": {"read", "write"}, "history": {"read"}}}); err != nil {
		t.Fatal(err)
	}
	if !tree.Has("history") || permtest.KintoTree().Has("history") {
		t.Error("a plugin's entry must extend only its own tree")
	}
}

func TestParseSettingsGrants(t *testing.T) {
	g := permissions.ParseSettingsGrants(permtest.KintoTree(), map[string][]string{
		"bucket_create_principals":     {"system.Authenticated"},
		"collection_create_principals": {"a"},
		"record_write_principals":      {"b"},
		"unknown_read_principals":      {"c"},
		"paginate_by":                  {"10"},
	})
	want := "map[bucket:map[create:[system.Authenticated]] collection:map[create:[a]] record:map[write:[b]]]"
	if fmt.Sprint(g) != want {
		t.Errorf("got %v\nwant %s", g, want)
	}
}
