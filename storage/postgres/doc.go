// Package postgres is the PostgreSQL storage backend: many stateless Nimbus
// instances can share one database, which uses Kinto 26's own table layout
// (objects, timestamps, access_control_entries, user_principals, metadata),
// so a Kinto database works with Nimbus unchanged and the other way round.
//
// Timestamps stay strictly increasing per list across concurrent
// transactions and instances: a write takes a transaction-scoped advisory
// lock on its list, reads the latest timestamp and stores the next one.
// Concurrent writes of an instance share one transaction and one commit
// (combine.go), with as few round trips as possible (savepoint.go,
// coalesce.go), the writes of finished large calls going to the server
// while the next calls run (early.go); docs/architecture.md, "The PostgreSQL protocol", gives
// the rules every change here must keep.
// Lists in timestamp order are keyset queries on the
// (parent_id, resource_name, last_modified) index that stop at the page
// size; other orders are computed from a scan of the list, keeping only the
// page in memory.
//
// Each instance caches the rows requests read on every call (cache.go);
// row triggers NOTIFY every instance of each change, and a read first
// synchronises with the listening connection (listen.go), so the cache is
// never stale. What it keeps is bounded in entries and in bytes
// (cachebytes.go).
// Accounts are stored the way Kinto stores them, each under its own id as
// parent_id.
package postgres
