// Package attachments is kinto-attachment 9.0 for Nimbus (PLUG-ATT):
// files attached to records through
// /buckets/{bid}/collections/{cid}/records/{id}/attachment, as
// kinto-http.js, kinto.js, kinto-http.py and Kinto Admin send them.
//
// A file is stored under a name the server makes (a random UUID, or the
// client's name made safe), either in a folder of the local filesystem
// (attachment.base_path, Kinto's only local option) or, without it, in
// the storage backend itself, cut in chunks (every instance on one
// PostgreSQL database reaches the same files). An upload is read as it
// arrives into a temporary file, every check is made, and only then is
// the file stored and the record written; a write that fails removes
// what it stored, and the old file goes only once the new record is
// committed.
//
// Which files belong to which record is kept as Kinto keeps it (objects
// of the "attachments" list under "__attachments__", with the record's,
// collection's and bucket's URIs), so that deleting a record, a
// collection or a bucket removes their files, and Kinto and Nimbus
// sharing a database and a folder agree. What Nimbus serves itself
// (base_url unset) lives under /attachments/.
package attachments
