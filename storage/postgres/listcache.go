package postgres

import (
	"fmt"

	"github.com/nimbus-server/nimbus/storage"
)

// The page cache: a list page a read-only transaction reads is kept, as
// the rows the database returned, under its list and its query (filters,
// sort, cursor, limit), and dropped with the list's counts whenever a row
// of that list changes (a notification or the instance's own commit; see
// cache.invalidate). A page is served only after the request's barrier
// (cache.sync), like every cached read, so it is never older than the
// last write acknowledged before the request arrived. Pages restricted to
// a set of ids (callers reading individual records) are not kept: their
// key would be the set; nor are reads by timestamp (see pageCacheable).

// cachedPage is a page as the database returned it and, once a request
// asked for it raw (ListRaw), each object's JSON as List's objects encode.
//
// ts is the list timestamp the transaction that read the page had
// returned before (-1: it read none). A transaction that returned a
// timestamp for the list (the ETag of a list response) is served a page
// only if read under that same timestamp: the cache may keep a newer
// timestamp, read from the database after a write, before it hears of
// that write and drops the pages older than it, and a page older than
// its ETag would make a client syncing from that ETag miss the write.
type cachedPage struct {
	rows []pageRow
	enc  [][]byte
	ts   int64
	// cut is the page's Query.Cut: it ended at Query.MaxBytes, with more
	// rows after it.
	cut bool
	// size is what the page counts in the cache's bytes (pageSize).
	size int
}

// pageRow is a stored row of a cached page.
type pageRow struct {
	id string
	cachedRow
}

const (
	// maxPageLimit is the largest page kept.
	maxPageLimit = 200
	// maxPagesPerList bounds the queries kept per list, and maxPageLists
	// the lists with pages kept.
	maxPagesPerList = 32
	maxPageLists    = 2048
)

// pageCacheable tells whether a query's pages are kept. Queries on
// last_modified (_since, _before: synchronisation, change streams and
// their checks that nothing changed in between) always read the database.
func pageCacheable(q storage.Query) bool {
	if q.IDs != nil || q.Limit <= 0 || q.Limit > maxPageLimit {
		return false
	}
	for _, f := range q.Filters {
		if f.Field == "last_modified" {
			return false
		}
	}
	return true
}

// pageKey names a query within its list's pages.
func pageKey(q storage.Query) string {
	b := []byte(countKey(q.Filters, q.IncludeDeleted))
	b = fmt.Appendf(b, "\x00%d/%d", q.Limit, q.MaxBytes)
	for _, s := range q.Sort {
		b = fmt.Appendf(b, "\x00%s/%t", s.Field, s.Desc)
	}
	if q.After != nil {
		// The cursor holds the sort fields of the previous page's last
		// object (and its id and timestamp).
		b = append(b, "\x00after"...)
		for _, s := range storage.FullSort(q.Sort) {
			b = append(b, 0)
			b = append(b, s.Field...)
			b = append(b, '=')
			if v, ok := storage.Lookup(q.After, s.Field); ok {
				b, _ = storage.AppendJSON(b, v)
			}
		}
	}
	return string(b)
}

// pageCached tells whether a page of ref is read through the page cache:
// a read-only transaction's cacheable query of a list it has not
// written, once the request's barrier is answered.
func (t *pgTx) pageCached(ref storage.Ref, q storage.Query) bool {
	return !t.write && pageCacheable(q) && !t.selfParented(ref) && !t.tc.touchesList(ref) && t.cached()
}

// pageTS is the timestamp this transaction returned for list, -1 if none.
func (t *pgTx) pageTS(list string) int64 {
	if ts, ok := t.seenTS[list]; ok {
		return ts
	}
	return -1
}

// cachedList serves a page from the cache, or reads it and keeps it.
func (t *pgTx) cachedList(ref storage.Ref, q storage.Query) ([]storage.Object, error) {
	list, key := listID(ref.Resource, ref.Parent), pageKey(q)
	if rows, _, cut, ok := t.cache.page(list, key, t.pageTS(list)); ok {
		t.cache.hits.Add(1)
		setCut(q, cut)
		out := make([]storage.Object, len(rows))
		for i, r := range rows {
			o, err := row(r.id, r.data, r.lm, r.deleted)
			if err != nil {
				return nil, err
			}
			out[i] = o
		}
		return out, nil
	}
	t.cache.misses.Add(1)
	gen := t.cache.gen.Load()
	var cut bool
	read := q
	read.Cut = &cut
	objs, rows, err := t.listNow(ref, read, true)
	setCut(q, cut)
	if err == nil {
		t.cache.keepPage(list, key, rows, cut, t.pageTS(list), gen)
	}
	return objs, err
}

// setCut reports a page's cut to q.Cut, when asked for.
func setCut(q storage.Query, cut bool) {
	if q.Cut != nil {
		*q.Cut = cut
	}
}

// page returns a kept page, if read under timestamp ts when ts is not -1.
func (c *cache) page(list, key string, ts int64) (rows []pageRow, enc [][]byte, cut, ok bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	p, ok := c.pages[list][key]
	if !ok || !c.enabled || ts != -1 && p.ts != ts {
		return nil, nil, false, false
	}
	return p.rows, p.enc, p.cut, true
}

func (c *cache) keepPage(list, key string, rows []pageRow, cut bool, ts int64, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.enabled || c.gen.Load() != gen || c.pendingLocked(list) {
		return
	}
	if rows == nil {
		rows = []pageRow{}
	}
	p := &cachedPage{rows: rows, ts: ts, cut: cut}
	p.size = pageSize(p)
	if c.tooLarge(p.size) {
		return
	}
	m := c.pages[list]
	if m == nil || len(m) >= maxPagesPerList {
		c.dropPages(list)
		if len(c.pages) >= maxPageLists {
			n := maxPageLists / 8
			for l := range c.pages {
				c.dropPages(l)
				if n--; n <= 0 {
					break
				}
			}
		}
		m = map[string]*cachedPage{}
	}
	if old, ok := m[key]; ok {
		c.pageBytes -= old.size
		delete(m, key)
	}
	c.makeRoom(p.size)
	if c.pages[list] == nil {
		// A new list's map, or the list's pages dropped to make room.
		c.pages[list] = m
		clear(m)
	}
	m[key] = p
	c.pageBytes += p.size
}

// keepEncoded attaches the objects' JSON to a kept page, unless anything
// was invalidated since gen (the page may then be another one).
func (c *cache) keepEncoded(list, key string, enc [][]byte, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.pages[list][key]
	if !ok || !c.enabled || c.gen.Load() != gen || len(p.rows) != len(enc) || p.enc != nil {
		return
	}
	n := 0
	for _, e := range enc {
		n += len(e)
	}
	if c.tooLarge(p.size+n) || c.rowBytes+c.pageBytes+n > c.maxBytes {
		// Served from the rows, encoded each time.
		return
	}
	p.enc = enc
	p.size += n
	c.pageBytes += n
}

var _ storage.RawLister = (*pgTx)(nil)

// ListRaw implements storage.RawLister for the pages the cache keeps (a
// read-only transaction's queries that List serves from the cache): each
// object's JSON is made once per cached page, by the encoder List's
// callers use, so a page served again costs neither a decode nor an
// encode. The slices are shared: callers only read them.
func (t *pgTx) ListRaw(ref storage.Ref, q storage.Query) ([][]byte, bool, error) {
	if !t.pageCached(ref, q) {
		return nil, false, nil
	}
	list, key := listID(ref.Resource, ref.Parent), pageKey(q)
	if _, enc, cut, ok := t.cache.page(list, key, t.pageTS(list)); ok && enc != nil {
		t.cache.hits.Add(1)
		setCut(q, cut)
		return enc, true, nil
	}
	gen := t.cache.gen.Load()
	objs, err := t.cachedList(ref, q)
	if err != nil {
		return nil, true, err
	}
	enc := make([][]byte, len(objs))
	for i, o := range objs {
		if enc[i], err = storage.AppendJSON(nil, map[string]any(o)); err != nil {
			return nil, true, &storage.BackendError{Op: "postgres encode", Err: err}
		}
	}
	t.cache.keepEncoded(list, key, enc, gen)
	return enc, true, nil
}
