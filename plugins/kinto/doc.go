// Package kinto declares Kinto's four resources (buckets, collections,
// groups, records) on the resource engine, through the same Registry a
// third-party plugin uses. It is always enabled.
//
// Groups turn their members into principals: every member of
// /buckets/b/groups/g holds that URI as a principal from its next request
// on; removing a member or deleting the group takes it away.
package kinto
