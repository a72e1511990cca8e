// Package permtest is the conformance suite of the permission layer:
// the ACL and membership cases every storage backend must pass (the
// inverse index, deletions under a URI, memberships) and the
// authorization cases of the Authorizer, run on Kinto's inheritance tree
// built through the public API (KintoTree), as plugins/kinto declares it.
// Backends call it from their own tests.
package permtest
