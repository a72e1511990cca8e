package permissions

import "strings"

// Node is one object on the path from an object up to the root: its
// resource name and URI ("" for the root, or for an object whose own ACL
// must be ignored, such as "any record of this collection").
type Node struct {
	Resource string
	URI      string
}

// SettingsGrants are the permissions granted on every object of a resource
// by settings: resource name to permission name to principals.
type SettingsGrants map[string]map[string][]string

// ParseSettingsGrants reads the <resource>_<permission>_principals settings
// (PERM-04). A <child>_create_principals setting becomes the
// "<child>:create" permission on the child's parent resource. Settings for
// resources the tree does not know are ignored.
func ParseSettingsGrants(tree *Tree, settings map[string][]string) SettingsGrants {
	out := SettingsGrants{}
	for key, principals := range settings {
		name, ok := strings.CutSuffix(key, "_principals")
		if !ok {
			continue
		}
		i := strings.LastIndexByte(name, '_')
		if i <= 0 {
			continue
		}
		resource, perm := name[:i], name[i+1:]
		if !tree.Has(resource) {
			continue
		}
		if perm == "create" {
			perm = resource + ":create"
			resource = tree.Parent(resource)
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

// BySettings tells whether settings alone grant perm on resource to one of
// principals.
func (a *Authorizer) BySettings(principals []string, resource, perm string) bool {
	return intersects(a.Settings[resource][perm], principals)
}

// Allowed tells whether principals hold perm on chain[0], whose ancestors
// follow it in chain up to the root. ACLs are read from st.
func (a *Authorizer) Allowed(st Store, principals []string, chain []Node, perm string) (bool, error) {
	if len(chain) == 0 {
		return false, nil
	}
	grants := a.Tree.Grants(chain[0].Resource, perm)
	if len(grants) == 0 {
		// A permission with no inheritance entry (such as the root's
		// bucket:create) is granted by settings or the object's own ACL.
		grants = Grants{chain[0].Resource: {perm}}
	}
	var uris []string
	for _, n := range chain {
		perms, ok := grants[n.Resource]
		if !ok {
			continue
		}
		for _, p := range perms {
			if a.BySettings(principals, n.Resource, p) {
				return true, nil
			}
		}
		if n.URI != "" && n.Resource != Root {
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
