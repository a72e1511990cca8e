// Package changes is the changes plugin (PLUG-RT): every plural endpoint
// also answers GET with Accept: text/event-stream as a Server-Sent Events
// stream of the list's changes, first those after _since or Last-Event-ID
// (the catch-up), then each change as it commits.
//
// Delivery reads storage, never event payloads: a commit wakes the hub of
// each list it touched (resource.Registry.OnCommit on this instance, the
// backend's ChangeWatcher for every instance of a shared PostgreSQL, and
// Kinto writing the same database), and the hub reads what changed after
// the last timestamp it read, once for every stream of the list. Each
// list's timestamps increase in commit order, so a read after a wake-up
// sees every change since the previous read: nothing is missed between
// the catch-up and the live phase or while a reader is slow, and a stream
// skips what it already sent, so nothing is sent twice.
//
// Who sees what is decided per batch of changes, with the rules of a list
// read (PERM-07), once per user of the list's streams; the per-stream work
// is the filters, _fields and the writing. Streams end when their
// credential no longer authenticates (checked every
// stream_recheck_seconds), when the caller can no longer read the list,
// when a slow reader falls more than stream_buffer_events behind, or when
// the server shuts down.
package changes
