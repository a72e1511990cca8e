// Package defaultbucket is the default_bucket plugin: /buckets/default is
// an alias of the caller's personal bucket, created on first use together
// with the collection a request names (PLUG-DB).
//
// The personal bucket id is Kinto's: the first 32 hex digits of
// HMAC-SHA256(default_bucket_hmac_secret, user id), formatted as a UUID,
// so a site moving from Kinto keeps its users' buckets. Requests under the
// alias are re-dispatched through the router with the real id, so they get
// exactly the behaviour, permissions and events of the real URL.
package defaultbucket

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/nimbus-server/nimbus/resource"
)

// Plugin is the default_bucket plugin.
type Plugin struct{ secret string }

// Name implements resource.Plugin.
func (*Plugin) Name() string { return "default_bucket" }

// BucketID returns the personal bucket id of a user id.
func BucketID(secret, userID string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(userID))
	h := hex.EncodeToString(m.Sum(nil))[:32]
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// Register implements resource.Plugin.
func (p *Plugin) Register(r *resource.Registry) error {
	p.secret = r.Settings().String("default_bucket_hmac_secret")
	if err := r.AddCapability("default_bucket", "The default bucket is an alias for a personal bucket where collections are created implicitly.",
		"https://kinto.readthedocs.io/en/latest/api/1.x/buckets.html#personal-bucket-default", nil); err != nil {
		return err
	}
	r.AddUserInfo(func(req *resource.Request, user map[string]any) {
		user["bucket"] = BucketID(p.secret, req.Identity.UserID)
	})
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		for _, path := range []string{"/buckets/default", "/buckets/default/*"} {
			if err := r.AddRoute(resource.Route{Method: m, Path: path, Handler: p.serve, Write: m != http.MethodGet,
				Summary: "Alias of the caller's personal bucket."}); err != nil {
				return err
			}
		}
	}
	return nil
}

// serve creates what the alias implies, then serves the request on the
// real URL.
func (p *Plugin) serve(r *resource.Request) error {
	if !r.Authenticated() {
		return resource.Unauthorized()
	}
	if r.App.Settings.Bool("readonly") {
		return resource.MethodNotAllowed("The default bucket cannot be used on a read-only server.")
	}
	req := r.Request()
	rest := strings.TrimPrefix(req.URL.Path, "/v1/buckets/default")
	if strings.HasSuffix(rest, "/") {
		target := "/v1/buckets/default" + strings.TrimRight(rest, "/")
		if req.URL.RawQuery != "" {
			target += "?" + req.URL.RawQuery
		}
		return r.Redirect(http.StatusTemporaryRedirect, target)
	}
	id := BucketID(p.secret, r.Identity.UserID)
	bucketPath := "/v1/buckets/" + id
	segments := strings.Split(strings.Trim(rest, "/"), "/")
	targetsBucket := rest == "" && req.Method == http.MethodPut
	if !targetsBucket {
		if res := p.ensure(r, bucketPath); res != nil {
			return res
		}
	}
	if len(segments) >= 2 && segments[0] == "collections" && segments[1] != "" {
		targetsCollection := len(segments) == 2 && req.Method == http.MethodPut
		if !targetsCollection {
			if res := p.ensure(r, bucketPath+"/collections/"+segments[1]); res != nil {
				return res
			}
		}
	}
	body := r.Body
	if bytes.Contains(body, []byte(`"default"`)) {
		if v, err := resource.DecodeJSON(body); err == nil {
			if m, ok := v.(map[string]any); ok {
				if d, ok := m["data"].(map[string]any); ok && d["id"] == "default" && rest == "" {
					d["id"] = id
					body, _ = resource.EncodeJSON(m)
				}
			}
		}
	}
	inner := req.Clone(req.Context())
	inner.URL.Path = bucketPath + rest
	inner.URL.RawPath = ""
	inner.RequestURI = inner.URL.RequestURI()
	inner.Body = http.NoBody
	if len(body) > 0 {
		inner.Body = newBody(body)
		inner.ContentLength = int64(len(body))
	}
	r.App.ServeHTTP(r.Response().Writer, inner)
	r.Response().Committed = true
	return nil
}

// ensure creates an object if it is missing, through the router (so that
// permissions, events and history apply); an error other than "already
// exists" is returned.
func (p *Plugin) ensure(r *resource.Request, path string) error {
	req, err := http.NewRequestWithContext(r.Request().Context(), http.MethodPut, path, strings.NewReader("{}"))
	if err != nil {
		return err
	}
	req.Host = r.Request().Host
	for k, v := range r.Request().Header {
		req.Header[k] = v
	}
	req.Header.Del("If-Match")
	req.Header.Set("If-None-Match", "*")
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = 2
	rec := httptest.NewRecorder()
	r.App.ServeHTTP(rec, req)
	switch rec.Code {
	case http.StatusCreated, http.StatusPreconditionFailed:
		return nil
	}
	v, derr := resource.DecodeJSON(rec.Body.Bytes())
	m, _ := v.(map[string]any)
	if derr != nil || m == nil {
		return resource.Internal()
	}
	e := &resource.Error{Status: rec.Code, Errno: resource.ErrnoUndefined}
	if n, ok := m["errno"].(interface{ Int64() (int64, error) }); ok {
		i, _ := n.Int64()
		e.Errno = int(i)
	}
	e.Message, _ = m["message"].(string)
	e.Details = m["details"]
	if t, ok := m["error"].(string); ok {
		e.Title = t
	}
	return e
}
