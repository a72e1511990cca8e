package postgres

// The schema is Kinto 26's PostgreSQL layout (storage schema version 26,
// permission schema version 2), so that Kinto and Nimbus can share a
// database. The statements below are written for Nimbus from that layout.
const (
	storageVersion    = "26"
	permissionVersion = "2"
)

var schemaSQL = []string{
	`CREATE OR REPLACE FUNCTION as_epoch(ts TIMESTAMP) RETURNS BIGINT AS $$
	 BEGIN RETURN (EXTRACT(EPOCH FROM ts) * 1000)::BIGINT; END;
	 $$ LANGUAGE plpgsql IMMUTABLE`,
	`CREATE OR REPLACE FUNCTION from_epoch(epoch BIGINT) RETURNS TIMESTAMP AS $$
	 BEGIN RETURN TIMESTAMP WITH TIME ZONE 'epoch' + epoch * INTERVAL '1 millisecond'; END;
	 $$ LANGUAGE plpgsql IMMUTABLE`,
	`CREATE TABLE IF NOT EXISTS objects (
	   id TEXT COLLATE "C" NOT NULL,
	   parent_id TEXT COLLATE "C" NOT NULL,
	   resource_name TEXT COLLATE "C" NOT NULL,
	   last_modified TIMESTAMP NOT NULL,
	   data JSONB NOT NULL DEFAULT '{}'::JSONB,
	   deleted BOOLEAN NOT NULL,
	   PRIMARY KEY (id, parent_id, resource_name))`,
	`CREATE UNIQUE INDEX IF NOT EXISTS idx_objects_parent_id_resource_name_last_modified
	   ON objects(parent_id, resource_name, last_modified DESC)`,
	`CREATE INDEX IF NOT EXISTS idx_objects_last_modified_epoch ON objects(as_epoch(last_modified))`,
	`CREATE INDEX IF NOT EXISTS idx_objects_resource_name_parent_id_deleted ON objects(resource_name, parent_id, deleted)`,
	`CREATE INDEX IF NOT EXISTS idx_objects_parent_id_record_last_modified
	   ON objects (parent_id, last_modified DESC) WHERE resource_name = 'record'`,
	`CREATE INDEX IF NOT EXISTS idx_objects_history_userid_and_resourcename
	   ON objects ((data->'user_id'), (data->'resource_name')) WHERE resource_name = 'history'`,
	`CREATE TABLE IF NOT EXISTS timestamps (
	   parent_id TEXT NOT NULL COLLATE "C",
	   resource_name TEXT NOT NULL COLLATE "C",
	   last_modified TIMESTAMP NOT NULL,
	   PRIMARY KEY (parent_id, resource_name))`,
	// Kinto relies on this trigger to stamp its writes; Nimbus stamps
	// its own (strictly after the previous value), which the trigger
	// leaves alone.
	bumpTimestampSQL,
	stampTriggerSQL[0],
	stampTriggerSQL[1],
	`CREATE TABLE IF NOT EXISTS user_principals (
	   user_id TEXT COLLATE "C", principal TEXT, PRIMARY KEY (user_id, principal))`,
	`CREATE TABLE IF NOT EXISTS access_control_entries (
	   object_id TEXT COLLATE "C", permission TEXT, principal TEXT,
	   PRIMARY KEY (object_id, permission, principal))`,
	`CREATE INDEX IF NOT EXISTS idx_access_control_entries_object_id ON access_control_entries(object_id)`,
	`CREATE INDEX IF NOT EXISTS idx_access_control_entries_permission ON access_control_entries(permission)`,
	`CREATE INDEX IF NOT EXISTS idx_access_control_entries_principal ON access_control_entries(principal)`,
	`CREATE TABLE IF NOT EXISTS metadata (name VARCHAR(128) NOT NULL, value VARCHAR(512) NOT NULL)`,
	`INSERT INTO metadata (name, value) VALUES ('created_at', NOW()::TEXT)`,
	`INSERT INTO metadata (name, value) VALUES ('storage_schema_version', '26')`,
	`INSERT INTO metadata (name, value) VALUES ('permission_schema_version', '2')`,
}

// bumpTimestampSQL is Kinto's stamping trigger function with two
// changes. A transaction of Nimbus, which stamps its rows itself under the
// list's lock, says so (stampedStmt) and skips the function's query of
// the list's latest timestamp, the largest part of a row's write cost.
// Any other writer (Kinto) first takes the list's advisory lock, the one
// Nimbus's writers hold until they commit (lockListSQL; an account row,
// which Kinto files under its own id, takes the lock of Nimbus's one
// accounts list). Kinto's writes are then stamped after every committed
// write of the list and commit in timestamp order with Nimbus's, so a
// _since reader misses none of them, and two writers never pick the same
// timestamp (which failed one of them on the unique index).
//
// If Kinto replaces the function with its own, Nimbus's writes stay
// correct and only pay that query again; Kinto's lose the ordering
// (Open warns).
const bumpTimestampSQL = `CREATE OR REPLACE FUNCTION bump_timestamp() RETURNS trigger AS $$
	 DECLARE previous BIGINT; current BIGINT;
	 BEGIN
	   IF current_setting('nimbus.stamped', true) = 'on' AND NEW.last_modified IS NOT NULL THEN RETURN NEW; END IF;
	   PERFORM nimbus_lock_list(CASE WHEN NEW.parent_id = NEW.id THEN '' ELSE NEW.parent_id END || ' ' || NEW.resource_name);
	   previous := NULL;
	   WITH existing AS (
	     (SELECT last_modified FROM objects
	       WHERE parent_id = NEW.parent_id AND resource_name = NEW.resource_name
	       ORDER BY last_modified DESC LIMIT 1)
	     UNION
	     (SELECT last_modified FROM timestamps
	       WHERE parent_id = NEW.parent_id AND resource_name = NEW.resource_name))
	   SELECT as_epoch(MAX(last_modified)) INTO previous FROM existing;
	   current := as_epoch(clock_timestamp()::TIMESTAMP);
	   IF previous IS NOT NULL AND previous >= current THEN current := previous + 1; END IF;
	   IF NEW.last_modified IS NULL OR (previous IS NOT NULL AND as_epoch(NEW.last_modified) = previous) THEN
	     NEW.last_modified := from_epoch(current);
	   END IF;
	   RETURN NEW;
	 END; $$ LANGUAGE plpgsql`

// stampTriggerSQL is Kinto's trigger on objects, with a WHEN clause that
// is bump_timestamp's own early return: a row Nimbus stamped does not
// call the function at all. PostgreSQL evaluates the clause without
// entering PL/pgSQL, which saves about 3 µs of the server's time a row
// (a POST writes two rows, a batch of 25 fifty). Kinto's rows, which
// come without a timestamp or from a transaction that is not Nimbus's,
// run it as before. If Kinto creates its trigger again (without the
// clause), only that saving is lost.
var stampTriggerSQL = [2]string{
	`DROP TRIGGER IF EXISTS tgr_objects_last_modified ON objects`,
	`CREATE TRIGGER tgr_objects_last_modified BEFORE INSERT OR UPDATE OF data ON objects
	   FOR EACH ROW WHEN (current_setting('nimbus.stamped', true) IS DISTINCT FROM 'on' OR NEW.last_modified IS NULL)
	   EXECUTE PROCEDURE bump_timestamp()`,
}

// lockListSQL takes a list's advisory lock (lockKey) for a writer that is
// not Nimbus. Only the first list a transaction locks is waited for, as a
// Nimbus write group's first call waits. A later one (a record's history
// entry, a batch's second collection) is tried for up to about 100 ms
// and, if still held, left unlocked, as Kinto alone would write it:
// waiting while holding a list's lock could close a cycle with a
// transaction waiting for that one, which PostgreSQL breaks only after a
// second, by failing one of them.
const lockListSQL = `CREATE OR REPLACE FUNCTION nimbus_lock_list(list TEXT) RETURNS void AS $$
	 DECLARE lockkey BIGINT; got BOOLEAN;
	 BEGIN
	   lockkey := hashtextextended(list, 7);
	   IF current_setting('nimbus.list_locked', true) = 'on' THEN
	     got := pg_try_advisory_xact_lock(lockkey);
	     FOR attempt IN 1..50 LOOP
	       EXIT WHEN got;
	       PERFORM pg_sleep(0.002);
	       got := pg_try_advisory_xact_lock(lockkey);
	     END LOOP;
	   ELSE
	     PERFORM pg_advisory_xact_lock(lockkey);
	     PERFORM set_config('nimbus.list_locked', 'on', true);
	   END IF;
	 END; $$ LANGUAGE plpgsql`

// lockTimestampsSQL makes a writer that is not Nimbus take the list's
// lock before it creates the list's timestamps row or changes it. Kinto
// creates that row when it first reads an empty list's timestamp, often
// in the request that then writes the list's first record: without the
// lock, that uncommitted row made a Nimbus group (which holds the lock
// and writes the row too) wait for Kinto's transaction while Kinto's
// record waited for the group's lock, a deadlock PostgreSQL broke after a
// second by failing one of them. Kinto's reads of a list that has its row
// (an INSERT ... ON CONFLICT DO NOTHING each time) take no lock.
var lockTimestampsSQL = []string{
	`CREATE OR REPLACE FUNCTION nimbus_lock_timestamps() RETURNS trigger AS $$
	 BEGIN
	   IF current_setting('nimbus.stamped', true) = 'on' THEN RETURN NEW; END IF;
	   IF TG_OP = 'INSERT' AND EXISTS (SELECT 1 FROM timestamps WHERE parent_id = NEW.parent_id AND resource_name = NEW.resource_name) THEN
	     RETURN NEW;
	   END IF;
	   PERFORM nimbus_lock_list(NEW.parent_id || ' ' || NEW.resource_name);
	   RETURN NEW;
	 END; $$ LANGUAGE plpgsql`,
	`DROP TRIGGER IF EXISTS nimbus_lock_timestamps ON timestamps`,
	`CREATE TRIGGER nimbus_lock_timestamps BEFORE INSERT OR UPDATE ON timestamps
	   FOR EACH ROW EXECUTE FUNCTION nimbus_lock_timestamps()`,
}

// stampedStmt marks a write transaction of Nimbus for bumpTimestampSQL.
var stampedStmt = stmt{sql: `SELECT set_config('nimbus.stamped', 'on', true)`, kind: kindSetup}
