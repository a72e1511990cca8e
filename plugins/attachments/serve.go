package attachments

import (
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/nimbus-server/nimbus/resource"
)

// servePrefix is where Nimbus serves the stored files, outside /v1.
const servePrefix = "/attachments/"

// fileCSP keeps a served file from running anything on the server's
// origin: an uploaded HTML or SVG page is shown sandboxed, with no
// script, no form, no same-origin access.
const fileCSP = "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'"

// serve answers GET and HEAD of /attachments/{name} with the stored file:
// its content type, its hash as ETag, ranges, a long cache lifetime.
// Files are public to whoever knows the location, as in Kinto; random
// names make locations unguessable.
func (p *Plugin) serve(w http.ResponseWriter, req *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", fileCSP)
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		writeError(w, resource.MethodNotAllowed(""))
		return
	}
	name := strings.TrimPrefix(req.URL.Path, servePrefix)
	if name == "" || strings.Contains(name, "..") || safePath(name) != name {
		writeError(w, resource.NotFound("attachment", name))
		return
	}
	info, ok, err := p.files.info(req.Context(), name)
	if err != nil {
		p.log.Error("attachments: reading a file's information", "name", name, "error", err)
		writeError(w, resource.ErrorFrom(err))
		return
	}
	if !ok {
		writeError(w, resource.NotFound("attachment", name))
		return
	}
	f, err := p.files.blobs.open(req.Context(), name, info)
	if err != nil {
		writeError(w, resource.NotFound("attachment", name))
		return
	}
	defer f.Close()
	// The stored type is what the client sent (kinto-attachment keeps
	// it as is); one that is not a media type is served as bytes.
	ctype := info.Mimetype
	if _, _, err := mime.ParseMediaType(ctype); err != nil {
		ctype = "application/octet-stream"
	}
	h.Set("Content-Type", ctype)
	if info.Hash != "" {
		h.Set("ETag", `"`+info.Hash+`"`)
	}
	h.Set("Cache-Control", "public, max-age=31536000")
	http.ServeContent(w, req, "", time.Time{}, f)
}

// writeError answers with a Kinto error body.
func writeError(w http.ResponseWriter, e *resource.Error) {
	body, _ := resource.EncodeJSON(e.Body())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Del("ETag")
	w.Header().Del("Cache-Control")
	w.WriteHeader(e.Status)
	w.Write(body)
}
