package resource

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// Some requests never reach a handler: net/http refuses them while it
// reads them (a percent-escape that is not one, such as /buckets/%zz; a
// request line or header it cannot parse; a missing Host; a transfer
// coding it does not know; headers past http.Server.MaxHeaderBytes) and
// writes a plain-text answer straight to the connection, with no hook.
// Clients of Nimbus expect every error in Kinto's JSON format, so
// ProtocolErrorsAsJSON wraps the listener: each connection recognises
// that exact plain-text answer (its status line, then only the two
// headers net/http gives it, Content-Type text/plain and Connection:
// close; an answer of the server always has a Date and a length) and
// writes the same status as a Kinto error instead. Everything else is
// written unchanged.

// ProtocolErrorsAsJSON returns ln with its connections answering
// net/http's own protocol errors in Kinto's JSON error format.
func ProtocolErrorsAsJSON(ln net.Listener) net.Listener { return protocolListener{ln} }

type protocolListener struct{ net.Listener }

func (l protocolListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		// Keep *net.TCPConn's other methods (ReadFrom for sendfile,
		// CloseWrite for a clean close), which net/http looks for.
		return &protocolTCPConn{tc}, nil
	}
	return &protocolConn{c}, nil
}

type protocolTCPConn struct{ *net.TCPConn }

func (c *protocolTCPConn) Write(p []byte) (int, error) { return writeProtocolAware(c.TCPConn, p) }

type protocolConn struct{ net.Conn }

func (c *protocolConn) Write(p []byte) (int, error) { return writeProtocolAware(c.Conn, p) }

func writeProtocolAware(w net.Conn, p []byte) (int, error) {
	out, ok := protocolErrorAsJSON(p)
	if !ok {
		return w.Write(p)
	}
	if _, err := w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// plainErrorHeaders are the headers net/http writes before the text of a
// protocol error (net/http server.go, conn.serve).
const plainErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// protocolErrorAsJSON tells whether p is one of net/http's plain-text
// protocol error answers, and returns its JSON form.
func protocolErrorAsJSON(p []byte) ([]byte, bool) {
	const proto = "HTTP/1.1 "
	if !bytes.HasPrefix(p, []byte(proto)) {
		return nil, false
	}
	end := bytes.Index(p, []byte("\r\n"))
	if end < 0 || !bytes.HasPrefix(p[end:], []byte(plainErrorHeaders)) {
		return nil, false
	}
	status := string(p[len(proto):end])
	text := string(p[end+len(plainErrorHeaders):])
	if len(status) < 4 || status[3] != ' ' {
		return nil, false
	}
	code, err := strconv.Atoi(status[:3])
	if err != nil || code < 400 || code > 599 {
		return nil, false
	}
	// The text repeats the status line, then net/http's reason, if any:
	// "400 Bad Request: missing required Host header".
	reason := ""
	if i := strings.Index(text, ": "); i >= 0 {
		reason = text[i+2:]
	}
	body, _ := json.Marshal(protocolError(code, reason).Body())
	var b bytes.Buffer
	b.WriteString(proto + strconv.Itoa(code) + " " + http.StatusText(code) + "\r\n")
	h := http.Header{}
	SetSecurityHeaders(h)
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Connection", "close")
	h.Write(&b) //nolint:errcheck // a bytes.Buffer does not fail
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes(), true
}

// protocolError is the Kinto error for a request net/http refused.
func protocolError(code int, reason string) *Error {
	switch code {
	case http.StatusBadRequest:
		msg := "The request could not be read: its request line, URL or headers are malformed (an invalid percent-escape in the path, for example)."
		if reason != "" {
			msg = "The request could not be read: " + reason + "."
		}
		return &Error{Status: code, Errno: ErrnoInvalidParams, Message: msg}
	case http.StatusRequestHeaderFieldsTooLarge:
		return &Error{Status: code, Errno: ErrnoInvalidParams, Message: "Request headers are too large."}
	case http.StatusNotImplemented:
		return &Error{Status: code, Errno: ErrnoUndefined, Message: "Unsupported transfer encoding: only chunked is understood."}
	case http.StatusHTTPVersionNotSupported:
		return &Error{Status: code, Errno: ErrnoUndefined, Message: "Unsupported protocol version: send HTTP/1.0 or HTTP/1.1."}
	}
	msg := reason
	if msg == "" {
		msg = http.StatusText(code)
	}
	return &Error{Status: code, Errno: ErrnoUndefined, Message: msg}
}
