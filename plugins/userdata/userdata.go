package userdata

import (
	"errors"
	"net/http"
	"sort"

	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// Plugin is the user-data deletion endpoint. It is part of the core.
type Plugin struct{}

// Name implements resource.Plugin.
func (Plugin) Name() string { return "user_data" }

// Register implements resource.Plugin.
func (Plugin) Register(r *resource.Registry) error {
	return r.AddRoute(resource.Route{Method: http.MethodDelete, Path: "/__user_data__/:principal", Write: true,
		Summary: "Delete the data of a principal.", Handler: serve})
}

func serve(r *resource.Request) error {
	principal := r.Param("principal")
	allowed := r.Settings().List("user-data_delete_principals")
	var events []string
	err := r.Update(func(tx storage.Tx) error {
		events = nil
		ps, err := r.Principals(tx)
		if err != nil {
			return err
		}
		ok := false
		for _, a := range allowed {
			for _, p := range ps {
				ok = ok || a == p
			}
		}
		if !ok {
			return r.Deny()
		}
		acc, err := tx.Accessible([]string{principal}, "")
		if err != nil {
			return err
		}
		uris := make([]string, 0, len(acc))
		for u := range acc {
			uris = append(uris, u)
		}
		sort.Strings(uris) // parents before children
		for _, uri := range uris {
			acl, err := tx.GetACL(uri)
			if err != nil {
				return err
			}
			if len(acl) == 0 {
				continue // deleted with a parent already
			}
			if w := acl["write"]; len(w) == 1 && w[0] == principal {
				if _, err := r.Objects().Purge(tx, uri); err != nil && !errors.Is(err, storage.ErrNotFound) {
					return err
				}
				events = append(events, uri)
				continue
			}
			changed := storage.ACL{}
			for perm, list := range acl {
				for _, p := range list {
					if p != principal {
						changed[perm] = append(changed[perm], p)
					}
				}
			}
			if err := tx.SetACL(uri, changed); err != nil {
				return err
			}
		}
		groups, err := tx.UserPrincipals([]string{principal})
		if err != nil {
			return err
		}
		for _, g := range groups {
			if err := removeMember(r, tx, g, principal); err != nil {
				return err
			}
		}
		return tx.RemovePrincipal(principal)
	})
	if err != nil {
		return err
	}
	r.Logger().Warn("user data deleted", "principal", principal, "objects", len(events), "by", r.Identity().UserID)
	return r.JSON(http.StatusOK, map[string]any{"data": map[string]any{"principal": principal}})
}

// removeMember takes principal out of a group's members.
func removeMember(r *resource.Request, tx storage.Tx, groupURI, principal string) error {
	if err := tx.RemoveUserPrincipal(principal, groupURI); err != nil {
		return err
	}
	loc, ok := r.Objects().Locate(groupURI)
	if !ok {
		return nil
	}
	g, err := tx.Get(loc.Ref, loc.ID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	list, _ := g["members"].([]any)
	var kept []any
	for _, m := range list {
		if m != principal {
			kept = append(kept, m)
		}
	}
	if kept == nil {
		kept = []any{}
	}
	g["members"] = kept
	delete(g, "last_modified")
	_, err = tx.Replace(loc.Ref, g)
	return err
}
