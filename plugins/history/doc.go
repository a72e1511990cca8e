// Package history is the history plugin: every change of a bucket, group,
// collection or record adds an entry to its bucket's history, written in
// the same transaction as the change (PLUG-HIST).
//
// Entries are a read-only resource under each bucket
// (/buckets/{bid}/history) with a fixed schema. Each entry carries its own
// read ACL: the readers and writers of the bucket, of the collection and
// of the object at the time of the change, so that later permission
// changes do not hide older entries. Deleting a bucket purges its history
// with everything else under it.
package history
