package postgres

import (
	"slices"
	"sort"

	"github.com/nimbus-server/nimbus/storage"
)

func (t *pgTx) GetACL(uri string) (storage.ACL, error) {
	if len(t.ownACLs) == 0 && !t.tc.allACLs && !t.tc.acls.has(uri) && t.cached() {
		// The usual case, an ACL read for an authorization: from the
		// cache, without the maps GetACLs builds.
		if acl, ok := lookup(t.cache, aclsOf, uri); ok {
			return copyACL(acl), nil
		}
	}
	acls, err := t.GetACLs([]string{uri})
	if err != nil {
		return nil, err
	}
	if acl, ok := acls[uri]; ok {
		return acl, nil
	}
	return storage.ACL{}, nil
}

func (t *pgTx) GetACLs(uris []string) (map[string]storage.ACL, error) {
	out := make(map[string]storage.ACL, len(uris))
	rest := uris
	if len(t.ownACLs) > 0 && !t.tc.allACLs {
		// ACLs this transaction set are answered from memory.
		rest = nil
		for _, u := range uris {
			if acl, ok := t.ownACLs[u]; !ok {
				rest = append(rest, u)
			} else if len(acl) > 0 {
				out[u] = copyACL(acl)
			}
		}
	}
	if len(rest) == 0 {
		return out, nil
	}
	if t.tc.hasACL(rest) || !t.cached() {
		read, err := t.readACLs(rest)
		for u, acl := range read {
			out[u] = acl
		}
		return out, err
	}
	var missing []string
	for _, u := range rest {
		acl, ok := lookup(t.cache, aclsOf, u)
		switch {
		case !ok:
			missing = append(missing, u)
		case len(acl) > 0:
			out[u] = copyACL(acl)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	gen := t.cache.gen.Load()
	read, err := t.readACLs(missing)
	if err != nil {
		return nil, err
	}
	t.cache.putACLs(missing, read, gen)
	for u, acl := range read {
		out[u] = acl
	}
	return out, nil
}

func (t *pgTx) readACLs(uris []string) (map[string]storage.ACL, error) {
	rows, err := t.tx.Query(t.ctx, `SELECT object_id, permission, principal FROM access_control_entries
	  WHERE object_id = ANY($1) ORDER BY principal`, uris)
	if err != nil {
		return nil, wrap("acl", err)
	}
	defer rows.Close()
	out := map[string]storage.ACL{}
	for rows.Next() {
		var uri, perm, p string
		if err := rows.Scan(&uri, &perm, &p); err != nil {
			return nil, wrap("acl", err)
		}
		if out[uri] == nil {
			out[uri] = storage.ACL{}
		}
		out[uri][perm] = append(out[uri][perm], p)
	}
	return out, wrap("acl", rows.Err())
}

func (t *pgTx) SetACL(uri string, acl storage.ACL) error {
	if err := t.writable(); err != nil {
		return err
	}
	t.tc.addACL(uri)
	if t.ownACLs == nil {
		t.ownACLs = map[string]storage.ACL{}
	}
	t.ownACLs[uri] = storedACL(acl)
	stmts := []stmt{{sql: `DELETE FROM access_control_entries WHERE object_id = $1`, args: []any{uri}, kind: kindACLDelete}}
	var perms, principals []string
	for perm, ps := range acl {
		for _, p := range ps {
			perms = append(perms, perm)
			principals = append(principals, p)
		}
	}
	if len(perms) > 0 {
		stmts = append(stmts, stmt{sql: `INSERT INTO access_control_entries (object_id, permission, principal)
	  SELECT $1, perm, principal FROM unnest($2::TEXT[], $3::TEXT[]) AS t(perm, principal) ON CONFLICT DO NOTHING`,
			args: []any{uri, perms, principals}, kind: kindACLInsert})
	}
	return t.later(stmts...)
}

func (t *pgTx) DeleteACLs(uri string) error {
	if err := t.writable(); err != nil {
		return err
	}
	t.tc.allACLs = true
	return t.exec("acl", `DELETE FROM access_control_entries WHERE object_id = $1 OR starts_with(object_id, $2)`, uri, uri+"/")
}

func (t *pgTx) Accessible(principals []string, prefix string) (map[string][]string, error) {
	rows, err := t.tx.Query(t.ctx, `SELECT DISTINCT object_id, permission FROM access_control_entries
	  WHERE principal = ANY($1) AND starts_with(object_id, $2)`, principals, prefix)
	if err != nil {
		return nil, wrap("acl", err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var uri, perm string
		if err := rows.Scan(&uri, &perm); err != nil {
			return nil, wrap("acl", err)
		}
		out[uri] = append(out[uri], perm)
	}
	return out, wrap("acl", rows.Err())
}

func (t *pgTx) AddUserPrincipal(user, principal string) error {
	if err := t.writable(); err != nil {
		return err
	}
	t.tc.principals = true
	return t.later(stmt{sql: `INSERT INTO user_principals (user_id, principal) VALUES ($1, $2) ON CONFLICT DO NOTHING`, args: []any{user, principal}})
}

func (t *pgTx) RemoveUserPrincipal(user, principal string) error {
	if err := t.writable(); err != nil {
		return err
	}
	t.tc.principals = true
	return t.later(stmt{sql: `DELETE FROM user_principals WHERE user_id = $1 AND principal = $2`, args: []any{user, principal}})
}

func (t *pgTx) RemovePrincipal(principal string) error {
	if err := t.writable(); err != nil {
		return err
	}
	t.tc.principals = true
	return t.exec("principals", `DELETE FROM user_principals WHERE principal = $1`, principal)
}

func (t *pgTx) UserPrincipals(users []string) ([]string, error) {
	if t.tc.principals || !t.cached() {
		return t.readPrincipals(users)
	}
	seen := map[string]bool{}
	var out, missing []string
	for _, u := range users {
		ps, ok := lookup(t.cache, principalsOf, u)
		if !ok {
			missing = append(missing, u)
			continue
		}
		for _, p := range ps {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	gen := t.cache.gen.Load()
	byUser := make(map[string][]string, len(missing))
	for _, u := range missing {
		byUser[u] = []string{}
	}
	rows, err := t.tx.Query(t.ctx, `SELECT user_id, principal FROM user_principals WHERE user_id = ANY($1)`, missing)
	if err != nil {
		return nil, wrap("principals", err)
	}
	defer rows.Close()
	for rows.Next() {
		var u, p string
		if err := rows.Scan(&u, &p); err != nil {
			return nil, wrap("principals", err)
		}
		byUser[u] = append(byUser[u], p)
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("principals", err)
	}
	t.cache.putPrincipals(byUser, gen)
	return out, nil
}

func (t *pgTx) readPrincipals(users []string) ([]string, error) {
	rows, err := t.tx.Query(t.ctx, `SELECT DISTINCT principal FROM user_principals WHERE user_id = ANY($1)`, users)
	if err != nil {
		return nil, wrap("principals", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, wrap("principals", err)
		}
		out = append(out, p)
	}
	return out, wrap("principals", rows.Err())
}

// storedACL is acl as it reads back from access_control_entries: no empty
// permission, principals sorted without duplicates.
func storedACL(acl storage.ACL) storage.ACL {
	out := storage.ACL{}
	for perm, ps := range acl {
		list := append([]string(nil), ps...)
		sort.Strings(list)
		list = slices.Compact(list)
		if len(list) > 0 {
			out[perm] = list
		}
	}
	return out
}
