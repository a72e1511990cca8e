// Reading a request's body: the media types a route accepts, the size
// and time limits, and the 413 of a body too large.

package resource

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"
)

// bodyTypes are the media types a body of method on the route template
// path may have: JSON (and the patch types for PATCH), plus what the
// route declares in Route.Consumes.
func (a *App) bodyTypes(method, path string) []string {
	allowed := jsonTypes
	if method == http.MethodPatch {
		allowed = patchTypes
	}
	if extra := a.consumes[method+" "+path]; len(extra) > 0 {
		allowed = append(slices.Clip(allowed), extra...)
	}
	return allowed
}

// unsupportedType is the 415 of a body whose type is not allowed.
func unsupportedType(allowed []string) *Error {
	return InvalidStatus(415, "header", "Content-Type",
		fmt.Sprintf("Content-Type header should be one of ['%s']", strings.Join(allowed, "', '")))
}

func acceptsJSON(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt := strings.ToLower(strings.TrimSpace(strings.Split(part, ";")[0]))
		switch mt {
		case "", "*/*", "application/*", "application/json":
			return true
		}
	}
	return false
}

// maxDrain is how much of a too-large body is read and thrown away so
// that the client, still sending, reads the 413 instead of a connection
// reset; past it the connection is closed.
const maxDrain = 64 << 20

// readBody reads the body of r within the size and time limits, taking
// its share of the bodies' budget as it arrives when s is not nil.
func (a *App) readBody(r *Request, s *budgetShare) error {
	req := r.c.Request()
	if req.Body == nil || req.Body == http.NoBody {
		if req.ContentLength > a.opts.maxBody {
			return TooLarge()
		}
		return nil
	}
	if req.ContentLength > a.opts.maxBody {
		return tooLarge(r, req.Body)
	}
	body := req.Body
	if a.opts.bodyTimeout > 0 && req.Context().Value(batchKey{}) == nil {
		// A client that sends its body slowly, or stops, would hold the
		// connection and its goroutine for as long as it likes.
		rc := http.NewResponseController(r.c.Response().Writer)
		if rc.SetReadDeadline(time.Now().Add(a.opts.bodyTimeout)) == nil {
			defer rc.SetReadDeadline(time.Time{}) //nolint:errcheck // the connection is being read
			if s != nil {
				s.waited = func() {
					rc.SetReadDeadline(time.Now().Add(a.opts.bodyTimeout)) //nolint:errcheck // as above
				}
			}
		}
	}
	var in io.Reader = body
	if s != nil {
		in = &chargedReader{r: body, s: s, length: req.ContentLength}
	}
	b, err := io.ReadAll(http.MaxBytesReader(r.c.Response().Writer, io.NopCloser(in), a.opts.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		var ob overBudget
		var e *Error
		switch {
		case errors.As(err, &mbe):
			return tooLarge(r, body)
		case errors.As(err, &ob):
			drain(r, body)
			return ob
		case errors.As(err, &e):
			return e
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			r.ResponseHeader().Set("Connection", "close")
			return &Error{Status: http.StatusRequestTimeout, Errno: ErrnoUndefined,
				Message: fmt.Sprintf("The request body did not arrive within %s.", a.opts.bodyTimeout)}
		}
		return Invalid("body", "", "Could not read the request body.")
	}
	r.body = b
	return nil
}

// tooLarge reads what is left of a refused body (up to maxDrain) and
// answers 413 on a connection that is then closed.
func tooLarge(r *Request, body io.Reader) error {
	drain(r, body)
	return TooLarge()
}

// drain reads what is left of a body refused before it was read whole
// (up to maxDrain, for at most drainFor), so that a client still sending
// reads the answer instead of a connection reset, and closes the
// connection after the answer.
func drain(r *Request, body io.Reader) {
	if !r.InBatch() {
		// Never wait long for a body that may never come (a length
		// announced far beyond what is sent).
		rc := http.NewResponseController(r.c.Response().Writer)
		rc.SetReadDeadline(time.Now().Add(drainFor))
		io.CopyN(io.Discard, body, maxDrain)
		rc.SetReadDeadline(time.Time{})
		r.ResponseHeader().Set("Connection", "close")
	}
}

// drainFor bounds the time tooLarge spends draining a refused body.
const drainFor = 300 * time.Millisecond
