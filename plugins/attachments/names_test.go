package attachments

import (
	"regexp"
	"strings"
	"testing"
)

// TestNames: stored names never come from the client unmodified (no
// "..", no absolute path, no separator), the folder and pattern shape
// them, and locations resolve against base_url as URL references.
func TestNames(t *testing.T) {
	safe := []struct{ in, want string }{
		{"photo.JPG", "photo.JPG"},
		{"Photo été 2024.png", "Photo_ete_2024.png"},
		{"../../etc/passwd", "etc_passwd"},
		{"/abs/name.txt", "abs_name.txt"},
		{`C:\Users\x\doc.pdf`, "C_Users_x_doc.pdf"},
		{"..", ""},
		{"<script>.html", "script.html"},
	}
	for _, c := range safe {
		if got := safeName(c.in); got != c.want {
			t.Errorf("safeName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	exts := map[string]string{".txt": "", "..txt": "", "a.txt.": ".", "a..txt": ".txt", ".a.txt": ".txt", "d.x/.txt": "", "d.x/y": "", "x.tar.gz": ".gz", "a": ""}
	for in, want := range exts {
		if got := fileExt(in); got != want {
			t.Errorf("fileExt(%q) = %q, want %q (Python's splitext)", in, got, want)
		}
	}
	uuid := `[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`
	st := &settings{folder: "{bucket_id}/{collection_id}"}
	names := []struct {
		o        options
		filename string
		want     string
	}{
		{options{randomize: true}, "Report.PDF", `^b/c/` + uuid + `\.pdf$`},
		{options{}, "../../x/Report.pdf", `^b/c/Report\.pdf$`},
		{options{pattern: "{rid}-{filename}"}, "a.txt", `^b/c/r1-a\.txt$`},
		{options{pattern: "{datetime}/{filename}"}, "a.txt", `^b/c/[0-9]{14}/a\.txt$`},
		{options{pattern: "../{filename}"}, "a.txt", `^b/c/a\.txt$`},
		{options{}, "..", `^b/c/` + uuid + `$`},
	}
	for _, c := range names {
		got := storedName(st, c.o, "b", "c", "r1", c.filename)
		if !regexp.MustCompile(c.want).MatchString(got) || strings.Contains(got, "..") {
			t.Errorf("storedName(%+v, %q) = %q, want %s", c.o, c.filename, got, c.want)
		}
	}
	locations := []struct{ base, name, want string }{
		{"", "b/c/x.txt", "b/c/x.txt"},
		{"http://cdn.example/files/", "b/c/x.txt", "http://cdn.example/files/b/c/x.txt"},
		{"http://0.0.0.0:8888/attachments", "b/c/x.txt", "http://0.0.0.0:8888/b/c/x.txt"}, // Kinto's urljoin
		{"http://h/attachments/", "a b.txt", "http://h/attachments/a%20b.txt"},
	}
	for _, c := range locations {
		if got := location(c.base, c.name); got != c.want {
			t.Errorf("location(%q, %q) = %q, want %q", c.base, c.name, got, c.want)
		}
	}
	if !parseExtensions("any")["txt"] && len(parseExtensions("any")) != 0 {
		t.Error("any must accept every file")
	}
	ext := parseExtensions("images+pdf doc")
	if !ext["png"] || !ext["pdf"] || !ext["doc"] || ext["txt"] {
		t.Errorf("images+pdf doc: %v", ext)
	}
}
