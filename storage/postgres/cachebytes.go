package postgres

// The cache's memory. Its maps are bounded by entries (cache.max, and the
// page limits of listcache.go), which alone let large objects take any
// memory: 50,000 cached rows of 8 MB records, or 32 cached pages of 200
// such records for one list, each page holding its own copy. So the
// stored JSON the cache holds in rows and pages (with its encoded
// answers) is counted, and bounded by maxBytes: an entry larger than a
// 64th of it is not kept (it is read from the database each time), and
// when keeping one would pass the bound, the rows and pages kept so far
// are dropped and the cache starts over. Dropping is always safe (the
// next read goes to the database); only keeping must be exact.

// defaultCacheBytes bounds the cache's rows and pages when Options leaves
// CacheBytes at 0.
const defaultCacheBytes = 64 << 20

// entryOverhead approximates the bookkeeping of one row or page row
// besides its JSON (keys, map slot, slice headers).
const entryOverhead = 96

func rowSize(k objKey, r cachedRow) int {
	return len(k.resource) + len(k.parent) + len(k.id) + len(r.data) + entryOverhead
}

func pageSize(p *cachedPage) int {
	n := entryOverhead
	for _, r := range p.rows {
		n += len(r.id) + len(r.data) + entryOverhead
	}
	for _, e := range p.enc {
		n += len(e)
	}
	return n
}

// tooLarge tells whether an entry of n bytes is kept at all.
func (c *cache) tooLarge(n int) bool { return n > c.maxBytes/64 }

// makeRoom drops every row and page when n bytes more would pass the
// bound.
func (c *cache) makeRoom(n int) {
	if c.rowBytes+c.pageBytes+n <= c.maxBytes {
		return
	}
	c.objects = map[objKey]cachedRow{}
	c.pages = map[string]map[string]*cachedPage{}
	c.rowBytes, c.pageBytes = 0, 0
}

// keepRow stores a row read from the database (as keep does), counting
// its bytes.
func (c *cache) keepRow(k objKey, r cachedRow, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.enabled || c.gen.Load() != gen || c.pendingLocked(k) {
		return
	}
	size := rowSize(k, r)
	if c.tooLarge(size) {
		c.dropRow(k)
		return
	}
	c.dropRow(k)
	if len(c.objects) >= c.max {
		n := c.max / 8
		for old := range c.objects {
			c.dropRow(old)
			if n--; n <= 0 {
				break
			}
		}
	}
	c.makeRoom(size)
	c.objects[k] = r
	c.rowBytes += size
}

// dropRow forgets the row kept under k, if any.
func (c *cache) dropRow(k objKey) {
	if r, ok := c.objects[k]; ok {
		c.rowBytes -= rowSize(k, r)
		delete(c.objects, k)
	}
}

// dropPages forgets the pages kept for list.
func (c *cache) dropPages(list string) {
	for _, p := range c.pages[list] {
		c.pageBytes -= p.size
	}
	delete(c.pages, list)
}
