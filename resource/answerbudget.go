package resource

import (
	"errors"
	"net/http"
	"strconv"
	"time"
)

// Large answers. An answer is built whole before it is written, and the
// goroutine writing it keeps it until the client has taken it: a client
// that asks for a list of large records and never reads holds the answer
// (and the connection) for as long as it likes. Forty such connections,
// each asking for a 30 MB list, held 1.8 GB; a thousand would take any
// machine down. So an answer of at least budgetFloor bytes, for a
// request of its own (a batch's sub-answers are parts of the batch's),
// takes its size from a budget (response_budget_bytes) while it is
// written, waiting at most answerWait for it (it holds its bytes while it
// waits, so the wait is short; past it the answer is 503 with
// Retry-After), and is written in pieces, each of which the client must
// take within response_send_timeout_seconds, or the connection is closed
// (as nginx's send_timeout). A client reading slowly but steadily is
// served; one that stops reading frees its share within that time.

// answerWait bounds how long a built answer waits for its share.
const answerWait = time.Second

// answerPiece is how much of a large answer is written under one
// deadline.
const answerPiece = 256 << 10

// writeAnswer writes b as the answer. Small answers and a batch's
// sub-answers are written as they are.
func (r *Request) writeAnswer(status int, contentType string, b []byte) error {
	a := r.app
	if len(b) < budgetFloor || r.InBatch() {
		return r.c.Blob(status, contentType, b)
	}
	release, err := a.answers.take(r.Ctx(), int64(len(b)))
	if err != nil {
		return err
	}
	defer release()
	resp := r.c.Response()
	h := resp.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	resp.WriteHeader(status)
	rc := http.NewResponseController(resp)
	timeout := a.opts.sendTimeout
	for len(b) > 0 {
		n := min(len(b), answerPiece)
		if timeout > 0 {
			rc.SetWriteDeadline(time.Now().Add(timeout)) //nolint:errcheck // a connection without deadlines is written as it is
		}
		if _, err := resp.Write(b[:n]); err != nil {
			return a.answerCut(r, err)
		}
		b = b[n:]
	}
	if timeout > 0 {
		err := rc.Flush()
		rc.SetWriteDeadline(time.Time{}) //nolint:errcheck // as above
		if err != nil {
			return a.answerCut(r, err)
		}
	}
	return nil
}

// answerCut notes an answer the client did not take in time: the status
// line is out, so nothing else is written, and net/http closes the
// connection its failed write broke.
func (a *App) answerCut(r *Request, err error) error {
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		a.cutAnswers.warn(a.Logger, "answer not taken by the client in time: connection closed",
			"path", r.c.Request().URL.Path, "timeout", a.opts.sendTimeout.String())
	}
	return nil
}
