package admin

import (
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/nimbus-server/nimbus/resource"
)

// CSP is the Content-Security-Policy of the admin pages.
const CSP = "default-src 'self'; img-src data: *; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'"

const helpPage = `<!doctype html><html><head><meta charset="utf-8"><title>Nimbus admin</title></head><body>
<h1>Kinto Admin is not installed</h1>
<p>Download or build <a href="https://github.com/Kinto/kinto-admin">Kinto Admin</a> with the asset path
<code>/v1/admin/</code>, put the files and a <code>VERSION</code> file in a folder, and point the
<code>admin_assets_path</code> setting at it (or <code>NIMBUS_ADMIN_ASSETS_PATH</code>).</p>
</body></html>`

// Plugin is the admin plugin.
type Plugin struct{ dir, version string }

// Name implements resource.Plugin.
func (*Plugin) Name() string { return "admin" }

// Settings implements resource.SettingsDeclarer.
func (*Plugin) Settings() []resource.Setting {
	return []resource.Setting{{Name: "admin_assets_path", Type: resource.String,
		Description: "folder holding a Kinto Admin build served at /v1/admin/"}}
}

var _ resource.SettingsDeclarer = (*Plugin)(nil)

// Register implements resource.Plugin.
func (p *Plugin) Register(r *resource.Registry) error {
	p.dir = r.Settings().String("admin_assets_path")
	if p.dir != "" {
		if b, err := os.ReadFile(filepath.Join(p.dir, "VERSION")); err == nil {
			p.version = strings.TrimSpace(string(b))
		}
	}
	if err := r.AddCapability("admin", "Serves the admin console.", "https://github.com/Kinto/kinto-admin/",
		map[string]any{"version": p.version}); err != nil {
		return err
	}
	for _, pth := range []string{"/admin", "/admin/", "/admin/*"} {
		if err := r.AddRoute(resource.Route{Method: http.MethodGet, Path: pth, Handler: p.serve, Summary: "The admin console."}); err != nil {
			return err
		}
	}
	return nil
}

func (p *Plugin) serve(r *resource.Request) error {
	req := r.Request()
	if req.URL.Path == "/v1/admin" {
		return r.Redirect(http.StatusTemporaryRedirect, "/v1/admin/")
	}
	h := r.ResponseHeader()
	rel := strings.TrimPrefix(path.Clean(strings.TrimPrefix(req.URL.Path, "/v1/admin")), "/")
	if p.dir == "" {
		h.Set("Content-Security-Policy", CSP)
		return r.HTML(http.StatusOK, helpPage)
	}
	file := filepath.Join(p.dir, filepath.FromSlash(rel))
	if rel == "" || rel == "." {
		file = filepath.Join(p.dir, "index.html")
	}
	if st, err := os.Stat(file); err != nil || st.IsDir() || !strings.HasPrefix(file, filepath.Clean(p.dir)) {
		// single-page app: unknown paths serve the index
		file = filepath.Join(p.dir, "index.html")
	}
	h.Set("Content-Security-Policy", CSP)
	if strings.HasSuffix(file, "index.html") {
		h.Set("Cache-Control", "max-age=86400")
	} else {
		h.Set("Cache-Control", "max-age=31536000")
	}
	http.ServeFile(r.ResponseWriter(), req, file)
	return nil
}
