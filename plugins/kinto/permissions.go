package kinto

import "github.com/nimbus-server/nimbus/permissions"

// kintoPermissions is Kinto's inheritance tree (permissions.md PERM-03):
// for each resource, each permission and the (resource, permissions) pairs
// that grant it. "read:attributes" is what reading the object itself needs
// (a bucket's collection:create holders read its attributes, PERM-08).
var kintoPermissions = map[string]map[string]permissions.Grants{
	"bucket": {
		"read":              {"bucket": {"read", "write"}},
		"write":             {"bucket": {"write"}},
		"read:attributes":   {"bucket": {"read", "write", "collection:create", "group:create"}},
		"collection:create": {"bucket": {"write", "collection:create"}},
		"group:create":      {"bucket": {"write", "group:create"}},
	},
	"group": {
		"read":  {"bucket": {"read", "write"}, "group": {"read", "write"}},
		"write": {"bucket": {"write"}, "group": {"write"}},
	},
	"collection": {
		"read":            {"bucket": {"read", "write"}, "collection": {"read", "write"}},
		"write":           {"bucket": {"write"}, "collection": {"write"}},
		"read:attributes": {"bucket": {"read", "write"}, "collection": {"read", "write", "record:create"}},
		"record:create":   {"bucket": {"write"}, "collection": {"write", "record:create"}},
	},
	"record": {
		"read":  {"bucket": {"read", "write"}, "collection": {"read", "write"}, "record": {"read", "write"}},
		"write": {"bucket": {"write"}, "collection": {"write"}, "record": {"write"}},
	},
}
