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
	"strconv"
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

// acceptsJSON tells whether an Accept header lets the answer be JSON. A
// header Nimbus cannot read is no preference at all.
func acceptsJSON(accept string) bool {
	ranges, valid := mediaRanges(accept)
	if !valid {
		return true
	}
	for _, mt := range ranges {
		switch mt {
		case "*/*", "application/*", "application/json":
			return true
		}
	}
	return false
}

// mediaRanges reads an Accept header: the media ranges it accepts (a q
// above zero), lower-cased, and whether the header is valid. As WebOb
// does under Kinto, one entry that is not type/subtype, or whose q is not
// a number from 0 to 1, makes the whole header invalid, which is then no
// preference; a valid header whose every range has q=0 (or that has no
// range, as ",") accepts nothing.
func mediaRanges(accept string) (ranges []string, valid bool) {
	for _, part := range strings.Split(accept, ",") {
		if strings.TrimSpace(part) == "" {
			continue // an empty element of a list (RFC 9110, 5.6.1)
		}
		params := strings.Split(part, ";")
		mt := strings.ToLower(strings.TrimSpace(params[0]))
		typ, sub, ok := strings.Cut(mt, "/")
		if !ok || typ == "" || sub == "" || strings.ContainsAny(sub, " \t/") || strings.ContainsAny(typ, " \t") {
			return nil, false
		}
		q := 1.0
		for _, p := range params[1:] {
			k, v, _ := strings.Cut(p, "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil || f < 0 || f > 1 {
					return nil, false
				}
				q = f
			}
		}
		if q > 0 {
			ranges = append(ranges, mt)
		}
	}
	return ranges, true
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
