package permissions

import (
	"fmt"
	"sort"

	"github.com/nimbus-server/nimbus/storage"
)

// The system principals.
const (
	Everyone      = "system.Everyone"
	Authenticated = "system.Authenticated"
)

// Root is the resource name of the server root, the parent of top-level
// resources such as buckets and accounts.
const Root = "root"

// ACL maps permission names to principals.
type ACL = storage.ACL

// Store is the part of a storage transaction that keeps ACLs, their
// inverse index and group memberships. Every storage.Tx provides it.
type Store interface {
	GetACL(uri string) (ACL, error)
	GetACLs(uris []string) (map[string]ACL, error)
	SetACL(uri string, acl ACL) error
	DeleteACLs(uri string) error
	Accessible(principals []string, prefix string) (map[string][]string, error)
	AddUserPrincipal(user, principal string) error
	RemoveUserPrincipal(user, principal string) error
	RemovePrincipal(principal string) error
	UserPrincipals(users []string) ([]string, error)
}

var _ Store = storage.Tx(nil)

// Grants lists, for one wanted permission, the (resource, permissions)
// pairs that grant it: resource name to permission names.
type Grants map[string][]string

// Tree is the inheritance tree: for each resource, its parent resource and,
// for each of its permissions, what grants it. Build one with NewTree or
// NewTree and extend it with Add before serving; it is read-only after.
type Tree struct {
	parent map[string]string
	perms  map[string]map[string]Grants
}

// NewTree returns a tree holding only the root.
func NewTree() *Tree {
	return &Tree{parent: map[string]string{}, perms: map[string]map[string]Grants{Root: {}}}
}

// Add declares a resource, its parent resource, and its permissions with
// what grants each. It fails when the resource exists or the parent does
// not.
func (t *Tree) Add(resource, parent string, perms map[string]Grants) error {
	if _, dup := t.perms[resource]; dup {
		return fmt.Errorf("permissions: resource %q is already in the tree", resource)
	}
	if _, ok := t.perms[parent]; !ok {
		return fmt.Errorf("permissions: parent %q of %q is not in the tree", parent, resource)
	}
	t.parent[resource] = parent
	t.perms[resource] = perms
	return nil
}

// AddPermission adds a permission to an existing resource (for example
// "account:create" on the root).
func (t *Tree) AddPermission(resource, perm string, g Grants) error {
	p, ok := t.perms[resource]
	if !ok {
		return fmt.Errorf("permissions: unknown resource %q", resource)
	}
	p[perm] = g
	return nil
}

// Has tells whether resource is in the tree.
func (t *Tree) Has(resource string) bool { _, ok := t.perms[resource]; return ok }

// Parent returns the parent resource name of resource.
func (t *Tree) Parent(resource string) string { return t.parent[resource] }

// Grants returns what grants perm on resource (nil when unknown).
func (t *Tree) Grants(resource, perm string) Grants { return t.perms[resource][perm] }

// Names returns the permission names an ACL of resource may hold, sorted.
// Derived names such as "read:attributes" are left out.
func (t *Tree) Names(resource string) []string {
	var out []string
	for p := range t.perms[resource] {
		if p != "read:attributes" {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// Implied returns every permission of resource that the held one grants on
// the same object ("write" on a bucket implies read, read:attributes,
// collection:create, group:create), the held one included, sorted.
func (t *Tree) Implied(resource, held string) []string {
	out := []string{held}
	for p, g := range t.perms[resource] {
		if p == held {
			continue
		}
		for _, q := range g[resource] {
			if q == held {
				out = append(out, p)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}
