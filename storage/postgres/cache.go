package postgres

import (
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nimbus-server/nimbus/storage"
)

// The read cache keeps, per instance, the rows a request reads on every
// call (objects by key, the ACLs of URIs, the principals of users, and the
// counts and timestamps of lists), so an authenticated read of a cached
// record needs no round trip and a list page one.
//
// It stays exact across instances because the database tells every
// instance what changed: row triggers on objects, access_control_entries,
// user_principals and timestamps send a NOTIFY on channel nimbus_cache (see
// cacheSQL), whoever the writer is (another Nimbus or Kinto itself), and
// each instance LISTENs on a dedicated connection (listen.go). An instance also drops
// what its own write transaction touched as soon as it commits, before the
// write is answered. While the listening connection is down nothing is
// cached or served from the cache, and everything is dropped when it comes
// back, since notifications may have been missed meanwhile.
//
// A row read from the database is kept only if no invalidation arrived
// while it was being read (the generation did not move), so a read racing
// a write never stores what the write replaced.

const notifyChannel = "nimbus_cache"

// epoch is the origin of the monotonic instants the cache compares.
var epoch = time.Now()

// cacheSQL installs the notification triggers, the stamping function that
// lets Nimbus's own writes skip Kinto's query and makes Kinto's take the
// list lock (bumpTimestampSQL, lockListSQL), and the trigger that does the
// same for Kinto's timestamps rows (lockTimestampsSQL). It otherwise only
// adds functions and triggers of its own to Kinto's layout, so Kinto
// keeps working on the same database (and its writes invalidate Nimbus's
// caches too).
var cacheSQL = append([]string{
	lockListSQL,
	bumpTimestampSQL,
	stampTriggerSQL[0],
	stampTriggerSQL[1],
	// A payload over PostgreSQL's 8000-byte limit would fail the writing
	// transaction: such a change drops every cache instead.
	`CREATE OR REPLACE FUNCTION nimbus_notify(payload TEXT) RETURNS void AS $$
	 BEGIN
	   IF octet_length(payload) > 7900 THEN payload := '*'; END IF;
	   PERFORM pg_notify('nimbus_cache', payload);
	 END; $$ LANGUAGE plpgsql`,
	// An object's notification also names the change (create, update,
	// delete) and its timestamp, for change streams; the old row is named
	// on its own only when it is not the same object.
	`CREATE OR REPLACE FUNCTION nimbus_notify_object() RETURNS trigger AS $$
	 DECLARE action TEXT;
	 BEGIN
	   IF current_setting('nimbus.bulk', true) = 'on' THEN RETURN NULL; END IF;
	   IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND (OLD.resource_name, OLD.parent_id, OLD.id) IS DISTINCT FROM (NEW.resource_name, NEW.parent_id, NEW.id)) THEN
	     PERFORM nimbus_notify('o' || OLD.resource_name || chr(31) || OLD.parent_id || chr(31) || OLD.id);
	   END IF;
	   IF TG_OP <> 'DELETE' THEN
	     IF NEW.deleted THEN action := 'delete';
	     ELSIF TG_OP = 'INSERT' OR OLD.deleted THEN action := 'create';
	     ELSE action := 'update';
	     END IF;
	     PERFORM nimbus_notify('o' || NEW.resource_name || chr(31) || NEW.parent_id || chr(31) || NEW.id ||
	       chr(31) || action || chr(31) || as_epoch(NEW.last_modified));
	   END IF;
	   RETURN NULL;
	 END; $$ LANGUAGE plpgsql`,
	`CREATE OR REPLACE FUNCTION nimbus_notify_ace() RETURNS trigger AS $$
	 BEGIN
	   IF current_setting('nimbus.bulk', true) = 'on' THEN RETURN NULL; END IF;
	   IF TG_OP <> 'INSERT' THEN PERFORM nimbus_notify('a' || OLD.object_id); END IF;
	   IF TG_OP <> 'DELETE' THEN PERFORM nimbus_notify('a' || NEW.object_id); END IF;
	   RETURN NULL;
	 END; $$ LANGUAGE plpgsql`,
	`CREATE OR REPLACE FUNCTION nimbus_notify_principal() RETURNS trigger AS $$
	 BEGIN
	   IF TG_OP <> 'INSERT' THEN PERFORM nimbus_notify('u' || OLD.user_id); END IF;
	   IF TG_OP <> 'DELETE' THEN PERFORM nimbus_notify('u' || NEW.user_id); END IF;
	   RETURN NULL;
	 END; $$ LANGUAGE plpgsql`,
	`CREATE OR REPLACE FUNCTION nimbus_notify_timestamp() RETURNS trigger AS $$
	 BEGIN
	   IF TG_OP <> 'INSERT' THEN PERFORM nimbus_notify('t' || OLD.resource_name || chr(31) || OLD.parent_id); END IF;
	   IF TG_OP <> 'DELETE' THEN PERFORM nimbus_notify('t' || NEW.resource_name || chr(31) || NEW.parent_id); END IF;
	   RETURN NULL;
	 END; $$ LANGUAGE plpgsql`,
	`CREATE OR REPLACE FUNCTION nimbus_notify_all() RETURNS trigger AS $$
	 BEGIN PERFORM nimbus_notify('*'); RETURN NULL; END; $$ LANGUAGE plpgsql`,
	`DROP TRIGGER IF EXISTS nimbus_cache_objects ON objects`,
	`CREATE TRIGGER nimbus_cache_objects AFTER INSERT OR UPDATE OR DELETE ON objects
	   FOR EACH ROW WHEN (current_setting('nimbus.quiet', true) IS DISTINCT FROM 'on') EXECUTE FUNCTION nimbus_notify_object()`,
	`DROP TRIGGER IF EXISTS nimbus_cache_aces ON access_control_entries`,
	`CREATE TRIGGER nimbus_cache_aces AFTER INSERT OR UPDATE OR DELETE ON access_control_entries
	   FOR EACH ROW WHEN (current_setting('nimbus.quiet', true) IS DISTINCT FROM 'on') EXECUTE FUNCTION nimbus_notify_ace()`,
	`DROP TRIGGER IF EXISTS nimbus_cache_principals ON user_principals`,
	`CREATE TRIGGER nimbus_cache_principals AFTER INSERT OR UPDATE OR DELETE ON user_principals
	   FOR EACH ROW EXECUTE FUNCTION nimbus_notify_principal()`,
	`DROP TRIGGER IF EXISTS nimbus_cache_timestamps ON timestamps`,
	`CREATE TRIGGER nimbus_cache_timestamps AFTER INSERT OR UPDATE OR DELETE ON timestamps
	   FOR EACH ROW EXECUTE FUNCTION nimbus_notify_timestamp()`,
	`DROP TRIGGER IF EXISTS nimbus_cache_truncate_timestamps ON timestamps`,
	`CREATE TRIGGER nimbus_cache_truncate_timestamps AFTER TRUNCATE ON timestamps
	   FOR EACH STATEMENT EXECUTE FUNCTION nimbus_notify_all()`,
	`DROP TRIGGER IF EXISTS nimbus_cache_truncate_objects ON objects`,
	`CREATE TRIGGER nimbus_cache_truncate_objects AFTER TRUNCATE ON objects
	   FOR EACH STATEMENT EXECUTE FUNCTION nimbus_notify_all()`,
	`DROP TRIGGER IF EXISTS nimbus_cache_truncate_aces ON access_control_entries`,
	`CREATE TRIGGER nimbus_cache_truncate_aces AFTER TRUNCATE ON access_control_entries
	   FOR EACH STATEMENT EXECUTE FUNCTION nimbus_notify_all()`,
	`DROP TRIGGER IF EXISTS nimbus_cache_truncate_principals ON user_principals`,
	`CREATE TRIGGER nimbus_cache_truncate_principals AFTER TRUNCATE ON user_principals
	   FOR EACH STATEMENT EXECUTE FUNCTION nimbus_notify_all()`,
}, lockTimestampsSQL...)

// fixupSQL repairs what earlier Nimbus builds wrote differently from
// Kinto: accounts kept in one list (an empty parent_id) instead of each under
// its own id. It runs with every "nimbus migrate" and is a no-op once done.
var fixupSQL = []string{
	`UPDATE objects o SET parent_id = o.id
	   WHERE o.resource_name = 'account' AND o.parent_id = ''
	   AND NOT EXISTS (SELECT 1 FROM objects x WHERE x.id = o.id AND x.parent_id = o.id AND x.resource_name = 'account')`,
}

// staleMembershipsSQL removes the memberships of groups that do not
// exist, with every "nimbus migrate". Kinto 26.2 deletes a bucket's groups
// without their memberships, which then keep granting whatever names the
// group to its former members, and make them members of a group Kinto
// creates again at that URI. Group and bucket ids hold no "/", so a
// principal names one group only; a membership and its group are written
// in one transaction, so a group being created meanwhile keeps its members.
const staleMembershipsSQL = `DELETE FROM user_principals u
   WHERE u.principal LIKE '/buckets/%/groups/%'
   AND NOT EXISTS (SELECT 1 FROM objects g WHERE g.resource_name = 'group' AND NOT g.deleted
                   AND g.parent_id || '/groups/' || g.id = u.principal)`

// cacheTriggers is how many of the triggers above Open expects to find.
const cacheTriggers = 8

type objKey struct{ resource, parent, id string }

// cachedRow is a stored row, or the knowledge that there is none.
type cachedRow struct {
	found   bool
	data    []byte
	lm      int64
	deleted bool
}

// cache is the per-instance read cache; the zero value is disabled.
type cache struct {
	max int
	// barrierTimeout and pingEvery are the listener watchdog's timings
	// (listen.go).
	barrierTimeout, pingEvery time.Duration
	// maxBytes bounds rowBytes and pageBytes together, the bytes of the
	// rows and pages kept (cachebytes.go).
	maxBytes            int
	rowBytes, pageBytes int

	mu         sync.RWMutex
	enabled    bool
	objects    map[objKey]cachedRow
	acls       map[string]storage.ACL
	principals map[string][]string
	// counts holds the number of live objects of lists, and stamps their
	// timestamps, keyed by listID (any change of one of their rows drops
	// both; a change of the timestamps row drops the stamp).
	counts map[string]map[string]int // listID -> countKey -> count
	stamps map[string]int64
	// pages are list pages as read (listcache.go), dropped with counts.
	pages map[string]map[string]*cachedPage // listID -> pageKey -> rows
	// pending are the keys (objKey; list ids, ACL URIs and users as
	// strings; allPending for a whole kind) of this instance's commits in
	// flight: none is kept until the commit is over (committing.go).
	pending map[any]int

	// gen moves on every invalidation; fills check it (see keep).
	gen atomic.Uint64

	hits, misses atomic.Uint64

	// synced is when (since epoch) the latest successful barrier started.
	synced atomic.Int64

	// bmu guards the barriers (listen.go). conn is the listening
	// connection while the listener reads it; flying is the barrier
	// written and not yet answered, queued the one to write once it is
	// (shared by the readers that arrive meanwhile).
	bmu         sync.Mutex
	conn        net.Conn
	flying      *barrier
	flyingSince time.Time
	queued      *barrier

	// watch are the change watchers fed by the same notifications.
	watch *watchers
}

func newCache(max int) *cache {
	c := &cache{max: max, maxBytes: defaultCacheBytes, barrierTimeout: barrierTimeout, pingEvery: pingEvery}
	c.reset(false)
	return c
}

// reset drops everything and sets whether the cache may be used.
func (c *cache) reset(enabled bool) {
	c.mu.Lock()
	c.gen.Add(1)
	c.enabled = enabled
	c.objects = map[objKey]cachedRow{}
	c.acls = map[string]storage.ACL{}
	c.principals = map[string][]string{}
	c.counts = map[string]map[string]int{}
	c.stamps = map[string]int64{}
	c.pages = map[string]map[string]*cachedPage{}
	c.rowBytes, c.pageBytes = 0, 0
	c.mu.Unlock()
}

func (c *cache) on() bool {
	if c == nil {
		return false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.enabled
}

// trim drops arbitrary entries (map order is random) once a map is full.
func trim[K comparable, V any](m map[K]V, max int) {
	if len(m) < max {
		return
	}
	n := max / 8
	for k := range m {
		delete(m, k)
		if n--; n <= 0 {
			return
		}
	}
}

// lookup reads one entry of the map pick selects (under the lock, since
// reset replaces the maps).
func lookup[K comparable, V any](c *cache, pick func(*cache) map[K]V, k K) (V, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	v, ok := pick(c)[k]
	return v, ok && c.enabled
}

// keep stores an entry read from the database, unless an invalidation
// arrived since the read began (gen moved).
func keep[K comparable, V any](c *cache, pick func(*cache) map[K]V, k K, v V, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.enabled && c.gen.Load() == gen && !c.pendingLocked(k) {
		m := pick(c)
		trim(m, c.max)
		m[k] = v
	}
}

func objectsOf(c *cache) map[objKey]cachedRow   { return c.objects }
func stampsOf(c *cache) map[string]int64        { return c.stamps }
func aclsOf(c *cache) map[string]storage.ACL    { return c.acls }
func principalsOf(c *cache) map[string][]string { return c.principals }

// maxCountsPerList bounds the filter sets counted per list.
const maxCountsPerList = 64

func (c *cache) count(list, key string) (int, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n, ok := c.counts[list][key]
	return n, ok && c.enabled
}

func (c *cache) keepCount(list, key string, n int, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.enabled || c.gen.Load() != gen || c.pendingLocked(list) {
		return
	}
	m := c.counts[list]
	if m == nil || len(m) >= maxCountsPerList {
		trim(c.counts, c.max)
		m = map[string]int{}
		c.counts[list] = m
	}
	m[key] = n
}

// listID names a list in the counts map: its resource and row parent.
func listID(resource, parent string) string { return resource + "\x1f" + parent }

func (c *cache) putACLs(uris []string, acls map[string]storage.ACL, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.enabled || c.gen.Load() != gen {
		return
	}
	trim(c.acls, c.max)
	for _, u := range uris {
		if !c.pendingLocked(u) {
			c.acls[u] = copyACL(acls[u])
		}
	}
}

func (c *cache) putPrincipals(byUser map[string][]string, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.enabled || c.gen.Load() != gen {
		return
	}
	trim(c.principals, c.max)
	for u, ps := range byUser {
		if !c.pendingLocked(u) {
			c.principals[u] = ps
		}
	}
}

func copyACL(a storage.ACL) storage.ACL {
	out := make(storage.ACL, len(a))
	for p, ps := range a {
		out[p] = append([]string(nil), ps...)
	}
	return out
}

// touched records what a write transaction changed, to drop it from the
// cache once the transaction commits.
type touched struct {
	objects    keys[objKey]
	stamps     []string // listIDs whose timestamps row changed
	acls       keys[string]
	users      []string // users whose principals changed
	allObjects bool
	allACLs    bool
	principals bool
}

// keys is a list of keys, in the order they were added, indexed in a set
// once they are many (a write group of hundreds of creations asks about
// each of them).
type keys[K comparable] struct {
	list []K
	set  map[K]struct{}
}

// setFrom is how many keys make keys index them in a set.
const setFrom = 16

func (s *keys[K]) add(k K) {
	s.list = append(s.list, k)
	if s.set != nil {
		s.set[k] = struct{}{}
	}
}

func (s *keys[K]) has(k K) bool {
	if len(s.list) < setFrom {
		return slices.Contains(s.list, k)
	}
	if s.set == nil {
		s.set = make(map[K]struct{}, 2*len(s.list))
		for _, e := range s.list {
			s.set[e] = struct{}{}
		}
	}
	_, ok := s.set[k]
	return ok
}

// addObject records that the transaction wrote k.
func (t *touched) addObject(k objKey) { t.objects.add(k) }

// addACL records that the transaction changed the ACL of uri.
func (t *touched) addACL(uri string) { t.acls.add(uri) }

// hasObject tells whether the transaction wrote (or may have written) k.
func (t *touched) hasObject(k objKey) bool {
	return t.allObjects || t.objects.has(k)
}

// touchesList tells whether the transaction wrote (or may have written)
// an object of ref's list.
func (t *touched) touchesList(ref storage.Ref) bool {
	if t.allObjects {
		return true
	}
	for _, o := range t.objects.list {
		if o.resource == ref.Resource && o.parent == ref.Parent {
			return true
		}
	}
	return false
}

// hasACL tells whether the transaction changed (or may have changed) the
// ACL of one of uris.
func (t *touched) hasACL(uris []string) bool {
	if t.allACLs {
		return true
	}
	for _, u := range uris {
		if t.acls.has(u) {
			return true
		}
	}
	return false
}

func (c *cache) invalidate(t *touched) {
	if c == nil || t == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.invalidateLocked(t)
}

func (c *cache) invalidateLocked(t *touched) {
	c.gen.Add(1)
	if t.allObjects {
		c.objects = map[objKey]cachedRow{}
		c.counts = map[string]map[string]int{}
		c.stamps = map[string]int64{}
		c.pages = map[string]map[string]*cachedPage{}
		c.rowBytes, c.pageBytes = 0, 0
	}
	for _, l := range t.stamps {
		delete(c.stamps, l)
	}
	for _, k := range t.objects.list {
		c.dropRow(k)
		delete(c.counts, listID(k.resource, k.parent))
		delete(c.stamps, listID(k.resource, k.parent))
		c.dropPages(listID(k.resource, k.parent))
	}
	if t.allACLs {
		c.acls = map[string]storage.ACL{}
	}
	for _, u := range t.acls.list {
		delete(c.acls, u)
	}
	if t.principals {
		c.principals = map[string][]string{}
	}
	for _, u := range t.users {
		delete(c.principals, u)
	}
}
