// Package bookmarks is a Nimbus plugin written the way a third party
// writes one: in its own Go module, against the public plugin API only
// (package resource and package permissions), compiled into a custom
// nimbus binary by this module's main package. docs/plugins.md walks
// through it.
//
// It declares "bookmarks" inside buckets (a resource with a parent, a
// schema, permissions and inheritance entries), two settings, a plain
// route that copies a bookmark between buckets with the in-process object
// service, a plain route with statistics kept by an event listener, and a
// capability.
package bookmarks

import (
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"

	"github.com/nimbus-server/nimbus/permissions"
	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// Plugin keeps its state in its own value: nothing global.
type Plugin struct {
	maxTags          int
	created, deleted atomic.Int64
}

// The engine checks at compile time that the plugin has the abilities it
// claims.
var (
	_ resource.Plugin           = (*Plugin)(nil)
	_ resource.SettingsDeclarer = (*Plugin)(nil)
)

// Name is what the includes setting lists to enable the plugin.
func (*Plugin) Name() string { return "bookmarks" }

// Settings declares the plugin's settings once: the engine gives them
// their defaults, refuses to start on a value of the wrong type, and
// lists them in "nimbus settings" and "nimbus init".
func (*Plugin) Settings() []resource.Setting {
	return []resource.Setting{
		{Name: "bookmarks.greeting", Type: resource.String, Default: "hello",
			Description: "greeting of GET /bookmarks-stats"},
		{Name: "bookmarks.max_tags", Type: resource.Int, Default: "10",
			Description: "most tags one bookmark may have"},
	}
}

// Register adds everything the plugin brings.
func (p *Plugin) Register(r *resource.Registry) error {
	s := r.Settings()
	greeting := s.String("bookmarks.greeting")
	p.maxTags = s.IntDefault("bookmarks.max_tags")

	// A resource under buckets: /buckets/{bid}/bookmarks[/{id}].
	err := r.AddResource(&resource.Resource{
		Name:   "bookmark",
		Parent: "bucket",
		Plural: "bookmarks",
		NewID:  resource.NewName,
		// Who may do what: bucket readers read every bookmark, bucket
		// writers write them, and each bookmark's own ACL adds more.
		Permissions: map[string]permissions.Grants{
			"read":  {"bucket": {"read", "write"}, "bookmark": {"read", "write"}},
			"write": {"bucket": {"write"}, "bookmark": {"write"}},
		},
		Validate: p.validate,
	})
	if err != nil {
		return err
	}
	// bookmark:create on buckets, granted by bucket writers or by an entry
	// "bookmark:create" in a bucket's ACL: people may add bookmarks to a
	// bucket they cannot write.
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
	if err := r.AddCapability("bookmarks", "Bookmarks inside buckets (example plugin).",
		"https://github.com/nimbus-server/nimbus/blob/main/docs/plugins.md", map[string]any{"greeting": greeting}); err != nil {
		return err
	}

	// Plain routes. Path parameters arrive decoded.
	if err := r.AddRoute(resource.Route{Method: http.MethodPost, Path: "/buckets/:bucket_id/bookmarks/:bookmark_id/copy",
		Access: resource.Authenticated, Write: true, Handler: p.copy,
		Summary: "Copy a bookmark to another bucket (body: {\"to\": bucket id})."}); err != nil {
		return err
	}
	return r.AddRoute(resource.Route{Method: http.MethodGet, Path: "/bookmarks-stats", Access: resource.Authenticated,
		Summary: "Bookmark changes since the server started.",
		Handler: func(req *resource.Request) error {
			return req.JSON(http.StatusOK, map[string]any{
				"greeting": fmt.Sprintf("%s, %s", greeting, req.Identity().UserID),
				"created":  p.created.Load(), "deleted": p.deleted.Load(),
			})
		}})
}

// copy reads a bookmark and creates a copy in another bucket, both as the
// caller: the object service applies the same permissions, schema,
// timestamps and events as the HTTP endpoints, so a caller who cannot
// read the source or create in the target gets the same 403/404.
func (p *Plugin) copy(r *resource.Request) error {
	body, berr := r.BodyObject()
	if berr != nil {
		return berr
	}
	to, _ := body["to"].(string)
	if to == "" {
		return resource.Invalid("body", "to", "to must name the bucket to copy to")
	}
	objects := r.Objects()
	src, _, err := objects.Get("/buckets/" + r.Param("bucket_id") + "/bookmarks/" + r.Param("bookmark_id"))
	if err != nil {
		return err
	}
	data := storage.Object{"url": src["url"], "copied_from": r.Param("bucket_id")}
	if tags, ok := src["tags"]; ok {
		data["tags"] = tags
	}
	copied, err := objects.Create("/buckets/"+to+"/bookmarks/"+resource.NewName(), data, nil)
	if err != nil {
		return err
	}
	return r.JSON(http.StatusCreated, map[string]any{"data": copied})
}

// validate is the bookmark schema: a "url" string that parses as an
// absolute http(s) URL, and an optional list of at most max_tags string
// "tags". It derives a "host" field stored with the object.
func (p *Plugin) validate(w *resource.Write) error {
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
		if len(list) > p.maxTags {
			return resource.Invalid("body", "data.tags", fmt.Sprintf("at most %d tags", p.maxTags))
		}
		for _, t := range list {
			if _, ok := t.(string); !ok {
				return resource.Invalid("body", "data.tags", "tags must be strings")
			}
		}
	}
	w.Data["host"] = u.Host
	return nil
}
