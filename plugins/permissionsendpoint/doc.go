// Package permissionsendpoint serves GET /permissions (PERM-12): every
// object the caller holds a permission on, through their own principals
// in the object's ACL or through settings, answered from the inverse ACL
// index rather than by reading every object.
package permissionsendpoint
