package changes

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// hubs are the lists being streamed on this instance, one hub each.
type hubs struct {
	p  *Plugin
	mu sync.Mutex
	m  map[string]*hub
}

func newHubs(p *Plugin) *hubs { return &hubs{p: p, m: map[string]*hub{}} }

// hub reads the changes of one list for every stream of it: one storage
// read per wake-up, whatever the number of streams.
type hub struct {
	p   *Plugin
	key string
	// src reads the list; any stream's ListStream does, since reading
	// changes does not depend on the caller.
	src    *resource.ListStream
	wakeC  chan struct{}
	quit   chan struct{}
	ready  chan struct{}
	failed error

	mu     sync.Mutex
	subs   map[*stream]struct{}
	cursor int64 // the newest change read
}

// batch is what a hub hands to one stream: the changes of one read and
// what the stream's user may see of them.
type batch struct {
	changes []storage.Object
	all     bool
	ids     map[string]bool
	err     error
}

// join subscribes st to its list's hub, creating the hub (and its
// goroutine) for the first stream of the list.
func (hs *hubs) join(ls *resource.ListStream, st *stream) *hub {
	key := listKey(ls.Ref())
	hs.mu.Lock()
	defer hs.mu.Unlock()
	h := hs.m[key]
	if h == nil {
		h = &hub{p: hs.p, key: key, src: ls, wakeC: make(chan struct{}, 1), quit: make(chan struct{}),
			ready: make(chan struct{}), subs: map[*stream]struct{}{}}
		hs.m[key] = h
		go h.run()
	}
	h.mu.Lock()
	h.subs[st] = struct{}{}
	h.mu.Unlock()
	return h
}

// leave unsubscribes st; the last stream of a list stops its hub.
func (hs *hubs) leave(h *hub, st *stream) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	h.mu.Lock()
	delete(h.subs, st)
	empty := len(h.subs) == 0
	h.mu.Unlock()
	if empty && hs.m[h.key] == h {
		delete(hs.m, h.key)
		close(h.quit)
	}
}

// wake asks the hub of a list, if any, to read its changes.
func (hs *hubs) wake(ref storage.Ref) {
	hs.mu.Lock()
	h := hs.m[listKey(ref)]
	hs.mu.Unlock()
	if h != nil {
		h.wake()
	}
}

// committed notes the actions of a commit of this instance and wakes the
// hubs of the lists it touched; a change without a resource stands for
// everything under its parent (a deleted subtree).
func (hs *hubs) committed(changes []storage.Change) {
	// Every action first: a hub woken by one change (a collection's wakes
	// the lists of its bucket) reads the others of the commit too, and one
	// not noted yet would be told as an update (the history entry of a
	// creation).
	for _, ch := range changes {
		if ch.Ref.Resource != "" {
			hs.p.actions.note(ch.Ref, ch.ID, ch.Timestamp, ch.Action)
		}
	}
	woken := map[storage.Ref]bool{}
	revoked := false
	for _, ch := range changes {
		revoked = revoked || hs.p.mayRevoke(ch)
		ref := ch.Ref
		if ref.Resource != "" {
			if !woken[ref] {
				woken[ref] = true
				hs.wake(ref)
			}
			if b := containerBucket(ch); b != "" {
				// A bucket, collection or group changed: permissions or
				// memberships that decide what readers of the lists
				// below may see can have changed with it.
				hs.wakeUnder(b)
			}
			continue
		}
		hs.mu.Lock()
		for _, h := range hs.m {
			if p := h.src.Ref().Parent; p == ref.Parent || strings.HasPrefix(p, ref.Parent+"/") || ref.Parent == "" {
				h.wake()
			}
		}
		hs.mu.Unlock()
	}
	if revoked {
		hs.recheckAll()
	}
}

// recheckAll asks every stream to check its caller's credentials now (a
// change may have revoked some); the streams whose credentials are gone
// end, the others go on.
func (hs *hubs) recheckAll() {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	for _, h := range hs.m {
		h.mu.Lock()
		for st := range h.subs {
			select {
			case st.recheckNow <- struct{}{}:
			default: // a recheck is due already
			}
		}
		h.mu.Unlock()
	}
}

// containerBucket returns the URI of the bucket whose lists a change of
// a bucket, collection or group may affect, or "".
func containerBucket(ch storage.Change) string {
	switch ch.Ref.Resource {
	case "bucket":
		return "/buckets/" + ch.ID
	case "collection", "group":
		return ch.Ref.Parent
	}
	return ""
}

// wakeUnder wakes the hubs of every list under uri.
func (hs *hubs) wakeUnder(uri string) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	for _, h := range hs.m {
		if p := h.src.Ref().Parent; p == uri || strings.HasPrefix(p, uri+"/") {
			h.wake()
		}
	}
}

// wakeAll wakes every hub (changes may have been missed).
func (hs *hubs) wakeAll() {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	for _, h := range hs.m {
		h.wake()
	}
}

// poll wakes every hub regularly until done: on a shared database it
// catches what no notification reported.
func (hs *hubs) poll(every time.Duration, done <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			hs.wakeAll()
		}
	}
}

func (h *hub) wake() {
	select {
	case h.wakeC <- struct{}{}:
	default: // a read is already due; it will see this change too
	}
}

// run initialises the cursor at the list's timestamp, then reads and
// hands out changes on every wake-up until the last stream leaves.
func (h *hub) run() {
	err := h.p.view(func(tx storage.Tx) (err error) {
		h.cursor, err = h.src.Timestamp(tx)
		return err
	})
	if err != nil {
		h.failed = err
	}
	close(h.ready)
	for {
		select {
		case <-h.quit:
			return
		case <-h.p.done:
			return
		case <-h.wakeC:
		}
		h.read()
	}
}

// pageSize is how many changes one storage read returns at most.
const pageSize = 1000

// read takes the changes after the cursor, a page at a time (a burst of
// changes never sits whole in memory), and hands each stream what its
// user may see of them. Visibility is decided in the transaction that
// reads the page, and only for versions still current after it
// (stillCurrent): decided on a later state, a grant committed in between
// would show a version its reader never could read.
func (h *hub) read() {
	for {
		var byUser map[string][]*stream
		var page []storage.Object
		var batches map[string]batch
		var unchanged []storage.Object
		err := h.p.view(func(tx storage.Tx) (err error) {
			if page, err = h.src.Changed(tx, h.cursor, pageSize); err != nil {
				return err
			}
			// The streams are taken once the page is read: one that
			// joined before this point gets the page (it skips what its
			// snapshot already covers), one that joins after takes its
			// snapshot after this read, and so covers the whole page.
			// Taken before the read, a stream joining meanwhile would
			// miss the page's changes newer than its snapshot.
			byUser = h.streamsByUser()
			batches = make(map[string]batch, len(byUser))
			scopes := make(map[string]batch, len(byUser))
			for user, streams := range byUser {
				all, ids, err := streams[0].ls.Scope(tx)
				scopes[user] = batch{all: all, ids: set(ids), err: err}
			}
			if unchanged, err = h.stillCurrent(tx, page); err != nil {
				return err
			}
			lost, err := h.lateDeletions(tx, page, scopes)
			if err != nil {
				return err
			}
			for user, b := range scopes {
				b.changes = unchanged
				if b.err != nil {
					b.changes = append(slices.Clip(unchanged), lost...)
				}
				batches[user] = b
			}
			return nil
		})
		if err != nil {
			h.p.logger.Warn("change stream: reading a list failed; retrying", "list", h.key, "error", err)
			time.AfterFunc(time.Second, h.wake)
			return
		}
		if len(page) > 0 {
			h.cursor = storage.LastModified(page[len(page)-1])
		}
		// An empty page is delivered too: the wake-up may come from a
		// deleted parent, a changed permission or a lost notification
		// connection, and visibility must be decided again.
		for user, streams := range byUser {
			for _, st := range streams {
				st.push(batches[user], h.p.buffer)
			}
		}
		if len(page) < pageSize {
			return
		}
	}
}

// stillCurrent returns the objects of page that no write changed since
// the page was read. Visibility is decided after the page is read; on a
// backend whose reads are not one snapshot (PostgreSQL at READ
// COMMITTED), a write in between (a grant flipped) would decide the
// visibility of the page's older version. A changed object's newer
// version has a later timestamp than the whole page, so the next read
// delivers it, with visibility decided again: nothing is missed.
func (h *hub) stillCurrent(tx storage.Tx, page []storage.Object) ([]storage.Object, error) {
	if len(page) == 0 {
		return page, nil
	}
	again, err := h.src.Changed(tx, h.cursor, len(page))
	if err != nil {
		return nil, err
	}
	now := make(map[string]int64, len(again))
	for _, obj := range again {
		now[storage.ID(obj)] = storage.LastModified(obj)
	}
	out := page[:0:0]
	for _, obj := range page {
		if now[storage.ID(obj)] == storage.LastModified(obj) {
			out = append(out, obj)
		}
	}
	return out, nil
}

// lateDeletions returns, when a caller has lost the list (an error
// scope), the deletions committed after page was read. On a backend whose
// reads are not one snapshot (PostgreSQL at READ COMMITTED), the scope
// may already see a deletion's ACL going while the page was read before
// it: the caller's last readable record then goes with its access, and
// its tombstone, which the caller must still receive (PLUG-RT), would
// come only after the error ends the stream. The stream delivers such a
// tombstone only for a record the caller knew.
func (h *hub) lateDeletions(tx storage.Tx, page []storage.Object, scopes map[string]batch) ([]storage.Object, error) {
	lostOne := false
	for _, b := range scopes {
		lostOne = lostOne || b.err != nil
	}
	if !lostOne {
		return nil, nil
	}
	from := h.cursor
	if len(page) > 0 {
		from = storage.LastModified(page[len(page)-1])
	}
	later, err := h.src.Changed(tx, from, pageSize)
	if err != nil {
		return nil, err
	}
	var out []storage.Object
	for _, obj := range later {
		if storage.IsDeleted(obj) {
			out = append(out, obj)
		}
	}
	return out, nil
}

// streamsByUser groups the hub's streams by caller: visibility is
// decided once per caller.
func (h *hub) streamsByUser() map[string][]*stream {
	h.mu.Lock()
	defer h.mu.Unlock()
	byUser := map[string][]*stream{}
	for st := range h.subs {
		byUser[st.user] = append(byUser[st.user], st)
	}
	return byUser
}

func set(ids []string) map[string]bool {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}
