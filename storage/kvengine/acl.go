package kvengine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"sort"
	"strings"

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
	if acl, ok := t.memo.acls[uri]; ok {
		return acl, nil
	}
	acl := storage.ACL{}
	if v := t.bucket("a").Get([]byte(uri)); v != nil {
		var err error
		if acl, err = decodeACL(v); err != nil {
			return nil, err
		}
	}
	if t.memo.acls == nil {
		t.memo.acls = map[string]storage.ACL{}
	}
	t.memo.acls[uri] = acl
	return acl, nil
}

// encodeACL writes an ACL as: uvarint count of permissions, then for each
// the name and the principals, strings being uvarint length + bytes.
// It decodes several times faster than JSON, and ACLs are read on every
// request.
func encodeACL(acl storage.ACL) []byte {
	perms := make([]string, 0, len(acl))
	for p := range acl {
		perms = append(perms, p)
	}
	sort.Strings(perms)
	var b []byte
	b = binary.AppendUvarint(b, uint64(len(perms)))
	str := func(s string) { b = binary.AppendUvarint(b, uint64(len(s))); b = append(b, s...) }
	for _, p := range perms {
		str(p)
		b = binary.AppendUvarint(b, uint64(len(acl[p])))
		for _, pr := range acl[p] {
			str(pr)
		}
	}
	return b
}

var errBadACL = &storage.BackendError{Op: "decode acl", Err: errors.New("corrupt ACL record")}

func decodeACL(b []byte) (storage.ACL, error) {
	next := func() (uint64, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 {
			return 0, false
		}
		b = b[k:]
		return n, true
	}
	str := func() (string, bool) {
		n, ok := next()
		if !ok || n > uint64(len(b)) {
			return "", false
		}
		s := string(b[:n])
		b = b[n:]
		return s, true
	}
	count, ok := next()
	if !ok || count > uint64(len(b)) {
		return nil, errBadACL
	}
	acl := make(storage.ACL, count)
	for i := uint64(0); i < count; i++ {
		perm, ok := str()
		n, ok2 := next()
		if !ok || !ok2 || n > uint64(len(b)) {
			return nil, errBadACL
		}
		list := make([]string, 0, n)
		for j := uint64(0); j < n; j++ {
			p, ok := str()
			if !ok {
				return nil, errBadACL
			}
			list = append(list, p)
		}
		acl[perm] = list
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
	out := make(storage.ACL, len(acl))
	for perm, ps := range acl {
		if len(ps) == 0 {
			continue
		}
		list := slices.Clone(ps)
		sort.Strings(list)
		out[perm] = slices.Compact(list)
	}
	return out
}

// SetACL implements storage.Tx.
func (t *Tx) SetACL(uri string, acl storage.ACL) error {
	if err := t.writable(); err != nil {
		return err
	}
	return t.storeACL(uri, prepareACL(acl))
}

// preparedACL is an ACL normalised and encoded, work that needs no
// transaction (WriteMany does it for a page outside its write loop).
type preparedACL struct {
	acl storage.ACL
	enc []byte
}

func prepareACL(acl storage.ACL) preparedACL {
	acl = normalize(acl)
	if len(acl) == 0 {
		return preparedACL{}
	}
	return preparedACL{acl: acl, enc: encodeACL(acl)}
}

// storeACL replaces uri's ACL and its inverse index entries.
func (t *Tx) storeACL(uri string, p preparedACL) error {
	defer func() { delete(t.memo.acls, uri) }() // after unindex, which reads the old ACL
	if err := t.unindex(uri); err != nil {
		return err
	}
	if p.enc == nil {
		return t.bucket("a").Delete([]byte(uri))
	}
	if err := t.bucket("a").Put([]byte(uri), p.enc); err != nil {
		return err
	}
	idx := t.bucket("i")
	for perm, ps := range p.acl {
		for _, pr := range ps {
			if err := idx.Put(aclIndexKey(pr, uri, perm), []byte{}); err != nil {
				return err
			}
		}
	}
	return nil
}

// unindex removes the inverse index entries of uri's current ACL.
func (t *Tx) unindex(uri string) error {
	// The stored ACL, not the memo's: the caller is about to change it.
	var old storage.ACL
	if v := t.bucket("a").Get([]byte(uri)); v != nil {
		var err error
		if old, err = decodeACL(v); err != nil {
			return err
		}
	}
	idx := t.bucket("i")
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
	defer func() { t.memo.acls = nil }()
	uris := []string{}
	if t.bucket("a").Get([]byte(uri)) != nil {
		uris = append(uris, uri)
	}
	prefixScan(t.bucket("a"), []byte(uri+"/"), func(k, _ []byte) bool {
		uris = append(uris, string(k))
		return true
	})
	for _, u := range uris {
		if err := t.unindex(u); err != nil {
			return err
		}
		if err := t.bucket("a").Delete([]byte(u)); err != nil {
			return err
		}
	}
	return nil
}

// Accessible implements storage.Tx.
func (t *Tx) Accessible(principals []string, prefix string) (map[string][]string, error) {
	out := map[string][]string{}
	idx := t.bucket("i")
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
	t.memo.principals = nil
	if err := t.bucket("u").Put([]byte(user+"\x00"+principal), []byte{}); err != nil {
		return err
	}
	return t.bucket("p").Put([]byte(principal+"\x00"+user), []byte{})
}

// RemoveUserPrincipal implements storage.Tx.
func (t *Tx) RemoveUserPrincipal(user, principal string) error {
	if err := t.writable(); err != nil {
		return err
	}
	t.memo.principals = nil
	if err := t.bucket("u").Delete([]byte(user + "\x00" + principal)); err != nil {
		return err
	}
	return t.bucket("p").Delete([]byte(principal + "\x00" + user))
}

// RemovePrincipal implements storage.Tx.
func (t *Tx) RemovePrincipal(principal string) error {
	if err := t.writable(); err != nil {
		return err
	}
	var users []string
	prefixScan(t.bucket("p"), []byte(principal+"\x00"), func(k, _ []byte) bool {
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
	key := strings.Join(users, "\x00")
	if ps, ok := t.memo.principals[key]; ok {
		return ps, nil
	}
	out := []string{}
	seen := map[string]bool{}
	for _, u := range users {
		prefixScan(t.bucket("u"), []byte(u+"\x00"), func(k, _ []byte) bool {
			p := string(k[len(u)+1:])
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
			return true
		})
	}
	if t.memo.principals == nil {
		t.memo.principals = map[string][]string{}
	}
	t.memo.principals[key] = out
	return out, nil
}
