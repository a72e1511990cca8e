package resource

import "github.com/nimbus-server/nimbus/storage"

// memoTx remembers the ACLs read during one read-only transaction, since
// answering one request reads the same ACLs several times.
type memoTx struct {
	storage.Tx
	acls map[string]storage.ACL
}

func memo(tx storage.Tx) storage.Tx {
	if _, ok := tx.(*memoTx); ok {
		return tx
	}
	return &memoTx{Tx: tx, acls: map[string]storage.ACL{}}
}

func (m *memoTx) GetACL(uri string) (storage.ACL, error) {
	if acl, ok := m.acls[uri]; ok {
		return acl, nil
	}
	acl, err := m.Tx.GetACL(uri)
	if err == nil {
		m.acls[uri] = acl
	}
	return acl, err
}

// ListRaw forwards to the transaction when it is a storage.RawLister.
func (m *memoTx) ListRaw(ref storage.Ref, q storage.Query) ([][]byte, bool, error) {
	if rl, ok := m.Tx.(storage.RawLister); ok {
		return rl.ListRaw(ref, q)
	}
	return nil, false, nil
}

func (m *memoTx) GetACLs(uris []string) (map[string]storage.ACL, error) {
	out := make(map[string]storage.ACL, len(uris))
	for _, u := range uris {
		acl, err := m.GetACL(u)
		if err != nil {
			return nil, err
		}
		if len(acl) > 0 {
			out[u] = acl
		}
	}
	return out, nil
}

var _ storage.ExistenceChecker = (*memoTx)(nil)

// ExistingIDs forwards to the transaction (storage.ExistenceChecker when
// it is one).
func (m *memoTx) ExistingIDs(ref storage.Ref, ids []string) (map[string]bool, error) {
	return storage.ExistingIDs(m.Tx, ref, ids)
}
