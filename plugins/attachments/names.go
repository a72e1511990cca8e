package attachments

import (
	"net/url"
	"path"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/nimbus-server/nimbus/resource"
)

// safeName is a client's file name reduced to ASCII letters, digits and
// "_.-", as kinto-attachment's secure_filename: accents dropped (NFKD),
// path separators and runs of spaces become "_", dots and underscores
// trimmed from both ends. It may be empty.
func safeName(name string) string {
	name = strings.NewReplacer("/", " ", "\\", " ").Replace(name)
	var b strings.Builder
	for _, r := range norm.NFKD.String(name) {
		if r < unicode.MaxASCII {
			b.WriteRune(r)
		}
	}
	joined := strings.Join(strings.Fields(b.String()), "_")
	b.Reset()
	for _, r := range joined {
		if r < unicode.MaxASCII && (r == '_' || r == '.' || r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
		}
	}
	return strings.Trim(b.String(), "._")
}

// storedName is the name a file is stored under, relative to the store:
// the folder (placeholders filled from the URL's ids, which the engine
// keeps to [A-Za-z0-9_-]), then the safe name, randomised or shaped by
// the pattern.
func storedName(st *settings, o options, bid, cid, rid, filename string) string {
	name := safeName(path.Base(strings.ReplaceAll(filename, "\\", "/")))
	if o.randomize {
		name = resource.NewUUID4() + strings.ToLower(fileExt(name))
	}
	if o.pattern != "" {
		name = strings.NewReplacer("{datetime}", time.Now().Format("20060102150405"), "{rid}", rid, "{filename}", name).Replace(o.pattern)
		name = safePath(name)
	}
	if name == "" {
		name = resource.NewUUID4()
	}
	folder := strings.NewReplacer("{bucket_id}", bid, "{collection_id}", cid, "{id}", rid).Replace(st.folder)
	if folder = safePath(folder); folder != "" {
		name = folder + "/" + name
	}
	return name
}

// safePath keeps the segments of a relative path that are safe names: no
// "..", no absolute path, no empty segment.
func safePath(p string) string {
	var out []string
	for _, seg := range strings.Split(p, "/") {
		if s := safeName(seg); s != "" {
			out = append(out, s)
		}
	}
	return strings.Join(out, "/")
}

// location is the URL of a stored file: name resolved against base as a
// URL reference (RFC 3986, as urljoin does: a base without a trailing
// slash loses its last segment); name itself when base is empty.
func location(base, name string) string {
	ref := &url.URL{Path: name}
	if base == "" {
		return ref.String()
	}
	b, err := url.Parse(base)
	if err != nil {
		return ref.String()
	}
	return b.ResolveReference(ref).String()
}
