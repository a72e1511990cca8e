package resource

import (
	"errors"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"
)

// staticCSP is what the files of static_path may do: load what comes
// from this origin (the API included), nothing else, never framed.
const staticCSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"

// serveStatic answers GET and HEAD of a path outside /v1 with the file
// of that name in the static_path folder (index.html for a folder), as
// PocketBase serves pb_public: the operator's own pages beside the API,
// on its origin (EventSource and cookie sessions work there). No folder
// is ever listed, nothing outside the folder is reachable (http.Dir
// rejects "..", dot files are not served), and what is not a file falls
// through to the usual answers (the /v1 redirect, 404).
func (a *App) serveStatic(c echo.Context) (bool, error) {
	req := c.Request()
	if a.opts.staticDir == "" || (req.Method != http.MethodGet && req.Method != http.MethodHead) {
		return false, nil
	}
	name := path.Clean("/" + req.URL.Path)
	if strings.HasSuffix(req.URL.Path, "/") {
		name = path.Join(name, "index.html")
	}
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") {
			return false, nil
		}
	}
	root := http.Dir(a.opts.staticDir)
	f, err := root.Open(name)
	if errors.Is(err, fs.ErrNotExist) || err != nil {
		return false, nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return false, nil
	}
	h := c.Response().Header()
	h.Set("Content-Security-Policy", staticCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-cache")
	http.ServeContent(c.Response(), req, fi.Name(), fi.ModTime(), f)
	return true, nil
}
