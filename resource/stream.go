package resource

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/nimbus-server/nimbus/storage"
)

// ListStreamer serves a GET on a plural endpoint that asked for a stream
// (Accept: text/event-stream). The engine has authenticated the caller,
// checked they may read the list and validated the querystring; the
// streamer owns the answer from then on.
type ListStreamer func(r *Request, s *ListStream) error

// SetListStreamer makes plural endpoints answer streams (the changes
// plugin). One plugin may set it; without it such requests get 406.
func (r *Registry) SetListStreamer(fn ListStreamer) error {
	if r.app.streamer != nil {
		return fmt.Errorf("plural endpoints already have a stream handler")
	}
	r.app.streamer = fn
	return nil
}

// ListStream is a list being streamed, with the rules of a list read: the
// streamer decides with it what each caller sees of each change.
type ListStream struct {
	r        *Request
	res      *Resource
	m        matchdict
	filters  []storage.Filter
	fields   *projection
	since    int64
	hasSince bool
}

// Resource returns the resource of the list.
func (s *ListStream) Resource() *Resource { return s.res }

// Ref returns the storage list.
func (s *ListStream) Ref() storage.Ref { return s.res.ref(s.m) }

// Since returns where the client asked to resume (Last-Event-ID, else
// _since), if it did.
func (s *ListStream) Since() (int64, bool) { return s.since, s.hasSince }

// Scope tells what of the list the caller may read now (PERM-07): all of
// it, or the objects of ids. It answers 403/401 when they may read none
// (and may not create there), and 404 when a parent is gone.
func (s *ListStream) Scope(tx storage.Tx) (all bool, ids []string, err error) {
	if _, err := parents(tx, s.res, s.m); err != nil {
		return false, nil, err
	}
	// A request of its own, with the caller's identity and state: the
	// principals are computed afresh (memberships may have changed), and
	// nothing the stream's own goroutine writes is shared.
	r := &Request{c: s.r.c, app: s.r.app, identity: s.r.identity, state: s.r.state}
	ids, err = s.r.app.listScope(r, memo(tx), s.res, s.m, "read")
	if err != nil {
		return false, nil, err
	}
	return ids == nil, ids, nil
}

// Matches tells whether an object (or tombstone) passes the stream's
// filters, as a list read with them would.
func (s *ListStream) Matches(obj storage.Object) bool { return storage.Match(obj, s.filters) }

// Show returns an object as the list shows it: the resource's read filter
// and the stream's _fields applied.
func (s *ListStream) Show(obj storage.Object) storage.Object {
	if s.res.ReadFilter != nil && !storage.IsDeleted(obj) {
		obj = s.res.ReadFilter(s.r, obj)
	}
	return project(obj, s.fields)
}

// Changed returns the objects of the list, tombstones included, changed
// after the timestamp, oldest first, at most limit of them (0: all):
// what _since=after&_sort=last_modified reads, before filters and
// visibility, which the streamer applies to each.
func (s *ListStream) Changed(tx storage.Tx, after int64, limit int) ([]storage.Object, error) {
	return tx.List(s.res.ref(s.m), storage.Query{
		Filters:        []storage.Filter{{Field: "last_modified", Op: storage.OpGt, Value: after}},
		Sort:           []storage.Sort{{Field: "last_modified"}},
		IncludeDeleted: true,
		Limit:          limit,
	})
}

// Timestamp returns the list's current timestamp.
func (s *ListStream) Timestamp(tx storage.Tx) (int64, error) { return tx.Timestamp(s.res.ref(s.m)) }

// wantsStream tells whether an Accept header asks for a stream rather
// than JSON.
func wantsStream(accept string) bool {
	return accepts(accept, []string{"text/event-stream"})
}

// accepts tells whether an Accept header names one of the media types.
func accepts(accept string, types []string) bool {
	ranges, _ := mediaRanges(accept)
	for _, mt := range ranges {
		for _, t := range types {
			if strings.EqualFold(mt, t) {
				return true
			}
		}
	}
	return false
}

// streamParams are querystring parameters a stream refuses: it has no
// pages and no order but its own.
var streamParams = []string{"_sort", "_limit", "_token", "_before", "_to"}

// serveStream checks a stream request like a list read (authorization,
// then ids, parents, querystring) and hands it to the streamer.
func (a *App) serveStream(r *Request, res *Resource, m matchdict) error {
	err := r.View(func(tx storage.Tx) error {
		if _, err := a.listScope(r, memo(tx), res, m, "read"); err != nil {
			return err
		}
		if e := checkIDs(res, m, false); e != nil {
			return e
		}
		_, err := parents(tx, res, m)
		return err
	})
	if err != nil {
		return err
	}
	for _, p := range streamParams {
		if _, ok := r.QueryParams()[p]; ok {
			return Invalid("querystring", p, p+" is not supported by change streams")
		}
	}
	lq, qerr := a.parseList(r, res, false)
	if qerr != nil {
		return qerr
	}
	s := &ListStream{r: r, res: res, m: m, fields: lq.fields}
	raw := r.QueryParam("_since")
	var qsSince int64
	hasQS := raw != "" && raw != "null"
	if hasQS {
		qsSince, _ = parseTimestamp(raw) // parseList checked it
		s.since, s.hasSince = qsSince, true
	}
	if id := strings.TrimSpace(r.Header().Get("Last-Event-ID")); id != "" {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil || n < 0 {
			return Invalid("header", "Last-Event-ID", "Last-Event-ID should be a timestamp")
		}
		s.since, s.hasSince = n, true // a reconnection: it wins over _since
	}
	removed := !hasQS
	for _, f := range lq.q.Filters {
		if !removed && f.Field == "last_modified" && f.Op == storage.OpGt && f.Value == qsSince {
			removed = true // the _since filter: the stream applies it
			continue
		}
		s.filters = append(s.filters, f)
	}
	return a.streamer(r, s)
}

// Reauthenticate runs the authentication policies again on the request's
// credentials (authentication methods see Request.Recheck true) and
// tells whether they still name the same user (a
// long-lived answer, a stream, ends when its credential expires or is
// revoked).
func (r *Request) Reauthenticate() bool {
	fresh := &Request{c: r.c, app: r.app, recheck: true}
	r.app.runPolicies(fresh)
	if fresh.identity.UserID != r.identity.UserID {
		return false
	}
	for _, hook := range r.app.requestHooks {
		if err := hook(fresh, Operation{Method: http.MethodGet, Path: r.c.Request().URL.Path}); err != nil {
			return false
		}
	}
	return true
}

// Recheck tells an authentication method that the credentials were
// accepted on this request already and are checked again because the
// answer is long-lived (a stream): the method may confirm what it
// verified then (the stored password hash unchanged) instead of paying
// for the check again.
func (r *Request) Recheck() bool { return r.recheck }
