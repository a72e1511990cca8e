// Package counters is the counters plugin (PLUG-CNT): GET
// /v1/__counters__ (public) answers how many objects and tombstones of
// each resource type the server holds.
//
// The counts are maintained, not recounted on each call: the plugin keeps
// the count of every list, and a list is counted again only after a
// commit changed it (resource.Registry.OnCommit on this instance; on a
// shared PostgreSQL, the backend's change notifications). A list's live
// count is its stored size (no read of its objects on bolt); its
// tombstones are counted from its index.
package counters
