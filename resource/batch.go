package resource

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/nimbus-server/nimbus/storage"
)

// batchState travels in a sub-request's context: the shared transaction
// and the events to deliver once it commits.
type batchState struct {
	tx      storage.Tx
	pending []*Event
	// detached are the writes of Request.UpdateDetached made by its
	// sub-requests, run once the batch's transaction is over. They
	// outlive an attempt of the transaction that is run again: their
	// callers count on their done functions.
	detached *[]detachedWrite
	// keep, while a sub-request runs, makes the writes it made so far
	// outlive its failure (Request.keepWrites).
	keep func()
	// pageBytes bounds each list page the batch answers: page_max_bytes
	// shared out among its sub-requests, since the batch answers all its
	// pages at once (eight batches of 25 reads of a list of 7 MB records
	// took 18.7 GB when each page had the whole bound).
	pageBytes int
}

// detachedWrite is a write of Request.UpdateDetached waiting for its
// batch's transaction to end.
type detachedWrite struct {
	ctx     context.Context
	timeout time.Duration
	fn      func(storage.Tx) error
	// done gets the write's outcome.
	done func(error)
}

type batchKey struct{}

// errRollback makes the batch transaction roll back while its responses
// are still returned (a 409 in a sub-request, BATCH-02).
var errRollback = errors.New("batch: roll back")

// subResponse captures one sub-request's answer.
type subResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *subResponse) Header() http.Header { return w.header }
func (w *subResponse) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}
func (w *subResponse) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

var subKeys = map[string]bool{"method": true, "path": true, "headers": true, "body": true}

func isSubKey(k string) bool { return subKeys[k] }

var batchMethods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "TRACE": true}

// subRequest is one validated sub-request.
type subRequest struct {
	method, path string
	headers      map[string]string
	body         map[string]any
	hasBody      bool
	// raw is the client's text of the body when it is the whole body
	// (no defaults to merge into it).
	raw []byte
}

// rawList gives the JSON text of the elements of a JSON array text,
// splitting it once.
type rawList struct {
	text  []byte
	elems [][]byte
	split bool
}

func (l *rawList) at(i int) []byte {
	if !l.split {
		l.elems, l.split = storage.ArrayElems(l.text), true
	}
	if i < len(l.elems) {
		return l.elems[i]
	}
	return nil
}

func (a *App) parseBatch(r *Request) ([]subRequest, *Error) {
	body, err := r.BodyObject()
	if err != nil {
		return nil, err
	}
	if err := unrecognized(body, "", func(k string) bool { return k == "requests" || k == "defaults" }); err != nil {
		return nil, err
	}
	list, ok := body["requests"].([]any)
	if !ok {
		return nil, Invalid("body", "requests", "requests must be a list of objects")
	}
	if a.opts.batchMax > 0 && len(list) > a.opts.batchMax {
		return nil, Invalid("body", "requests", fmt.Sprintf("Number of requests is limited to %d", a.opts.batchMax))
	}
	defaults := map[string]any{}
	if d, present := body["defaults"]; present {
		if defaults, ok = d.(map[string]any); !ok {
			return nil, Invalid("body", "defaults", "defaults must be an object")
		}
	}
	if err := unrecognized(defaults, "defaults.", isSubKey); err != nil {
		return nil, err
	}
	if err := checkDefaults(defaults); err != nil {
		return nil, err
	}
	out := make([]subRequest, 0, len(list))
	rawReqs := rawList{text: storage.RawField(r.body, "requests")}
	var defaultsBody []byte
	if _, present := body["defaults"]; present {
		defaultsBody = storage.RawField(storage.RawField(r.body, "defaults"), "body")
	}
	for i, raw := range list {
		name := fmt.Sprintf("requests.%d", i)
		req, ok := raw.(map[string]any)
		if !ok {
			return nil, Invalid("body", name, "each request must be an object")
		}
		if err := unrecognized(req, name+".", isSubKey); err != nil {
			return nil, err
		}
		merged := map[string]any{}
		for k, v := range defaults {
			merged[k] = v
		}
		for k, v := range req {
			if dm, ok := defaults[k].(map[string]any); ok {
				if vm, ok := v.(map[string]any); ok {
					m := map[string]any{}
					for kk, vv := range dm {
						m[kk] = vv
					}
					for kk, vv := range vm {
						m[kk] = vv
					}
					v = m
				}
			}
			merged[k] = v
		}
		s := subRequest{method: "GET"}
		if m, present := merged["method"]; present {
			ms, ok := m.(string)
			if !ok || !batchMethods[ms] {
				return nil, Invalid("body", name+".method", ValueText(m)+" is not one of GET, HEAD, DELETE, TRACE, POST, PUT, PATCH")
			}
			s.method = ms
		}
		p, ok := merged["path"].(string)
		if !ok || !strings.HasPrefix(p, "/") {
			return nil, Invalid("body", name+".path", "path is required and must start with /")
		}
		if !strings.HasPrefix(p, "/v1/") && p != "/v1" {
			p = "/v1" + p
		}
		pathOnly := strings.SplitN(p, "?", 2)[0]
		if strings.TrimRight(pathOnly, "/") == "/v1/batch" {
			return nil, Invalid("body", name+".path", "Recursive call on /batch endpoint is forbidden.")
		}
		s.path = p
		if h, present := merged["headers"]; present {
			hm, ok := h.(map[string]any)
			if !ok {
				return nil, Invalid("body", name+".headers", "headers must be an object")
			}
			s.headers = map[string]string{}
			for _, k := range slices.Sorted(maps.Keys(hm)) {
				v := hm[k]
				vs, ok := v.(string)
				if !ok {
					return nil, Invalid("body", name+".headers."+k, "header values must be strings")
				}
				s.headers[k] = vs
			}
		}
		if b, present := merged["body"]; present {
			bm, ok := b.(map[string]any)
			if !ok && b != nil {
				return nil, Invalid("body", name+".body", "body must be an object")
			}
			s.body, s.hasBody = bm, ok
			if own := storage.RawField(rawReqs.at(i), "body"); ok && defaultsBody == nil && own != nil {
				// The client's own text is the sub-request's body as
				// is: nothing to merge, nothing to encode again.
				s.raw = own
			} else if ok {
				// The sub-request's body is encoded again: it keeps the
				// key order of the request's body, then of the defaults'.
				storage.WithClientOrder(bm, storage.RawField(rawReqs.at(i), "body"))
				storage.ThenClientOrder(bm, defaultsBody)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// checkDefaults refuses the values of defaults that no sub-request could
// take, even when every sub-request overrides them or there are none, as
// Kinto does: a client learns of its mistake at once.
func checkDefaults(d map[string]any) *Error {
	if m, present := d["method"]; present {
		if ms, ok := m.(string); !ok || !batchMethods[ms] {
			return Invalid("body", "defaults.method", ValueText(m)+" is not one of GET, HEAD, DELETE, TRACE, POST, PUT, PATCH")
		}
	}
	if p, present := d["path"]; present {
		if ps, ok := p.(string); !ok || !strings.HasPrefix(ps, "/") {
			return Invalid("body", "defaults.path", "path must start with /")
		}
	}
	if h, present := d["headers"]; present {
		hm, ok := h.(map[string]any)
		if !ok {
			return Invalid("body", "defaults.headers", "headers must be an object")
		}
		for _, k := range slices.Sorted(maps.Keys(hm)) {
			if _, ok := hm[k].(string); !ok {
				return Invalid("body", "defaults.headers."+k, "header values must be strings")
			}
		}
	}
	if b, present := d["body"]; present {
		if _, ok := b.(map[string]any); !ok && b != nil {
			return Invalid("body", "defaults.body", "body must be an object")
		}
	}
	return nil
}

// batchHandler serves POST /batch (BATCH-01, BATCH-02).
func (a *App) batchHandler(r *Request) error {
	subs, perr := a.parseBatch(r)
	if perr != nil {
		return perr
	}
	var responses []map[string]any
	var state *batchState
	var failure *Error
	var detached []detachedWrite
	prep := a.prepareSubs(r, subs)
	err := a.runBatch(r.Ctx(), subs, func(tx storage.Tx) error {
		responses, failure = make([]map[string]any, 0, len(subs)), nil
		state = &batchState{tx: tx, detached: &detached}
		if a.opts.pageMaxBytes > 0 {
			state.pageBytes = max(1, a.opts.pageMaxBytes/max(1, len(subs)))
		}
		if err := a.prefetch(tx, subs); err != nil {
			return err
		}
		rollback := false
		sp, canUndo := tx.(storage.Savepointer)
		for i, s := range subs {
			mark, events := 0, len(state.pending)
			if canUndo {
				mark = sp.Savepoint()
			}
			state.keep = func() {
				if canUndo {
					mark, events = sp.Savepoint(), len(state.pending)
				}
			}
			res, status := a.runSub(r, state, s, prep[i])
			state.keep = nil
			if canUndo && status >= 400 {
				// A failed sub-request leaves nothing behind: neither its
				// writes nor the notifications of them.
				if err := sp.RollbackTo(mark); err != nil {
					return err
				}
				state.pending = state.pending[:events]
			}
			if status >= 500 {
				failure = &Error{Status: status, Errno: ErrnoUndefined, Message: "A sub-request of the batch failed; nothing was written."}
				if raw, ok := res["body"].(json.RawMessage); ok {
					if v, err := DecodeJSON(raw); err == nil {
						b, _ := v.(map[string]any)
						if n, ok := storage.Int(b["errno"]); ok {
							failure.Errno = int(n)
						}
						if m, ok := b["message"].(string); ok {
							failure.Message = m
						}
					}
				}
				return errRollback
			}
			if status == http.StatusConflict {
				rollback = true
			}
			responses = append(responses, res)
		}
		if rollback {
			return errRollback
		}
		return nil
	})
	a.runDetached(detached)
	if failure != nil {
		return failure
	}
	if err != nil && !errors.Is(err, errRollback) {
		return err
	}
	if err == nil {
		a.Notify(state.pending)
	}
	return r.JSON(http.StatusOK, map[string]any{"responses": responses})
}

// keepWrites makes the writes of a batch's sub-request made so far stay
// when the sub-request fails afterwards; elsewhere a write transaction of
// the request has committed already.
func (r *Request) keepWrites() {
	if bs, ok := r.Ctx().Value(batchKey{}).(*batchState); ok && r.tx == bs.tx && bs.keep != nil {
		bs.keep()
	}
}

// runSub serves one sub-request through the router, following one
// redirect, and returns its report.
func (a *App) runSub(parent *Request, state *batchState, s subRequest, prep *subPrep) (map[string]any, int) {
	path := s.path
	ctx := context.WithValue(parent.Ctx(), batchKey{}, state)
	if prep != nil {
		ctx = context.WithValue(ctx, subPrepKey{}, prep)
	}
	var rec *subResponse
	for hop := 0; hop < 2; hop++ {
		req, err := subHTTPRequest(ctx, parent, s, path)
		if err != nil {
			return map[string]any{"status": 400, "path": path, "headers": map[string]string{},
				"body": Invalid("body", "path", "Invalid path").Body()}, 400
		}
		rec = &subResponse{header: http.Header{}}
		a.Echo.ServeHTTP(rec, req)
		if rec.status == http.StatusTemporaryRedirect && hop == 0 {
			if loc := rec.header.Get("Location"); strings.HasPrefix(loc, "/") {
				path = loc
				continue
			}
		}
		break
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	headers := map[string]string{}
	for k, v := range rec.header {
		if kinto, ok := kintoHeaderNames[k]; ok {
			// A batch answer's headers are JSON keys, compared as
			// they are spelt: spelt as Kinto does, not as Go's
			// canonical form.
			k = kinto
		}
		headers[k] = strings.Join(v, ", ")
	}
	// The body is kept as the JSON the handler wrote; it is embedded as
	// is in the batch answer rather than decoded and encoded again.
	var body any = ""
	if s.method != http.MethodHead && rec.body.Len() > 0 && strings.HasPrefix(rec.header.Get("Content-Type"), "application/json") {
		body = json.RawMessage(rec.body.Bytes())
	}
	served := strings.SplitN(path, "?", 2)[0]
	if u, err := url.PathUnescape(served); err == nil {
		served = u
	}
	return map[string]any{"status": rec.status, "path": served, "headers": headers, "body": body}, rec.status
}

// subHTTPRequest builds the HTTP request of a sub-request at path: the
// batch's own headers (but its body's and preconditions'), then the
// sub-request's.
func subHTTPRequest(ctx context.Context, parent *Request, s subRequest, path string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, s.method, "http://batch"+path, bytes.NewReader(s.bodyBytes()))
	if err != nil {
		return nil, err
	}
	req.Host = parent.Request().Host
	req.TLS = parent.Request().TLS
	req.RemoteAddr = parent.Request().RemoteAddr
	for k, v := range parent.Request().Header {
		switch http.CanonicalHeaderKey(k) {
		case "Content-Length", "Content-Type", "If-Match", "If-None-Match":
			continue
		}
		req.Header[k] = v
	}
	if s.hasBody {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	for k, v := range s.headers {
		if forwardingHeader(k) {
			// Written by the client, not by a proxy: a trusted
			// proxy's view of the request is the batch's.
			continue
		}
		req.Header.Set(k, v)
	}
	return req, nil
}

// bodyBytes is the sub-request's body as sent to its handler.
func (s subRequest) bodyBytes() []byte {
	if s.raw != nil {
		return s.raw
	}
	if s.hasBody {
		b, _ := EncodeJSON(s.body)
		return b
	}
	return nil
}

// runDetached runs the detached writes of a batch's sub-requests, each in
// a transaction of its own, whatever became of the batch's: a failed
// login a sub-request counted is counted even though its sub-request's
// writes were rolled back with its 401.
func (a *App) runDetached(writes []detachedWrite) {
	for _, w := range writes {
		ctx, cancel := context.WithTimeout(w.ctx, w.timeout)
		err := a.update(ctx, w.fn)
		cancel()
		if w.done != nil {
			w.done(err)
		}
	}
}

// kintoHeaderNames are Kinto's spellings of the headers whose Go
// canonical form differs (textproto.CanonicalMIMEHeaderKey).
var kintoHeaderNames = map[string]string{"Etag": "ETag", "Www-Authenticate": "WWW-Authenticate"}
