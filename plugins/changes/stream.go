package changes

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// stream is one client following one list.
type stream struct {
	ls   *resource.ListStream
	user string

	mu       sync.Mutex
	pending  []batch
	queued   int
	overflow bool
	notify   chan struct{}
	// recheckNow asks for a credential check before the next tick.
	recheckNow chan struct{}

	// Used by the stream's own goroutine only.
	last  int64           // the newest change handled (sent or not visible)
	sent  int64           // the id of the last event sent
	known map[string]bool // ids the caller may read, when not the whole list
	all   bool
	out   bytes.Buffer
}

// push queues a batch from the hub; past the buffer the stream is marked
// to end (the client resumes with Last-Event-ID).
func (st *stream) push(b batch, buffer int) {
	st.mu.Lock()
	st.pending = append(st.pending, b)
	st.queued += len(b.changes)
	if st.queued > buffer {
		st.overflow = true
	}
	st.mu.Unlock()
	select {
	case st.notify <- struct{}{}:
	default:
	}
}

// take returns the queued batches.
func (st *stream) take() ([]batch, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	b, over := st.pending, st.overflow
	st.pending, st.queued = nil, 0
	return b, over
}

// serve is the engine's ListStreamer: it answers one stream request.
func (p *Plugin) serve(r *resource.Request, ls *resource.ListStream) error {
	// Streams are counted per caller: a user, each of the user's scoped
	// credentials apart (an embed key lives in pages the owner does not
	// control), or an anonymous client address.
	id := r.Identity()
	user := id.UserID
	switch {
	case user == "":
		user = "anonymous:" + r.RealIP()
	case id.Credential != "":
		user += "#" + id.Credential
	}
	if err := p.take(user); err != nil {
		return err
	}
	defer p.release(user)
	st := &stream{ls: ls, user: user, notify: make(chan struct{}, 1), recheckNow: make(chan struct{}, 1)}
	h := p.hubs.join(ls, st)
	defer p.hubs.leave(h, st)
	select {
	case <-h.ready:
	case <-r.Ctx().Done():
		return nil
	}
	if h.failed != nil {
		return h.failed
	}
	// The snapshot: where the live phase starts, and what the caller may
	// read now. Errors still answer as JSON.
	var ts int64
	var ids []string
	err := p.view(func(tx storage.Tx) (err error) {
		if ts, err = ls.Timestamp(tx); err != nil {
			return err
		}
		st.all, ids, err = ls.Scope(tx)
		return err
	})
	if err != nil {
		return err
	}
	if !st.all {
		st.known = set(ids)
	}
	w := r.ResponseWriter()
	rc := http.NewResponseController(w)
	hd := r.ResponseHeader()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func() bool {
		if st.out.Len() == 0 {
			return true
		}
		rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		_, err := w.Write(st.out.Bytes())
		st.out.Reset()
		return err == nil && rc.Flush() == nil
	}
	if since, ok := ls.Since(); ok {
		st.last = since
		if err := p.catchUp(r, st, ts, send); errors.Is(err, errGone) {
			return nil
		} else if err != nil {
			st.event(0, "error", resource.ErrorFrom(err).Body())
			send()
			return nil
		}
	}
	st.last = ts
	if st.sent < ts {
		st.event(ts, "ready", map[string]any{"timestamp": ts})
		st.sent = ts
	} else {
		st.event(0, "ready", map[string]any{"timestamp": ts})
	}
	if !send() {
		return nil
	}
	// revoked checks the caller's credentials again; when they are gone
	// it ends the stream with a 401 event.
	revoked := func() bool {
		if r.Reauthenticate() {
			return false
		}
		st.event(0, "error", resource.Unauthorized().Body())
		send()
		return true
	}
	keep := time.NewTicker(p.keepalive)
	defer keep.Stop()
	recheck := time.NewTicker(p.recheck)
	defer recheck.Stop()
	for {
		select {
		case <-r.Ctx().Done():
			return nil
		case <-p.done:
			return nil
		case <-keep.C:
			st.out.WriteString(": keep-alive\n\n")
		case <-recheck.C:
			if revoked() {
				return nil
			}
		case <-st.recheckNow:
			if revoked() {
				return nil
			}
		case <-st.notify:
			batches, over := st.take()
			if over {
				st.event(0, "error", (&resource.Error{Status: http.StatusServiceUnavailable, Errno: resource.ErrnoBackend,
					Message: "The stream fell too far behind; reconnect with Last-Event-ID."}).Body())
				send()
				return nil
			}
			for _, b := range batches {
				st.all = b.all
				st.prune(b)
				for _, obj := range b.changes {
					// With an error, the caller reads nothing more of the
					// list: only the deletions of what they could read
					// still reach them, before the error.
					st.handle(obj, b.ids, p.actions)
				}
				if b.err != nil {
					st.event(0, "error", resource.ErrorFrom(b.err).Body())
					send()
					return nil
				}
			}
		}
		if !send() {
			return nil
		}
	}
}

// catchUpPage is how many objects one catch-up read holds: a stream's
// memory is at most this many objects and their encoding.
const catchUpPage = 100

// errGone ends a stream whose client went away.
var errGone = errors.New("changes: the client went away")

// catchUp sends what changed after st.last up to the snapshot timestamp,
// page by page, each page read in a transaction of its own (a change made
// meanwhile has a newer timestamp and comes live) and written to the
// client before the next is read: a stream holds at most one page,
// however long the list and however slow the reader.
func (p *Plugin) catchUp(r *resource.Request, st *stream, until int64, send func() bool) error {
	for st.last < until {
		var page []storage.Object
		if err := p.view(func(tx storage.Tx) (err error) {
			if page, err = st.ls.Changed(tx, st.last, catchUpPage); err != nil {
				return err
			}
			return st.knowDeleted(r, tx, page)
		}); err != nil {
			return err
		}
		for _, obj := range page {
			if storage.LastModified(obj) > until {
				return nil
			}
			st.handle(obj, st.known, p.actions)
		}
		full := len(page) == catchUpPage
		page = nil
		if !send() {
			return errGone
		}
		if !full {
			return nil
		}
	}
	return nil
}

// knowDeleted marks, for a reader of some objects of the list only, the
// deletions in page of objects they could read until then (see
// readers.go): a catch-up has not seen those objects alive.
func (st *stream) knowDeleted(r *resource.Request, tx storage.Tx, page []storage.Object) error {
	if st.all {
		return nil
	}
	var principals []string
	for _, obj := range page {
		if !storage.IsDeleted(obj) || st.known[storage.ID(obj)] {
			continue
		}
		if principals == nil {
			var err error
			if principals, err = r.Principals(tx); err != nil {
				return err
			}
		}
		ok, err := couldRead(tx, st.ls.Ref(), obj, principals)
		if err != nil {
			return err
		}
		if ok {
			if st.known == nil {
				st.known = map[string]bool{}
			}
			st.known[storage.ID(obj)] = true
		}
	}
	return nil
}

// prune forgets the objects the caller may no longer read (a grant
// removed, a group left), so that their later deletion is not shown: a
// tombstone goes only to callers who could read the object until it was
// deleted. Objects this batch deletes keep their place until handled.
func (st *stream) prune(b batch) {
	if b.all || b.err != nil || len(st.known) == 0 {
		return
	}
	deleted := map[string]bool{}
	for _, obj := range b.changes {
		if storage.IsDeleted(obj) {
			deleted[storage.ID(obj)] = true
		}
	}
	for id := range st.known {
		if !b.ids[id] && !deleted[id] {
			delete(st.known, id)
		}
	}
}

// handle sends one change if the caller may see it and it passes the
// filters; ids are the objects the caller may read when not the whole
// list. A tombstone goes to those who could read the object before.
func (st *stream) handle(obj storage.Object, ids map[string]bool, acts *actions) {
	ts := storage.LastModified(obj)
	if ts <= st.last {
		return // sent, or handled, already
	}
	st.last = ts
	id := storage.ID(obj)
	visible := st.all
	if !st.all {
		if st.known == nil {
			st.known = map[string]bool{}
		}
		if storage.IsDeleted(obj) {
			visible = st.known[id]
			delete(st.known, id)
		} else {
			visible = ids[id]
			if visible {
				st.known[id] = true
			} else {
				delete(st.known, id)
			}
		}
	}
	if !visible || !st.ls.Matches(obj) {
		return
	}
	st.event(ts, acts.of(st.ls.Ref(), obj), map[string]any{"data": st.ls.Show(obj)})
	st.sent = ts
}

// event appends one event to the output.
func (st *stream) event(id int64, name string, data any) {
	b, err := resource.EncodeJSON(data)
	if err != nil {
		b = []byte(`{}`)
	}
	if id > 0 {
		st.out.WriteString("id: " + strconv.FormatInt(id, 10) + "\n")
	}
	st.out.WriteString("event: " + name + "\ndata: ")
	st.out.Write(b)
	st.out.WriteString("\n\n")
}
