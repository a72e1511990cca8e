package permissions

import "strings"

// Node is one object on the path from an object up to the root: its
// resource name and URI ("" for the root, or for an object whose own ACL
// must be ignored, such as "any record of this collection").
type Node struct {
	Resource string
	URI      string
}

// SettingsGrants holds the <resource>_<permission>_principals settings as
// written: resource name to permission name ("read", "write", "create",
// ...) to principals.
type SettingsGrants map[string]map[string][]string

// ParseSettingsGrants reads the <resource>_<permission>_principals settings
// (PERM-04). Settings for resources the tree does not know are ignored.
func ParseSettingsGrants(tree *Tree, settings map[string][]string) SettingsGrants {
	out := SettingsGrants{}
	for key, principals := range settings {
		name, ok := strings.CutSuffix(key, "_principals")
		if !ok {
			continue
		}
		i := strings.LastIndexByte(name, '_')
		if i <= 0 || i == len(name)-1 {
			continue
		}
		resource, perm := name[:i], name[i+1:]
		if !tree.Has(resource) || resource == Root {
			continue
		}
		if out[resource] == nil {
			out[resource] = map[string][]string{}
		}
		out[resource][perm] = append(out[resource][perm], principals...)
	}
	return out
}

// Authorizer answers permission questions from the tree, the settings
// grants and the stored ACLs.
type Authorizer struct {
	Tree     *Tree
	Settings SettingsGrants
}

func intersects(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

// BySettings tells whether settings grant perm on every object of
// resource to one of principals, as /permissions lists them (PERM-12): a
// <child>_create_principals setting is the "<child>:create" permission on
// every object of the child's parent resource, any other setting is its
// permission on its own resource.
func (a *Authorizer) BySettings(principals []string, resource, perm string) bool {
	if child, ok := strings.CutSuffix(perm, ":create"); ok && a.Tree.Has(child) && a.Tree.Parent(child) == resource {
		return intersects(a.Settings[child]["create"], principals)
	}
	return intersects(a.Settings[resource][perm], principals)
}

// Setting tells whether the setting Kinto consults for one granting
// permission of a request on resource grants it (PERM-04): the setting is
// named after the resource the request is on, never after the ancestor
// whose ACL would grant it, so that settings are not inherited by
// children. "record:create" on a request on records is
// record_create_principals; "write" is record_write_principals.
func (a *Authorizer) Setting(principals []string, resource, granting string) bool {
	perm := granting
	if child, rest, ok := strings.Cut(granting, ":"); ok && child == resource {
		perm = rest
	}
	return intersects(a.Settings[resource][perm], principals)
}

// SettingsAllow tells whether settings alone grant perm to principals on
// a request on resource: whether one of the permission names that grant
// perm on chain[0] (whatever object of the chain holds them) is granted by
// the setting of that name for resource.
func (a *Authorizer) SettingsAllow(principals []string, resource string, chain []Node, perm string) bool {
	if len(chain) == 0 {
		return false
	}
	grants := a.Tree.Grants(chain[0].Resource, perm)
	if len(grants) == 0 {
		return a.Setting(principals, resource, perm)
	}
	for _, perms := range grants {
		for _, p := range perms {
			if a.Setting(principals, resource, p) {
				return true
			}
		}
	}
	return false
}

// RequestResource is the resource a permission check is about: the
// created one for "<child>:create", else the object's own.
func RequestResource(chain []Node, perm string) string {
	if child, ok := strings.CutSuffix(perm, ":create"); ok {
		return child
	}
	if len(chain) == 0 {
		return ""
	}
	return chain[0].Resource
}

// Allowed tells whether principals hold perm on chain[0], whose ancestors
// follow it in chain up to the root. ACLs are read from st. The settings
// consulted are those of the request's resource (RequestResource).
func (a *Authorizer) Allowed(st Store, principals []string, chain []Node, perm string) (bool, error) {
	return a.AllowedOn(st, principals, RequestResource(chain, perm), chain, perm)
}

// AllowedOn is Allowed for a request on resource whose permission is
// checked on another object of the chain, such as "read on the parent"
// deciding between 404 and 403 for a write on a missing object: the
// settings of resource are consulted, the ACLs of the chain.
func (a *Authorizer) AllowedOn(st Store, principals []string, resource string, chain []Node, perm string) (bool, error) {
	if len(chain) == 0 {
		return false, nil
	}
	if a.SettingsAllow(principals, resource, chain, perm) {
		return true, nil
	}
	grants := a.Tree.Grants(chain[0].Resource, perm)
	if len(grants) == 0 {
		// A permission with no inheritance entry is granted by settings
		// or the object's own ACL.
		grants = Grants{chain[0].Resource: {perm}}
	}
	var uris []string
	for _, n := range chain {
		if _, ok := grants[n.Resource]; ok && n.URI != "" && n.Resource != Root {
			uris = append(uris, n.URI)
		}
	}
	if len(uris) == 0 {
		return false, nil
	}
	acls, err := st.GetACLs(uris)
	if err != nil {
		return false, err
	}
	for _, n := range chain {
		acl, ok := acls[n.URI]
		if !ok || n.URI == "" {
			continue
		}
		for _, p := range grants[n.Resource] {
			if intersects(acl[p], principals) {
				return true, nil
			}
		}
	}
	return false, nil
}

// Readable returns the ids of the objects directly under listURIPrefix
// (e.g. "/buckets/b/collections/c/records/") on which principals hold, in
// the object's own ACL, a permission that grants perm on resource. It
// reads the inverse index only.
func (a *Authorizer) Readable(st Store, principals []string, resource, listURIPrefix, perm string) ([]string, error) {
	own := a.Tree.Grants(resource, perm)[resource]
	if own == nil {
		own = []string{perm}
	}
	acc, err := st.Accessible(principals, listURIPrefix)
	if err != nil {
		return nil, err
	}
	ids := []string{}
	for uri, held := range acc {
		id := uri[len(listURIPrefix):]
		if id == "" || strings.Contains(id, "/") {
			continue
		}
		if intersects(held, own) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}
