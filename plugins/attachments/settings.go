package attachments

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/nimbus-server/nimbus/config"
	"github.com/nimbus-server/nimbus/resource"
)

// DefaultMaxSize is the file size limit when attachment.max_size_bytes is
// not set: 256 MiB. Kinto has none; a server that keeps files in its own
// database needs one, and 256 MiB lets the usual documents, images and
// data exports through.
const DefaultMaxSize = 256 << 20

// settingsList declares the plugin's settings (Kinto's names).
func settingsList() []resource.Setting {
	return []resource.Setting{
		{Name: "attachment.base_path", Type: resource.String, Description: "folder where files are written (none: in the storage backend); `/__flush__` removes the files Nimbus stored there and the subfolders it made that are left empty, never other files"},
		{Name: "attachment.base_url", Type: resource.String, Description: "URL the file locations start with (none: Nimbus serves them under /attachments/)"},
		{Name: "attachment.extra.base_url", Type: resource.String, Description: "base URL the attachments capability advertises (none: base_url)"},
		{Name: "attachment.folder", Type: resource.String, Description: "folder of each file, with {bucket_id}, {collection_id} and {id}"},
		{Name: "attachment.randomize", Type: resource.Bool, Default: "true", Description: "store files under a random name"},
		{Name: "attachment.keep_old_files", Type: resource.Bool, Default: "false", Description: "keep files when their record or attachment goes"},
		{Name: "attachment.filename_pattern", Type: resource.String, Description: "stored name, with {datetime}, {rid} and {filename}"},
		{Name: "attachment.max_size_bytes", Type: resource.Int, Default: strconv.Itoa(DefaultMaxSize), Description: "largest file accepted, in bytes (0: no limit)"},
		{Name: "attachment.extensions", Type: resource.String, Default: "default", Description: "extensions accepted: groups (documents text images audio video data scripts archives executables default any) and extensions, joined by +"},
		{Name: "attachment.mimetypes", Type: resource.String, Description: "content types by extension, .ext:type;.ext:type"},
	}
}

// options are the per-collection settings, which
// attachment.resources.{bid}[.{cid}].{name} may override.
type options struct {
	randomize, keepOld bool
	pattern            string
	maxSize            int64
}

// override is what one attachment.resources rule sets.
type override struct {
	randomize, keepOld *bool
	pattern            *string
	maxSize            *int64
}

// settings is the plugin's configuration, read once at start.
type settings struct {
	basePath, baseURL, capabilityURL string
	folder                           string
	defaults                         options
	// extensions are those accepted, lower-case; empty means any.
	extensions map[string]bool
	mimetypes  map[string]string
	// rules are the attachment.resources overrides, by bucket
	// ("/buckets/b") or collection URI; ruleKeys are the settings that
	// set them.
	rules    map[string]override
	ruleKeys []string
}

// extensionGroups are kinto-attachment's named groups.
var extensionGroups = map[string][]string{
	"documents":   strings.Fields("pdf rtf odf ods gnumeric abw doc docx xls xlsx"),
	"text":        {"txt"},
	"images":      strings.Fields("jpg jpe jpeg png gif svg bmp tiff"),
	"audio":       strings.Fields("wav mp3 aac ogg oga flac"),
	"video":       strings.Fields("mpeg 3gp avi divx dvr flv mp4 wmv"),
	"data":        strings.Fields("csv ini json plist xml yaml yml"),
	"scripts":     strings.Fields("js php pl py rb sh"),
	"archives":    strings.Fields("gz bz2 zip tar tgz txz 7z"),
	"executables": strings.Fields("so exe dll"),
	"any":         nil,
}

// parseExtensions reads attachment.extensions: groups and extensions
// joined by "+" (extensions of one part separated by spaces). An empty
// result accepts any file, as "any" alone does.
func parseExtensions(v string) map[string]bool {
	out := map[string]bool{}
	for _, part := range strings.Split(v, "+") {
		part = strings.TrimSpace(part)
		if part == "default" {
			for _, g := range []string{"documents", "text", "images", "data"} {
				for _, e := range extensionGroups[g] {
					out[e] = true
				}
			}
			continue
		}
		if g, ok := extensionGroups[part]; ok {
			for _, e := range g {
				out[e] = true
			}
			continue
		}
		for _, e := range strings.Fields(part) {
			out[strings.ToLower(e)] = true
		}
	}
	return out
}

// defaultMimetypes are kinto-attachment's own content types by extension.
var defaultMimetypes = map[string]string{".pem": "application/x-pem-file", ".geojson": "application/geojson"}

// readSettings reads and checks the plugin's settings.
func readSettings(s *config.Settings) (*settings, error) {
	st := &settings{
		basePath: s.String("attachment.base_path"),
		baseURL:  s.String("attachment.base_url"),
		folder:   s.String("attachment.folder"),
		defaults: options{
			randomize: s.Bool("attachment.randomize"),
			keepOld:   s.Bool("attachment.keep_old_files"),
			pattern:   s.String("attachment.filename_pattern"),
			maxSize:   int64(s.IntOr("attachment.max_size_bytes", DefaultMaxSize)),
		},
		extensions: parseExtensions(s.String("attachment.extensions")),
		mimetypes:  map[string]string{},
		rules:      map[string]override{},
	}
	if st.defaults.maxSize < 0 {
		return nil, fmt.Errorf("config: setting attachment.max_size_bytes: %d is negative", st.defaults.maxSize)
	}
	if strings.Contains(path.Clean("/"+st.folder), "..") {
		return nil, fmt.Errorf("config: setting attachment.folder: %q leaves the attachments folder", st.folder)
	}
	for k, v := range defaultMimetypes {
		st.mimetypes[k] = v
	}
	if m := strings.TrimSpace(s.String("attachment.mimetypes")); m != "" {
		for _, pair := range strings.Split(m, ";") {
			ext, typ, ok := strings.Cut(strings.TrimSpace(pair), ":")
			if !ok || ext == "" || typ == "" {
				return nil, fmt.Errorf("config: setting attachment.mimetypes: %q is not .ext:type", pair)
			}
			st.mimetypes[ext] = typ
		}
	}
	st.capabilityURL = s.String("attachment.extra.base_url")
	if st.capabilityURL == "" {
		st.capabilityURL = st.baseURL
	}
	if st.capabilityURL != "" && !strings.HasSuffix(st.capabilityURL, "/") {
		st.capabilityURL += "/"
	}
	for _, k := range s.Keys() {
		rest, ok := strings.CutPrefix(k, "attachment.resources.")
		if !ok {
			continue
		}
		if err := st.addRule(k, rest, s.String(k)); err != nil {
			return nil, err
		}
		st.ruleKeys = append(st.ruleKeys, k)
	}
	return st, nil
}

// ruleNames are the settings attachment.resources may override.
var ruleNames = []string{"randomize", "keep_old_files", "filename_pattern", "max_size_bytes"}

// addRule reads one attachment.resources.{bid}[.{cid}].{name} setting.
func (st *settings) addRule(key, rest, value string) error {
	parts := strings.Split(rest, ".")
	var uri string
	switch len(parts) {
	case 2:
		uri = "/buckets/" + parts[0]
	case 3:
		uri = "/buckets/" + parts[0] + "/collections/" + parts[1]
	default:
		return fmt.Errorf("config: setting %s: not attachment.resources.{bucket}[.{collection}].{name}", key)
	}
	o := st.rules[uri]
	switch name := parts[len(parts)-1]; name {
	case "randomize", "keep_old_files":
		b, err := strconv.ParseBool(strings.ToLower(strings.TrimSpace(value)))
		if err != nil {
			return fmt.Errorf("config: setting %s: %q is not a boolean", key, value)
		}
		if name == "randomize" {
			o.randomize = &b
		} else {
			o.keepOld = &b
		}
	case "filename_pattern":
		o.pattern = &value
	case "max_size_bytes":
		n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("config: setting %s: %q is not a size in bytes", key, value)
		}
		o.maxSize = &n
	default:
		return fmt.Errorf("config: setting %s: %q cannot be set per bucket or collection (only %s)", key, name, strings.Join(ruleNames, ", "))
	}
	st.rules[uri] = o
	return nil
}

// forList returns the options of a collection: the defaults, then the
// bucket's rule, then the collection's (the most specific wins).
func (st *settings) forList(bid, cid string) options {
	o := st.defaults
	for _, uri := range []string{"/buckets/" + bid, "/buckets/" + bid + "/collections/" + cid} {
		r, ok := st.rules[uri]
		if !ok {
			continue
		}
		if r.randomize != nil {
			o.randomize = *r.randomize
		}
		if r.keepOld != nil {
			o.keepOld = *r.keepOld
		}
		if r.pattern != nil {
			o.pattern = *r.pattern
		}
		if r.maxSize != nil {
			o.maxSize = *r.maxSize
		}
	}
	return o
}

// extensionAllowed tells whether a file name's last extension is accepted.
func (st *settings) extensionAllowed(name string) bool {
	if len(st.extensions) == 0 {
		return true
	}
	return st.extensions[strings.ToLower(strings.TrimPrefix(fileExt(name), "."))]
}

// fileExt is a file name's extension as kinto-attachment reads it
// (Python's os.path.splitext): from the last dot of the last segment,
// unless only dots come before it there, so ".txt" and "..txt" have none
// and "a.txt." has ".".
func fileExt(name string) string {
	dot := strings.LastIndexByte(name, '.')
	start := strings.LastIndexByte(name, '/') + 1
	if dot < start || strings.Trim(name[start:dot], ".") == "" {
		return ""
	}
	return name[dot:]
}

// mimetype is the content type stored for a file: an override by
// extension, else what the client sent, else text/plain.
func (st *settings) mimetype(name, sent string) string {
	if t, ok := st.mimetypes[fileExt(name)]; ok {
		return t
	}
	if sent == "" {
		return "text/plain"
	}
	return sent
}
