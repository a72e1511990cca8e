// Package storage defines the generic object store that every Nimbus resource
// lives in, and the typed errors its backends return.
//
// An object is a JSON document with at least an "id" and a "last_modified"
// field. Objects are grouped in lists; a list is named by a Ref, the pair of a
// resource name ("bucket", "record", or a plugin's own) and the URI of its
// parent object ("" for top-level resources, "/buckets/blog/collections/posts"
// for records). The store knows nothing of HTTP or of what permissions mean:
// it keeps objects, their tombstones, the timestamp of every list, and the
// access control entries the permissions package interprets.
//
// Every read and write happens inside a transaction opened with
// Backend.View or Backend.Update. Update commits the object writes and the
// ACL writes made by its function together, or none of them when the
// function returns an error, which is what the batch endpoint and "create an
// object and set its ACL" rely on. Backends may run the function more than
// once (for example when grouping concurrent writers into one commit), so it
// must not keep side effects outside the transaction between runs.
//
// Timestamps are assigned by the store inside the write transaction: each
// write to a list gets a last_modified in milliseconds strictly greater than
// every earlier one in that list, whatever the clock does, across concurrent
// writers and restarts. Deleting an object leaves a tombstone
// ({"id", "last_modified", "deleted": true}) that polling clients see with a
// last_modified filter, until it is purged.
//
// Queries are plain data (Filter, Sort, the keyset position After, Limit) so
// that a SQL backend can translate them; Match and Compare give their exact
// meaning, which the embedded backends evaluate directly. Lists sorted by
// last_modified are walked in index order and stop at the limit, so a page
// never costs more than its size; other sorts keep only the best Limit rows
// in memory.
package storage
