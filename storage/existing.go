package storage

// ExistenceChecker is implemented by transactions that tell which of many
// ids of a list are live objects in fewer steps than one Exists each (on
// PostgreSQL, one statement for thousands instead of one round trip
// each). Use ExistingIDs, which falls back to Exists.
type ExistenceChecker interface {
	ExistingIDs(ref Ref, ids []string) (map[string]bool, error)
}

// ExistingIDs returns the ids of the list ref that name live objects
// (tombstones and missing ids are left out), as Exists would tell them
// one by one.
func ExistingIDs(tx Tx, ref Ref, ids []string) (map[string]bool, error) {
	if ec, ok := tx.(ExistenceChecker); ok {
		return ec.ExistingIDs(ref, ids)
	}
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		ok, err := tx.Exists(ref, id)
		if err != nil {
			return nil, err
		}
		if ok {
			out[id] = true
		}
	}
	return out, nil
}
