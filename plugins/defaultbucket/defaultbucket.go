package defaultbucket

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
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

// Settings implements resource.SettingsDeclarer.
func (*Plugin) Settings() []resource.Setting {
	return []resource.Setting{{Name: "default_bucket_hmac_secret", Type: resource.String,
		Description: "secret the personal bucket ids derive from (keep it stable: changing it gives every user a new bucket)"}}
}

var _ resource.SettingsDeclarer = (*Plugin)(nil)

// Register implements resource.Plugin.
func (p *Plugin) Register(r *resource.Registry) error {
	p.secret = r.Settings().String("default_bucket_hmac_secret")
	if p.secret == "" {
		r.Logger().Warn("default_bucket_hmac_secret is empty: anyone can compute every user's personal bucket id " +
			"(set it to a long random value, the same on every instance and on a Kinto sharing the database)")
	}
	if err := r.AddCapability("default_bucket", "The default bucket is an alias for a personal bucket where collections are created implicitly.",
		"https://kinto.readthedocs.io/en/latest/api/1.x/buckets.html#personal-bucket-default", nil); err != nil {
		return err
	}
	r.AddUserInfo(func(req *resource.Request, user map[string]any) {
		user["bucket"] = BucketID(p.secret, req.Identity().UserID)
	})
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		for _, path := range []string{"/buckets/default", "/buckets/default/*"} {
			if err := r.AddRoute(resource.Route{Method: m, Path: path, Handler: p.serve, Write: m != http.MethodGet, Alias: true,
				Summary: "Alias of the caller's personal bucket."}); err != nil {
				return err
			}
		}
	}
	// Uploads to a record of the personal bucket (the attachments
	// plugin) keep their body unread for the real endpoint, which reads
	// it as it comes.
	for _, m := range []string{http.MethodPost, http.MethodDelete} {
		if err := r.AddRoute(resource.Route{Method: m, Path: "/buckets/default/collections/:cid/records/:rid/attachment", Handler: p.serve,
			Write: true, StreamBody: m == http.MethodPost, NoBatch: true, Consumes: []string{"multipart/form-data"},
			Summary: "Alias of an attachment of the caller's personal bucket."}); err != nil {
			return err
		}
	}
	return nil
}

// ensureOwn creates the object at uri for the caller unless it exists;
// an existing one is used only if the caller may write it. Personal
// bucket ids can be computed by anyone who knows the secret (or, with
// none set, by anyone at all): a bucket or collection someone else
// created there first must never receive the caller's data.
func ensureOwn(objects resource.Objects, uri string) error {
	created, err := objects.Ensure(uri)
	if err != nil || created {
		return err
	}
	ok, err := objects.Can(uri, "write")
	if err != nil {
		return err
	}
	if !ok {
		return &resource.Error{Status: http.StatusForbidden, Errno: resource.ErrnoForbidden,
			Message: "The personal bucket or collection exists and belongs to someone else."}
	}
	return nil
}

// serve creates what the alias implies, then serves the request on the
// real URL.
func (p *Plugin) serve(r *resource.Request) error {
	if !r.Authenticated() {
		return resource.Unauthorized()
	}
	if r.Settings().Bool("readonly") {
		return resource.MethodNotAllowed("The default bucket cannot be used on a read-only server.")
	}
	req := r.Request()
	// The path as sent, percent-encoding kept: an id holding an encoded
	// "/" is one segment, as on the real URL.
	rest, ok := strings.CutPrefix(req.URL.EscapedPath(), "/v1/buckets/default")
	if !ok || (rest != "" && rest[0] != '/') {
		return resource.ErrUnknownURL()
	}
	if strings.HasSuffix(rest, "/") {
		target := "/v1/buckets/default" + strings.TrimRight(rest, "/")
		if req.URL.RawQuery != "" {
			target += "?" + req.URL.RawQuery
		}
		return r.Redirect(http.StatusTemporaryRedirect, target)
	}
	id := BucketID(p.secret, r.Identity().UserID)
	bucketURI := "/buckets/" + id
	segments := strings.Split(strings.Trim(rest, "/"), "/")
	target := "/v1" + bucketURI + rest
	// Nothing is created for a request the real URL answers 404 or 405
	// (a PUT on a list, an endpoint of a plugin not included).
	routed := r.Routed(req.Method, target)
	targetsBucket := rest == "" && req.Method == http.MethodPut || !routed
	objects := r.Objects()
	if !targetsBucket {
		if err := ensureOwn(objects, bucketURI); err != nil {
			return err
		}
	}
	if len(segments) >= 2 && segments[0] == "collections" && segments[1] != "" {
		cid, err := url.PathUnescape(segments[1])
		if err != nil {
			return resource.Invalid("path", "collection_id", "Invalid percent-encoding in the URL path.")
		}
		targetsCollection := len(segments) == 2 && req.Method == http.MethodPut || !routed
		if !targetsCollection {
			if err := ensureOwn(objects, bucketURI+"/collections/"+cid); err != nil {
				return err
			}
		}
	}
	body := r.Body()
	if rest == "" && bytes.Contains(body, []byte(`"default"`)) {
		if v, err := resource.DecodeJSON(body); err == nil {
			if m, ok := v.(map[string]any); ok {
				if d, ok := m["data"].(map[string]any); ok && d["id"] == "default" {
					d["id"] = id
					body, _ = resource.EncodeJSON(m)
				}
			}
		}
	}
	return r.Reroute(target, body)
}
