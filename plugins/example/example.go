// Package example is a small plugin written only against the public plugin
// API, as a third party would write one. docs/plugins.md walks through it.
//
// It declares "bookmarks" inside buckets (a resource with a parent, a
// schema, permissions and inheritance entries), a plain route
// (GET /example/stats), an event listener that counts bookmark changes, a
// capability and a setting (example.greeting).
package example

import (
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"

	"github.com/nimbus-server/nimbus/permissions"
	"github.com/nimbus-server/nimbus/resource"
)

// Plugin keeps its state in its own value: nothing global.
type Plugin struct {
	created, deleted atomic.Int64
}

// Name is what the includes setting lists to enable the plugin.
func (*Plugin) Name() string { return "example" }

// Register adds everything the plugin brings.
func (p *Plugin) Register(r *resource.Registry) error {
	// A setting with its default; NIMBUS_EXAMPLE_GREETING overrides it.
	r.DeclareSetting("example.greeting", "hello")
	greeting := r.Settings().String("example.greeting")

	// A resource under buckets: /buckets/{bid}/bookmarks[/{id}].
	err := r.AddResource(&resource.Resource{
		Name:   "bookmark",
		Parent: "bucket",
		Plural: "bookmarks",
		NewID:  resource.NewName,
		// Who may do what: bucket readers read every bookmark, bucket
		// writers write them, and each bookmark's own ACL adds more. A
		// "bookmark:create" permission on the bucket lets people add
		// bookmarks without writing the bucket.
		Permissions: map[string]permissions.Grants{
			"read":  {"bucket": {"read", "write"}, "bookmark": {"read", "write"}},
			"write": {"bucket": {"write"}, "bookmark": {"write"}},
		},
		Validate: validate,
	})
	if err != nil {
		return err
	}
	// bookmark:create on buckets, granted by bucket writers or by an entry
	// "bookmark:create" in a bucket's ACL.
	if err := r.Tree().AddPermission("bucket", "bookmark:create", permissions.Grants{"bucket": {"write", "bookmark:create"}}); err != nil {
		return err
	}

	// An event listener: runs after each committed change of a bookmark.
	r.AddListener(resource.Listener{
		Resources: []string{"bookmark"},
		AfterCommit: func(ev *resource.Event) {
			switch ev.Action {
			case "create":
				p.created.Add(int64(len(ev.Impacted)))
			case "delete":
				p.deleted.Add(int64(len(ev.Impacted)))
			}
		},
	})

	// A capability in the root URL.
	if err := r.AddCapability("example", "Bookmarks inside buckets (example plugin).",
		"https://github.com/nimbus-server/nimbus/blob/main/docs/plugins.md", map[string]any{"greeting": greeting}); err != nil {
		return err
	}

	// A plain route, for authenticated callers only.
	return r.AddRoute(resource.Route{Method: http.MethodGet, Path: "/example/stats", Access: resource.Authenticated,
		Summary: "Bookmark changes since the server started.",
		Handler: func(req *resource.Request) error {
			return req.JSON(http.StatusOK, map[string]any{
				"greeting": fmt.Sprintf("%s, %s", greeting, req.Identity.UserID),
				"created":  p.created.Load(), "deleted": p.deleted.Load(),
			})
		}})
}

// validate is the bookmark schema: a "url" string that parses as an
// absolute http(s) URL, and an optional list of string "tags".
func validate(w *resource.Write) error {
	raw, ok := w.Data["url"].(string)
	if !ok {
		return resource.Invalid("body", "data.url", "url is required and must be a string")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return resource.Invalid("body", "data.url", fmt.Sprintf("%q is not an absolute http(s) URL", raw))
	}
	if tags, present := w.Data["tags"]; present {
		list, ok := tags.([]any)
		if !ok {
			return resource.Invalid("body", "data.tags", "tags must be a list")
		}
		for _, t := range list {
			if _, ok := t.(string); !ok {
				return resource.Invalid("body", "data.tags", "tags must be strings")
			}
		}
	}
	w.Data["host"] = u.Host // derived field, stored with the object
	return nil
}
