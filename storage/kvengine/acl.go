package kvengine

import (
	"bytes"
	"encoding/json"
	"sort"

	"github.com/nimbus-server/nimbus/storage"
)

func aclIndexKey(principal, uri, perm string) []byte {
	k := make([]byte, 0, len(principal)+len(uri)+len(perm)+2)
	k = append(k, principal...)
	k = append(k, 0)
	k = append(k, uri...)
	k = append(k, 0)
	return append(k, perm...)
}

// GetACL implements storage.Tx.
func (t *Tx) GetACL(uri string) (storage.ACL, error) {
	v := t.kv.Bucket("a").Get([]byte(uri))
	if v == nil {
		return storage.ACL{}, nil
	}
	var acl storage.ACL
	if err := json.Unmarshal(v, &acl); err != nil {
		return nil, &storage.BackendError{Op: "decode acl", Err: err}
	}
	return acl, nil
}

// GetACLs implements storage.Tx.
func (t *Tx) GetACLs(uris []string) (map[string]storage.ACL, error) {
	out := make(map[string]storage.ACL, len(uris))
	for _, u := range uris {
		acl, err := t.GetACL(u)
		if err != nil {
			return nil, err
		}
		if len(acl) > 0 {
			out[u] = acl
		}
	}
	return out, nil
}

// normalize drops empty entries and duplicate principals, sorting each list
// so the stored form is canonical.
func normalize(acl storage.ACL) storage.ACL {
	out := storage.ACL{}
	for perm, ps := range acl {
		seen := map[string]bool{}
		var list []string
		for _, p := range ps {
			if !seen[p] {
				seen[p] = true
				list = append(list, p)
			}
		}
		if len(list) > 0 {
			sort.Strings(list)
			out[perm] = list
		}
	}
	return out
}

// SetACL implements storage.Tx.
func (t *Tx) SetACL(uri string, acl storage.ACL) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := t.unindex(uri); err != nil {
		return err
	}
	acl = normalize(acl)
	if len(acl) == 0 {
		return t.kv.Bucket("a").Delete([]byte(uri))
	}
	data, err := json.Marshal(acl)
	if err != nil {
		return &storage.BackendError{Op: "encode acl", Err: err}
	}
	if err := t.kv.Bucket("a").Put([]byte(uri), data); err != nil {
		return err
	}
	idx := t.kv.Bucket("i")
	for perm, ps := range acl {
		for _, p := range ps {
			if err := idx.Put(aclIndexKey(p, uri, perm), []byte{}); err != nil {
				return err
			}
		}
	}
	return nil
}

// unindex removes the inverse index entries of uri's current ACL.
func (t *Tx) unindex(uri string) error {
	old, err := t.GetACL(uri)
	if err != nil {
		return err
	}
	idx := t.kv.Bucket("i")
	for perm, ps := range old {
		for _, p := range ps {
			if err := idx.Delete(aclIndexKey(p, uri, perm)); err != nil {
				return err
			}
		}
	}
	return nil
}

// DeleteACLs implements storage.Tx.
func (t *Tx) DeleteACLs(uri string) error {
	if err := t.writable(); err != nil {
		return err
	}
	uris := []string{}
	if t.kv.Bucket("a").Get([]byte(uri)) != nil {
		uris = append(uris, uri)
	}
	prefixScan(t.kv.Bucket("a"), []byte(uri+"/"), func(k, _ []byte) bool {
		uris = append(uris, string(k))
		return true
	})
	for _, u := range uris {
		if err := t.unindex(u); err != nil {
			return err
		}
		if err := t.kv.Bucket("a").Delete([]byte(u)); err != nil {
			return err
		}
	}
	return nil
}

// Accessible implements storage.Tx.
func (t *Tx) Accessible(principals []string, prefix string) (map[string][]string, error) {
	out := map[string][]string{}
	idx := t.kv.Bucket("i")
	for _, p := range principals {
		pk := append([]byte(p), 0)
		scan := append(bytes.Clone(pk), prefix...)
		prefixScan(idx, scan, func(k, _ []byte) bool {
			rest := k[len(pk):]
			sep := bytes.LastIndexByte(rest, 0)
			if sep < 0 {
				return true
			}
			uri, perm := string(rest[:sep]), string(rest[sep+1:])
			for _, have := range out[uri] {
				if have == perm {
					return true
				}
			}
			out[uri] = append(out[uri], perm)
			return true
		})
	}
	return out, nil
}

// AddUserPrincipal implements storage.Tx.
func (t *Tx) AddUserPrincipal(user, principal string) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := t.kv.Bucket("u").Put([]byte(user+"\x00"+principal), []byte{}); err != nil {
		return err
	}
	return t.kv.Bucket("p").Put([]byte(principal+"\x00"+user), []byte{})
}

// RemoveUserPrincipal implements storage.Tx.
func (t *Tx) RemoveUserPrincipal(user, principal string) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := t.kv.Bucket("u").Delete([]byte(user + "\x00" + principal)); err != nil {
		return err
	}
	return t.kv.Bucket("p").Delete([]byte(principal + "\x00" + user))
}

// RemovePrincipal implements storage.Tx.
func (t *Tx) RemovePrincipal(principal string) error {
	if err := t.writable(); err != nil {
		return err
	}
	var users []string
	prefixScan(t.kv.Bucket("p"), []byte(principal+"\x00"), func(k, _ []byte) bool {
		users = append(users, string(k[len(principal)+1:]))
		return true
	})
	for _, u := range users {
		if err := t.RemoveUserPrincipal(u, principal); err != nil {
			return err
		}
	}
	return nil
}

// UserPrincipals implements storage.Tx.
func (t *Tx) UserPrincipals(users []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, u := range users {
		prefixScan(t.kv.Bucket("u"), []byte(u+"\x00"), func(k, _ []byte) bool {
			p := string(k[len(u)+1:])
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
			return true
		})
	}
	return out, nil
}
