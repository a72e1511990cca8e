package cli

import (
	"context"
	"encoding/base64"
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

// remote reads a Kinto-compatible server (Kinto or Nimbus) over its API.
type remote struct {
	base string // .../v1
	auth string
	hc   *http.Client
}

// get reads one JSON answer; Next-Page is returned for lists.
func (rm *remote) get(ctx context.Context, path string) (map[string]any, string, error) {
	u := path
	if !strings.HasPrefix(path, "http") {
		u = rm.base + path
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
	raw, err := io.ReadAll(io.LimitReader(res.Body, 256<<20))
	if err != nil {
		return nil, "", err
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

// list reads every page of a list.
func (rm *remote) list(ctx context.Context, path string) ([]storage.Object, error) {
	var out []storage.Object
	next := path
	for next != "" {
		body, np, err := rm.get(ctx, next)
		if err != nil {
			return nil, err
		}
		items, _ := body["data"].([]any)
		for _, it := range items {
			if o, ok := it.(map[string]any); ok {
				out = append(out, o)
			}
		}
		next = np
	}
	return out, nil
}

// object reads one object and its permissions.
func (rm *remote) object(ctx context.Context, path string) (storage.Object, storage.ACL, error) {
	body, _, err := rm.get(ctx, path)
	if err != nil {
		return nil, nil, err
	}
	data, _ := body["data"].(map[string]any)
	acl := storage.ACL{}
	if perms, ok := body["permissions"].(map[string]any); ok {
		for k, v := range perms {
			list, _ := v.([]any)
			for _, p := range list {
				if s, ok := p.(string); ok {
					acl[k] = append(acl[k], s)
				}
			}
		}
	}
	return data, acl, nil
}

// fromHTTP copies what the credentials can read of a running server:
// buckets, groups, collections (schemas included) and records with their
// permissions, keeping ids and timestamps. Each list is read with
// _since=<the target's timestamp of that list>, so that running it again
// copies only what changed since (deletions included, as tombstones).
func fromHTTP(ctx context.Context, rm *remote, b storage.Backend, progress func(importStats)) (importStats, error) {
	var st importStats
	put := func(ref storage.Ref, plural string, objs []storage.Object, acls map[string]storage.ACL) error {
		var done importStats
		err := b.Update(ctx, func(tx storage.Tx) error {
			done = importStats{} // the function may run again
			for _, o := range objs {
				if err := done.write(tx, ref, ref.Parent+"/"+plural+"/"+storage.ID(o), o, acls[storage.ID(o)]); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			st.add(done)
		}
		return err
	}
	// since is the target's timestamp of a list: the source's changes
	// after it are what a new run copies.
	since := func(ref storage.Ref) (int64, error) {
		var ts int64
		err := b.View(ctx, func(tx storage.Tx) (err error) { ts, err = tx.Timestamp(ref); return })
		return ts, err
	}
	copyList := func(ref storage.Ref, plural, path string) error {
		ts, err := since(ref)
		if err != nil {
			return err
		}
		q := "?_sort=last_modified"
		if ts > 0 {
			q += fmt.Sprintf("&_since=%d", ts)
		}
		objs, err := rm.list(ctx, path+q)
		if err != nil {
			return err
		}
		// Lists do not carry permissions: each object is read for them.
		acls := map[string]storage.ACL{}
		for _, o := range objs {
			if storage.IsDeleted(o) {
				continue
			}
			_, acl, err := rm.object(ctx, path+"/"+url.PathEscape(storage.ID(o)))
			if err != nil {
				return err
			}
			acls[storage.ID(o)] = acl
		}
		if err := put(ref, plural, objs, acls); err != nil {
			return err
		}
		if progress != nil {
			progress(st)
		}
		return nil
	}
	// Buckets: every one listed is read for its permissions; a bucket
	// listed once is copied again only when it changed.
	if err := copyList(storage.Ref{Resource: "bucket"}, "buckets", "/buckets"); err != nil {
		return st, err
	}
	var all []storage.Object
	err := b.View(ctx, func(tx storage.Tx) (err error) {
		all, err = tx.List(storage.Ref{Resource: "bucket"}, storage.Query{})
		return err
	})
	if err != nil {
		return st, err
	}
	for _, bk := range all {
		bid := storage.ID(bk)
		bpath := "/buckets/" + url.PathEscape(bid)
		parent := "/buckets/" + bid
		if err := copyList(storage.Ref{Resource: "group", Parent: parent}, "groups", bpath+"/groups"); err != nil && !isForbidden(err) {
			return st, err
		}
		if err := copyList(storage.Ref{Resource: "collection", Parent: parent}, "collections", bpath+"/collections"); err != nil && !isForbidden(err) {
			return st, err
		}
		var cols []storage.Object
		err = b.View(ctx, func(tx storage.Tx) (err error) {
			cols, err = tx.List(storage.Ref{Resource: "collection", Parent: parent}, storage.Query{})
			return err
		})
		if err != nil {
			return st, err
		}
		for _, c := range cols {
			cid := storage.ID(c)
			ref := storage.Ref{Resource: "record", Parent: parent + "/collections/" + cid}
			if err := copyList(ref, "records", bpath+"/collections/"+url.PathEscape(cid)+"/records"); err != nil && !isForbidden(err) {
				return st, err
			}
		}
	}
	return st, nil
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

func newRemote(base, cred string) (*remote, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("--from must be the API's address, such as https://kinto.example/v1")
	}
	base = strings.TrimRight(base, "/")
	if !strings.HasSuffix(base, "/v1") {
		base += "/v1"
	}
	return &remote{base: base, auth: basicAuth(cred), hc: &http.Client{Timeout: time.Minute}}, nil
}
