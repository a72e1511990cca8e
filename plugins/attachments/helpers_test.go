package attachments_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

// part is one part of a multipart body.
type part struct {
	name, filename, contentType string
	// file marks a file part even with an empty file name.
	file    bool
	content string
}

// form encodes parts as multipart/form-data; it returns the body and its
// Content-Type.
func form(parts ...part) ([]byte, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		cd := fmt.Sprintf(`form-data; name=%q`, p.name)
		if p.file || p.filename != "" {
			cd += fmt.Sprintf(`; filename=%q`, p.filename)
		}
		h.Set("Content-Disposition", cd)
		if p.contentType != "" {
			h.Set("Content-Type", p.contentType)
		}
		pw, _ := w.CreatePart(h)
		io.WriteString(pw, p.content)
	}
	w.Close()
	return buf.Bytes(), w.FormDataContentType()
}

// file is the usual file part.
func file(name, content string) part {
	return part{name: "attachment", filename: name, contentType: "text/plain", content: content}
}

// upload posts parts to a record's attachment endpoint.
func upload(s *apitest.Server, auth, record string, headers map[string]string, parts ...part) *apitest.Response {
	body, ct := form(parts...)
	h := map[string]string{"Content-Type": ct}
	for k, v := range headers {
		h[k] = v
	}
	return s.Do(apitest.Req{Method: "POST", Path: "/v1" + record + "/attachment?gzipped=false", Auth: auth, Body: body, Headers: h})
}

// filesIn lists the regular files under dir, relative to it.
func filesIn(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

// get fetches a URL (absolute, or relative to the server).
func get(t *testing.T, s *apitest.Server, url string, headers map[string]string) (*http.Response, []byte) {
	t.Helper()
	if !strings.HasPrefix(url, "http") {
		url = s.URL + url
	}
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// attachmentOf reads a record's attachment field (nil when null).
func attachmentOf(t *testing.T, s *apitest.Server, auth, record string) map[string]any {
	t.Helper()
	r := s.Do(apitest.Req{Method: "GET", Path: "/v1" + record, Auth: auth}).Expect(t, 200, 0)
	a, _ := r.Data()["attachment"].(map[string]any)
	return a
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
