package attachments

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"strings"

	"github.com/nimbus-server/nimbus/resource"
)

// errnoInvalidPosted is Kinto's errno 109, "invalid posted data".
const errnoInvalidPosted = 109

// postedError is a 400 errno 109, as kinto-attachment raises them.
func postedError(msg string) *resource.Error {
	return &resource.Error{Status: http.StatusBadRequest, Errno: errnoInvalidPosted, Message: msg}
}

// bodyError is a 400 errno 107 about the body, worded as Kinto words a
// validation error without a field name ("body: ...").
func bodyError(description string) *resource.Error {
	return &resource.Error{Status: http.StatusBadRequest, Errno: resource.ErrnoInvalidParams, Title: "Invalid parameters",
		Message: "body: " + description, Details: []map[string]any{{"location": "body", "name": nil, "description": description}}}
}

// upload is a parsed multipart upload: the file spooled to a temporary
// file, and the form's other fields.
type upload struct {
	filename, contentType string
	hasFile, fileField    bool
	tmp                   *os.File
	size                  int64
	hash                  string
	data                  map[string]any
	perms                 any
	// tooLarge and badField are problems of the form, reported once the
	// whole body is read, in Kinto's order of checks.
	tooLarge, badField error
}

// close removes the spooled file.
func (u *upload) close() {
	if u.tmp != nil {
		u.tmp.Close()
		os.Remove(u.tmp.Name())
	}
}

// maxFieldBytes bounds the form's text fields together (data and
// permissions): the server's usual body limit.
func maxFieldBytes(r *resource.Request) int64 {
	return int64(r.Settings().IntOr("max_request_body_bytes", 8<<20))
}

// overflow is how much of a file beyond max_size_bytes is still read to
// say its size in the error; past it the upload is cut with a 413.
const overflow = 64 << 20

// readUpload reads the multipart body as it comes: the file part into a
// temporary file (hashed and counted on the way, never held in memory),
// the text fields up to the usual body limit. The checks of the form are
// made, in Kinto's order, only once everything is read; nothing is stored
// before.
func readUpload(r *resource.Request, maxSize int64) (*upload, error) {
	ct := r.Header().Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, &resource.Error{Status: http.StatusBadRequest, Errno: resource.ErrnoInvalidParams,
			Message: "Content-Type should be multipart/form-data"}
	}
	u := &upload{}
	ok := false
	defer func() {
		if !ok {
			u.close()
		}
	}()
	mr := multipart.NewReader(r.BodyReader(), params["boundary"])
	fieldBudget := maxFieldBytes(r)
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, bodyError("the multipart body cannot be read.")
		}
		name := part.FormName()
		_, cdParams, _ := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
		filename, isFile := cdParams["filename"]
		switch {
		case name == "attachment":
			if u.hasFile || u.fileField {
				part.Close()
				if u.badField == nil {
					u.badField = postedError("body: 'attachment' is sent more than once")
				}
				continue
			}
			if !isFile {
				u.fileField = true
				io.Copy(io.Discard, io.LimitReader(part, fieldBudget))
				continue
			}
			u.hasFile, u.filename = true, filename
			// The type as sent, without its parameters: kinto-attachment
			// keeps its case and does not check its syntax.
			u.contentType, _, _ = strings.Cut(part.Header.Get("Content-Type"), ";")
			u.contentType = strings.TrimSpace(u.contentType)
			if err := u.spool(part, maxSize); err != nil {
				return nil, err
			}
		case name == "data" || name == "permissions":
			if isFile {
				io.Copy(io.Discard, io.LimitReader(part, fieldBudget))
				if u.badField == nil {
					u.badField = postedError(fmt.Sprintf("body: '%s' field should be passed as form data, not files", name))
				}
				continue
			}
			text, err := io.ReadAll(io.LimitReader(part, fieldBudget+1))
			if err != nil {
				return nil, bodyError("the multipart body cannot be read.")
			}
			if fieldBudget -= int64(len(text)); fieldBudget < 0 {
				return nil, resource.TooLarge()
			}
			v, err := resource.DecodeJSON(text)
			obj, isObj := v.(map[string]any)
			switch {
			case err != nil && u.badField == nil:
				u.badField = postedError(fmt.Sprintf("body: %s is not valid JSON (%v)", name, err))
			case err == nil && !isObj && u.badField == nil:
				u.badField = postedError(fmt.Sprintf("body: %s should be a JSON object", name))
			case isObj && name == "data":
				u.data = obj
			case isObj:
				u.perms = obj
			}
		default:
			io.Copy(io.Discard, io.LimitReader(part, fieldBudget))
			if u.badField == nil {
				u.badField = postedError(fmt.Sprintf("body: '%s' not in ('data', 'permissions')", name))
			}
		}
		part.Close()
	}
	switch {
	case !u.hasFile && !u.fileField:
		return nil, postedError("Attachment missing.")
	case u.fileField || u.filename == "":
		return nil, bodyError("Filename is required.")
	case u.tooLarge != nil:
		return nil, u.tooLarge
	}
	ok = true
	return u, nil
}

// readErrs remembers the error a reader returned (other than EOF).
type readErrs struct {
	r   io.Reader
	err error
}

func (r *readErrs) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

// spool copies the file part to a temporary file, hashing and counting
// it; beyond maxSize it keeps counting (for the error's figures) without
// writing, up to overflow more bytes.
func (u *upload) spool(part io.Reader, maxSize int64) error {
	f, err := os.CreateTemp("", "nimbus-upload-*")
	if err != nil {
		return fmt.Errorf("attachments: spooling an upload: %w", err)
	}
	u.tmp = f
	h := sha256.New()
	limit := int64(-1)
	if maxSize > 0 {
		limit = maxSize
	}
	// A failure to read is the client's body; a failure to write, the
	// server's temporary file.
	src := &readErrs{r: part}
	var in io.Reader = src
	if limit >= 0 {
		in = io.LimitReader(src, limit+1)
	}
	n, err := io.Copy(io.MultiWriter(f, h), in)
	switch {
	case src.err != nil:
		return bodyError("the multipart body cannot be read.")
	case err != nil:
		return fmt.Errorf("attachments: spooling an upload: %w", err)
	}
	if limit >= 0 && n > limit {
		extra, err := io.Copy(io.Discard, io.LimitReader(part, overflow))
		if err != nil {
			return bodyError("the multipart body cannot be read.")
		}
		if extra == overflow {
			return resource.TooLarge()
		}
		total := limit + 1 + extra
		u.tooLarge = bodyError(fmt.Sprintf("File size (%d bytes) exceeds the limit (%d bytes).", total, maxSize))
		return nil
	}
	u.size, u.hash = n, hex.EncodeToString(h.Sum(nil))
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	return nil
}
