// Package kvengine implements storage.Tx once, on top of any ordered
// key/value store with cursors and transactions (bbolt, or the in-memory
// sorted map of storage/memory), so that the embedded backends share one
// meaning of every operation.
//
// Layout, as flat buckets of byte keys (L is a list key: parent URI, NUL,
// resource name, NUL):
//
//	o  L + id                         -> flag byte (0 live, 1 tombstone) + object JSON
//	a  uri                            -> ACL, length-prefixed binary (see acl.go)
//	t  L + big-endian ts + id         -> 1 byte: 1 for a tombstone, 0 otherwise
//	m  L                              -> list timestamp and live count (16 bytes)
//	i  principal NUL uri NUL perm     -> empty (inverse ACL index)
//	u  user NUL principal             -> empty (group memberships)
//	p  principal NUL user             -> empty (the reverse of u)
//
// A get is one lookup; the default order (-last_modified) walks t backwards
// from the keyset position and stops at the limit; everything under a
// parent shares the key prefix "parent NUL" or "parent /", so cascading
// deletes are prefix scans.
package kvengine
