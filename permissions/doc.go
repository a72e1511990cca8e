// Package permissions decides who may do what, without knowing anything of
// HTTP.
//
// A request carries principals: the user id ("account:alice"),
// system.Everyone, system.Authenticated when someone is logged in, and the
// URIs of the groups the user belongs to. Every object may have an ACL,
// mapping permission names to principals, kept by the storage backend
// together with an inverse index (principal to objects), so that "which
// records may these principals read" is answered without reading every
// record.
//
// Permissions are inherited down the object tree: write on a bucket grants
// write on its collections and records, read on a collection grants read on
// its records, and so on. The rules are data (a Tree), built at start-up
// from the entries each plugin declares with its resources (the kinto plugin
// declares Kinto's buckets, groups, collections and records), never a
// global. Settings such as collection_write_principals grant a permission on
// every object of a type; they are checked along with the stored ACLs.
//
// The Authorizer combines the three: given the object's chain of ancestors
// (closest first, ending at the root), the wanted permission and the
// caller's principals, it answers whether any granting (resource,
// permission) pair holds, from settings or from an ACL on the chain.
// Objects that do not exist yet are authorized the same way, so that a
// caller allowed to read a collection gets 404 rather than 403 for a
// missing record in it.
package permissions
