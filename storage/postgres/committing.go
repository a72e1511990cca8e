package postgres

// Commits in flight. This instance drops from its cache what a write
// group touched once the group has committed, before its calls are
// answered. Between the moment the commit is visible in the database and
// that drop, another request could read one key from the database (the
// new row) and another from the cache (the old ACL): a request that
// found a personal bucket just created by another read its permissions
// from before and was refused as if the bucket were someone else's
// (TestFirstUseAtOnce). So a group drops what it touched before its last
// round trip too, and until it is over none of those keys is kept
// again: reads of them meanwhile go to the database, as old as the
// commit or newer, never mixed with an older copy.

// allPending stands for every key of a kind (a flush, a subtree).
type allPending struct{}

// pendingLocked tells whether k belongs to a commit in flight. c.mu is
// held.
func (c *cache) pendingLocked(k any) bool {
	return len(c.pending) > 0 && (c.pending[k] > 0 || c.pending[allPending{}] > 0)
}

// committing drops what t touched and keeps those keys out of the cache
// until the function it returns is called, once the commit is over
// (whatever its outcome); that function drops them again.
func (c *cache) committing(t *touched) (done func()) {
	if c == nil || t == nil {
		return func() {}
	}
	keys := t.pendingKeys()
	c.mu.Lock()
	c.invalidateLocked(t)
	if c.pending == nil {
		c.pending = map[any]int{}
	}
	for _, k := range keys {
		c.pending[k]++
	}
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.invalidateLocked(t)
		for _, k := range keys {
			if c.pending[k]--; c.pending[k] <= 0 {
				delete(c.pending, k)
			}
		}
	}
}

// pendingKeys are the cache keys t's commit may change.
func (t *touched) pendingKeys() []any {
	var out []any
	if t.allObjects || t.allACLs || t.principals {
		out = append(out, allPending{})
	}
	for _, k := range t.objects.list {
		out = append(out, k, listID(k.resource, k.parent))
	}
	for _, l := range t.stamps {
		out = append(out, l)
	}
	for _, u := range t.acls.list {
		out = append(out, u)
	}
	for _, u := range t.users {
		out = append(out, u)
	}
	return out
}
