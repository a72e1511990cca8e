package permtest

import "github.com/nimbus-server/nimbus/permissions"

// KintoTree builds, through the public API, the inheritance tree of
// Kinto's four resources (permissions.md PERM-03) that the conformance
// cases use. The kinto plugin declares the same entries with its
// resources.
func KintoTree() *permissions.Tree {
	t := permissions.NewTree()
	must(t.AddPermission(permissions.Root, "bucket:create", permissions.Grants{permissions.Root: {"bucket:create"}}))
	must(t.Add("bucket", permissions.Root, map[string]permissions.Grants{
		"read":              {"bucket": {"read", "write"}},
		"write":             {"bucket": {"write"}},
		"read:attributes":   {"bucket": {"read", "write", "collection:create", "group:create"}},
		"collection:create": {"bucket": {"write", "collection:create"}},
		"group:create":      {"bucket": {"write", "group:create"}},
	}))
	must(t.Add("group", "bucket", map[string]permissions.Grants{
		"read":  {"bucket": {"read", "write"}, "group": {"read", "write"}},
		"write": {"bucket": {"write"}, "group": {"write"}},
	}))
	must(t.Add("collection", "bucket", map[string]permissions.Grants{
		"read":            {"bucket": {"read", "write"}, "collection": {"read", "write"}},
		"write":           {"bucket": {"write"}, "collection": {"write"}},
		"read:attributes": {"bucket": {"read", "write"}, "collection": {"read", "write", "record:create"}},
		"record:create":   {"bucket": {"write"}, "collection": {"write", "record:create"}},
	}))
	must(t.Add("record", "collection", map[string]permissions.Grants{
		"read":  {"bucket": {"read", "write"}, "collection": {"read", "write"}, "record": {"read", "write"}},
		"write": {"bucket": {"write"}, "collection": {"write"}, "record": {"write"}},
	}))
	return t
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
