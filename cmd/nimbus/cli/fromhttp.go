package cli

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// An import from a server trusts nothing it says. The operator's
// credentials go only to the source's origin (pages and redirects
// elsewhere are refused); ids must be ones the API accepts; timestamps in
// the future are refused; pages are written as they are read (memory
// holds one page), a page seen twice is a loop and both the pages of a
// list and the size of an answer are capped. Only the source's own lists
// are visited, so nothing of the target (its bucket ids) is sent to it.
// And the target's own objects are never replaced, re-permissioned or
// written into: an object is updated, deleted or given children only
// when it was copied from this source by an earlier run (the target keeps
// that provenance in originRef), unless --overwrite says otherwise.

const (
	// maxAnswerBytes caps one answer of the source.
	maxAnswerBytes = 64 << 20
	// maxPages caps the pages of one list.
	maxPages = 100_000
	// futureSkew is how far ahead of this clock a source timestamp may be.
	futureSkew = 10 * time.Minute
)

// originRef keeps, per source and object URI, that the object was copied
// from that source (an object of this list exists for each).
var originRef = storage.Ref{Resource: "nimbus_import_origin"}

// remote reads a Kinto-compatible server (Kinto or Nimbus) over its API.
type remote struct {
	base   string   // .../v1
	origin *url.URL // scheme and host of base: the only one credentials go to
	auth   string
	hc     *http.Client
}

func newRemote(base, cred string) (*remote, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("--from must be the API's address, such as https://kinto.example/v1")
	}
	base = strings.TrimRight(base, "/")
	if !strings.HasSuffix(base, "/v1") {
		base += "/v1"
	}
	rm := &remote{base: base, origin: &url.URL{Scheme: u.Scheme, Host: u.Host}, auth: basicAuth(cred)}
	rm.hc = &http.Client{Timeout: time.Minute, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if !rm.sameOrigin(req.URL) {
			return fmt.Errorf("the source redirects to %s, another server: not followed", req.URL.Redacted())
		}
		if len(via) >= 5 {
			return errors.New("the source redirects too many times")
		}
		return nil
	}}
	return rm, nil
}

func (rm *remote) sameOrigin(u *url.URL) bool {
	return strings.EqualFold(u.Scheme, rm.origin.Scheme) && strings.EqualFold(u.Host, rm.origin.Host)
}

// resolve turns a path or a Next-Page address into a URL of the source,
// refusing any other server.
func (rm *remote) resolve(ref string) (string, error) {
	if !strings.HasPrefix(ref, "http://") && !strings.HasPrefix(ref, "https://") {
		return rm.base + ref, nil
	}
	u, err := url.Parse(ref)
	if err != nil || !rm.sameOrigin(u) {
		return "", fmt.Errorf("the source's next page is on another server (%.200s): not followed", ref)
	}
	return ref, nil
}

// get reads one JSON answer; Next-Page is returned for lists.
func (rm *remote) get(ctx context.Context, ref string) (map[string]any, string, error) {
	u, err := rm.resolve(ref)
	if err != nil {
		return nil, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, "", err
	}
	if rm.auth != "" {
		req.Header.Set("Authorization", rm.auth)
	}
	req.Header.Set("Accept", "application/json")
	res, err := rm.hc.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxAnswerBytes+1))
	if err != nil {
		return nil, "", err
	}
	if len(raw) > maxAnswerBytes {
		return nil, "", fmt.Errorf("GET %s: the answer is larger than %d MB", u, maxAnswerBytes>>20)
	}
	if res.StatusCode != http.StatusOK {
		return nil, "", &statusError{url: u, status: res.StatusCode, body: strings.TrimSpace(string(raw[:min(len(raw), 300)]))}
	}
	v, err := resource.DecodeJSON(raw)
	body, ok := v.(map[string]any)
	if err != nil || !ok {
		return nil, "", fmt.Errorf("GET %s: not a JSON object", u)
	}
	if d, ok := body["data"].(map[string]any); ok {
		// Keep the source's key order where the target stores it.
		storage.WithClientOrder(d, storage.RawField(raw, "data"))
	}
	return body, res.Header.Get("Next-Page"), nil
}

// pages reads a list page by page, handing each page to fn before the
// next is read.
func (rm *remote) pages(ctx context.Context, path string, fn func([]storage.Object) error) error {
	seen := map[string]bool{}
	for next, n := path, 0; next != ""; n++ {
		if seen[next] {
			return fmt.Errorf("the source's pages of %s loop (%.200s comes again)", path, next)
		}
		if n >= maxPages {
			return fmt.Errorf("the source's list %s has more than %d pages", path, maxPages)
		}
		seen[next] = true
		body, np, err := rm.get(ctx, next)
		if err != nil {
			return err
		}
		items, _ := body["data"].([]any)
		page := make([]storage.Object, 0, len(items))
		for _, it := range items {
			if o, ok := it.(map[string]any); ok {
				page = append(page, o)
			}
		}
		if err := fn(page); err != nil {
			return err
		}
		next = np
	}
	return nil
}

// ids reads the ids of every object of a list.
func (rm *remote) ids(ctx context.Context, path string) ([]string, error) {
	var out []string
	err := rm.pages(ctx, path+"?_fields=id", func(page []storage.Object) error {
		for _, o := range page {
			out = append(out, storage.ID(o))
		}
		return nil
	})
	return out, err
}

// object reads one object (its data in the source's key order) and its
// permissions; hasPerms is false when the source did not show them:
// Kinto shows them to writers only, and readers get an empty map (which
// is also what an object without any ACL of its own shows its writers;
// with explicit_permissions, Kinto's default, its creator is always in
// it).
func (rm *remote) object(ctx context.Context, path string) (storage.Object, storage.ACL, bool, error) {
	body, _, err := rm.get(ctx, path)
	if err != nil {
		return nil, nil, false, err
	}
	data, _ := body["data"].(map[string]any)
	perms, _ := body["permissions"].(map[string]any)
	hasPerms := len(perms) > 0
	acl := storage.ACL{}
	for k, v := range perms {
		list, _ := v.([]any)
		for _, p := range list {
			if s, ok := p.(string); ok {
				acl[k] = append(acl[k], s)
			}
		}
	}
	return data, acl, hasPerms, nil
}

// copier copies what the credentials can read of a running server.
type copier struct {
	rm        *remote
	b         storage.Backend
	res       map[string]*resource.Resource
	overwrite bool
	now       time.Time
	st        importStats
	progress  func(importStats)
	// held are the lists whose cursor stays before an object copied
	// without its permissions, for the rest of this run.
	held map[storage.Ref]bool
}

// originID is the id, in originRef, of an object copied from the source.
func (c *copier) originID(uri string) string {
	sum := sha256.Sum256([]byte(c.rm.base + "\x00" + uri))
	return hex.EncodeToString(sum[:16])
}

// fromHTTP copies what the credentials can read of a running server:
// buckets, groups, collections (schemas included) and records with their
// permissions, keeping ids and timestamps. Each list is read with
// _since=<the newest timestamp an earlier run copied from it>, so that
// running it again copies only what changed since (deletions included,
// as tombstones).
// See the head of this file for what it refuses.
func fromHTTP(ctx context.Context, rm *remote, app *resource.App, b storage.Backend, overwrite bool, progress func(importStats)) (importStats, error) {
	c := &copier{rm: rm, b: b, res: map[string]*resource.Resource{}, overwrite: overwrite, now: time.Now(), progress: progress,
		held: map[storage.Ref]bool{}}
	for _, r := range app.Resources() {
		c.res[r.Name] = r
	}
	if err := c.list(ctx, storage.Ref{Resource: "bucket"}, "buckets", "/buckets"); err != nil {
		return c.st, err
	}
	buckets, err := rm.ids(ctx, "/buckets")
	if err != nil {
		return c.st, err
	}
	for _, bid := range buckets {
		if err := c.bucket(ctx, bid); err != nil {
			return c.st, err
		}
	}
	return c.st, nil
}

// bucket copies the groups, collections and records of one bucket of the
// source, if the bucket is one the target may write into.
func (c *copier) bucket(ctx context.Context, bid string) error {
	if !c.res["bucket"].ValidID(bid) {
		return fmt.Errorf("the source lists a bucket with an invalid id %q", bid)
	}
	parent := "/buckets/" + bid
	if ok, err := c.mayFill(parent); err != nil || !ok {
		return err
	}
	bpath := "/buckets/" + url.PathEscape(bid)
	if err := c.list(ctx, storage.Ref{Resource: "group", Parent: parent}, "groups", bpath+"/groups"); err != nil && !isForbidden(err) {
		return err
	}
	if err := c.list(ctx, storage.Ref{Resource: "collection", Parent: parent}, "collections", bpath+"/collections"); err != nil && !isForbidden(err) {
		return err
	}
	cols, err := c.rm.ids(ctx, bpath+"/collections")
	if isForbidden(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, cid := range cols {
		if !c.res["collection"].ValidID(cid) {
			return fmt.Errorf("the source lists a collection with an invalid id %q in %s", cid, parent)
		}
		uri := parent + "/collections/" + cid
		if ok, err := c.mayFill(uri); err != nil {
			return err
		} else if !ok {
			continue
		}
		ref := storage.Ref{Resource: "record", Parent: uri}
		if err := c.list(ctx, ref, "records", bpath+"/collections/"+url.PathEscape(cid)+"/records"); err != nil && !isForbidden(err) {
			return err
		}
	}
	return nil
}

// mayFill tells whether objects may be copied under the container at
// uri: it was copied from this source (or does not exist), or
// --overwrite was given. A target's own bucket never receives a source's
// collections.
func (c *copier) mayFill(uri string) (bool, error) {
	if c.overwrite {
		return true, nil
	}
	var ok bool
	err := c.b.View(context.Background(), func(tx storage.Tx) error {
		var err error
		ok, err = c.fromSource(tx, uri)
		return err
	})
	return ok, err
}

// fromSource tells whether the object at uri may be written by this
// import: it does not exist in the target, or an earlier run copied it
// from this source.
func (c *copier) fromSource(tx storage.Tx, uri string) (bool, error) {
	ref, id := refOf(uri)
	exists, err := tx.Exists(ref, id)
	if err != nil || !exists {
		return err == nil, err
	}
	return tx.Exists(originRef, c.originID(uri))
}

// refOf splits an object URI into its list and id
// ("/buckets/b/collections/c" -> collections of /buckets/b, "c").
func refOf(uri string) (storage.Ref, string) {
	i := strings.LastIndex(uri, "/")
	j := strings.LastIndex(uri[:i], "/")
	names := map[string]string{"buckets": "bucket", "groups": "group", "collections": "collection", "records": "record"}
	return storage.Ref{Resource: names[uri[j+1:i]], Parent: uri[:j]}, uri[i+1:]
}

// cursorID is the id, in originRef, of the newest timestamp copied from
// one list of the source: the next run reads the list from there. It is
// the source's own timestamp: the target's (which local writes move) is
// never sent.
func (c *copier) cursorID(ref storage.Ref) string {
	return c.originID("list\x00" + ref.Parent + "\x00" + ref.Resource)
}

// list copies the changes of one list of the source since the last run
// saw it, a page at a time.
func (c *copier) list(ctx context.Context, ref storage.Ref, plural, path string) error {
	var ts int64
	err := c.b.View(ctx, func(tx storage.Tx) error {
		o, err := tx.Get(originRef, c.cursorID(ref))
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		ts, _ = storage.Int(o["since"])
		return err
	})
	if err != nil {
		return err
	}
	q := "?_sort=last_modified"
	if ts > 0 {
		q += fmt.Sprintf("&_since=%d", ts)
	}
	res := c.res[ref.Resource]
	return c.rm.pages(ctx, path+q, func(page []storage.Object) error {
		acls := make(map[string]storage.ACL, len(page))
		hidden := map[string]bool{}
		for i, o := range page {
			id := storage.ID(o)
			if res == nil || !res.ValidID(id) {
				return fmt.Errorf("the source lists an object with an invalid id %q in %s", id, path)
			}
			if lm := storage.LastModified(o); time.UnixMilli(lm).After(c.now.Add(futureSkew)) {
				return fmt.Errorf("%s/%s: the source's timestamp %d is in the future", path, id, lm)
			}
			if storage.IsDeleted(o) {
				continue
			}
			// Lists do not carry permissions: each object is read for them
			// (and its data taken from there, in the source's key order).
			data, acl, hasPerms, err := c.rm.object(ctx, path+"/"+url.PathEscape(id))
			if err != nil {
				return err
			}
			if storage.ID(data) == id && !time.UnixMilli(storage.LastModified(data)).After(c.now.Add(futureSkew)) {
				page[i] = data
			}
			acls[id] = acl
			if !hasPerms {
				hidden[id] = true
				if len(c.st.missing) < 5 {
					c.st.missing = append(c.st.missing, ref.Parent+"/"+plural+"/"+id)
				}
			}
		}
		if err := c.write(ctx, ref, plural, page, acls, hidden); err != nil {
			return err
		}
		if c.progress != nil {
			c.progress(c.st)
		}
		return nil
	})
}

// write stores a page of the source in one transaction: objects the
// target has of its own are kept (counted), the others written with
// their provenance.
func (c *copier) write(ctx context.Context, ref storage.Ref, plural string, page []storage.Object, acls map[string]storage.ACL,
	hidden map[string]bool) error {
	var done importStats
	err := c.b.Update(ctx, func(tx storage.Tx) error {
		done = importStats{} // the function may run again
		newest, firstHidden := int64(0), int64(0)
		for _, o := range page {
			lm := storage.LastModified(o)
			newest = max(newest, lm)
			if hidden[storage.ID(o)] && (firstHidden == 0 || lm < firstHidden) {
				firstHidden = lm
			}
			uri := ref.Parent + "/" + plural + "/" + storage.ID(o)
			if !c.overwrite {
				ok, err := c.fromSource(tx, uri)
				if err != nil {
					return err
				}
				if !ok {
					done.kept++
					continue
				}
			}
			acl := acls[storage.ID(o)]
			if same, err := sameVersion(tx, ref, o); err != nil {
				return err
			} else if same {
				// Read again (a run that lacked permissions held the
				// cursor): only the permissions may be new. Writing the
				// object again would give it a new timestamp.
				if hidden[storage.ID(o)] {
					done.noPerms++
				} else if !storage.IsDeleted(o) {
					if err := tx.SetACL(uri, acl); err != nil {
						return err
					}
				}
				done.skipped++
				continue
			}
			if hidden[storage.ID(o)] {
				done.noPerms++
				// Never replace permissions the target has with none.
				kept, err := tx.GetACL(uri)
				if err != nil {
					return err
				}
				if len(kept) > 0 {
					acl = kept
				}
			}
			if err := done.write(tx, ref, uri, o, acl); err != nil {
				return err
			}
			if _, err := tx.Replace(originRef, storage.Object{"id": c.originID(uri), "uri": uri}); err != nil {
				return err
			}
		}
		switch {
		case firstHidden > 0:
			// The next run reads again from the first object copied
			// without its permissions, and fills them in when its
			// credentials show them.
			newest = firstHidden - 1
		case c.held[ref]:
			return nil
		}
		if newest <= 0 {
			return nil
		}
		var cur int64
		if o, err := tx.Get(originRef, c.cursorID(ref)); err == nil {
			cur, _ = storage.Int(o["since"])
		}
		if firstHidden == 0 && newest <= cur {
			return nil
		}
		_, err := tx.Replace(originRef, storage.Object{"id": c.cursorID(ref), "since": newest})
		return err
	})
	if err == nil {
		c.st.add(done)
		if done.noPerms > 0 {
			c.held[ref] = true
		}
	}
	return err
}

// sameVersion tells whether the target holds o (or its tombstone) with
// the same timestamp already.
func sameVersion(tx storage.Tx, ref storage.Ref, o storage.Object) (bool, error) {
	objs, err := tx.List(ref, storage.Query{IDs: []string{storage.ID(o)}, IncludeDeleted: true})
	if err != nil || len(objs) == 0 {
		return false, err
	}
	old := objs[0]
	return storage.LastModified(old) == storage.LastModified(o) && storage.IsDeleted(old) == storage.IsDeleted(o), nil
}

// statusError is an answer of the source other than 200.
type statusError struct {
	url    string
	status int
	body   string
}

func (e *statusError) Error() string { return fmt.Sprintf("GET %s: %d %s", e.url, e.status, e.body) }

// isForbidden tells an answer the credentials may not read (the list is
// left out; the rest goes on).
func isForbidden(err error) bool {
	var se *statusError
	return errors.As(err, &se) && (se.status == http.StatusForbidden || se.status == http.StatusUnauthorized)
}

// basicAuth turns user:pass into an Authorization header.
func basicAuth(cred string) string {
	if cred == "" {
		return ""
	}
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(cred))
}
