package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/nimbus-server/nimbus/resource"
)

//go:embed static
var files embed.FS

// CSP is what the console's pages may do: load and call this origin
// only, never be framed, no inline script or style, no eval.
const CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"

// Plugin is the console plugin.
type Plugin struct {
	// version is the hash of the embedded files: the assets' path holds
	// it, so that a new build is never served from a cache.
	version string
	index   []byte
}

// Name implements resource.Plugin.
func (*Plugin) Name() string { return "console" }

// Settings implements resource.SettingsDeclarer.
func (*Plugin) Settings() []resource.Setting {
	return []resource.Setting{{Name: "console_enabled", Type: resource.Bool, Default: "true",
		Description: "serve the web console at /v1/console/ (when the console plugin is included)"}}
}

var _ resource.SettingsDeclarer = (*Plugin)(nil)

// Register implements resource.Plugin.
func (p *Plugin) Register(r *resource.Registry) error {
	if !r.Settings().Bool("console_enabled") {
		return nil
	}
	sum := sha256.New()
	err := fs.WalkDir(files, "static", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(name)
		sum.Write([]byte(name))
		sum.Write(b)
		return err
	})
	if err != nil {
		return err
	}
	p.version = hex.EncodeToString(sum.Sum(nil))[:12]
	index, err := files.ReadFile("static/index.html")
	if err != nil {
		return err
	}
	p.index = bytes.ReplaceAll(index, []byte("{{ASSETS}}"), []byte("/v1/console/"+p.version+"/"))
	if err := r.AddCapability("console", "A web console for accounts and data, built into the server.",
		"https://github.com/nimbus-server/nimbus/blob/main/README.md#the-console", nil); err != nil {
		return err
	}
	for _, pth := range []string{"/console", "/console/", "/console/*"} {
		if err := r.AddRoute(resource.Route{Method: http.MethodGet, Path: pth, Handler: p.serve,
			Produces: []string{"text/html", "text/javascript", "text/css", "image/svg+xml"}, Summary: "The web console."}); err != nil {
			return err
		}
	}
	return nil
}

// serve answers the console's page and its assets.
func (p *Plugin) serve(r *resource.Request) error {
	req := r.Request()
	if req.URL.Path == "/v1/console" {
		return r.Redirect(http.StatusTemporaryRedirect, "/v1/console/")
	}
	h := r.ResponseHeader()
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	rel := strings.TrimPrefix(req.URL.Path, "/v1/console/")
	if version, name, ok := strings.Cut(rel, "/"); ok && version == p.version && !strings.Contains(name, "..") {
		b, err := files.ReadFile("static/" + path.Clean(name))
		if err == nil && name != "index.html" {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
			ct := mime.TypeByExtension(path.Ext(name))
			if path.Ext(name) == ".js" {
				ct = "text/javascript; charset=utf-8"
			}
			return r.Blob(http.StatusOK, ct, b)
		}
		return resource.NotFound("console file", name)
	}
	// Every other path is the page: the screens are in the fragment.
	h.Set("Cache-Control", "no-cache")
	return r.Blob(http.StatusOK, "text/html; charset=utf-8", p.index)
}
