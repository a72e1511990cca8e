package resource

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/nimbus-server/nimbus/storage"
)

// Errno values of Kinto's error table (core-api.md CORE-10).
const (
	ErrnoMissingAuth     = 104
	ErrnoInvalidAuth     = 105
	ErrnoInvalidParams   = 107
	ErrnoMissingObject   = 110
	ErrnoMissingResource = 111
	ErrnoTooLarge        = 113
	ErrnoModified        = 114
	ErrnoMethodNotAllow  = 115
	ErrnoVersion         = 116
	ErrnoTooManyRequests = 117
	ErrnoForbidden       = 121
	ErrnoConflict        = 122
	ErrnoBackend         = 201
	ErrnoDeprecated      = 202
	ErrnoUndefined       = 999
)

// Error is an HTTP error in Kinto's format. Handlers return it (or a
// storage error, which ErrorFrom maps) and the server's error handler is
// the only place that writes it.
type Error struct {
	Status  int
	Errno   int
	Title   string // defaults to the HTTP reason phrase
	Message string
	Info    string
	Details any
	// Headers are added to the response (ETag on 412, Allow on 405, ...).
	Headers map[string]string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d errno %d: %s", e.Status, e.Errno, e.Message)
}

// Body returns the JSON error object.
func (e *Error) Body() map[string]any {
	title := e.Title
	if title == "" {
		title = http.StatusText(e.Status)
	}
	b := map[string]any{"code": e.Status, "errno": e.Errno, "error": title}
	if e.Message != "" {
		b["message"] = e.Message
	}
	if e.Info != "" {
		b["info"] = e.Info
	}
	if e.Details != nil {
		b["details"] = e.Details
	}
	return b
}

// Invalid is a 400 validation error (errno 107) about one parameter.
// location is "body", "querystring", "header" or "path".
func Invalid(location, name, description string) *Error {
	// The message repeats the error as Kinto words it (CORE-09): the
	// description alone when it names the parameter already.
	var msg string
	switch {
	case name == "":
		msg = location + ": " + description
	case strings.Contains(description, name):
		msg = description
	default:
		msg = name + " in " + location + ": " + description
	}
	return &Error{Status: 400, Errno: ErrnoInvalidParams, Title: "Invalid parameters", Message: msg,
		Details: []map[string]any{{"location": location, "name": name, "description": description}}}
}

// InvalidObjectID is the 400 of an object id that is not valid for its
// resource, in the path or in a POST's data.id, worded as Kinto words it:
// location path, no name (null), "path: Invalid object id".
func InvalidObjectID() *Error {
	return &Error{Status: 400, Errno: ErrnoInvalidParams, Title: "Invalid parameters", Message: "path: Invalid object id",
		Details: []map[string]any{{"location": "path", "name": nil, "description": "Invalid object id"}}}
}

// InvalidStatus is a validation error with another status (406, 415).
func InvalidStatus(status int, location, name, description string) *Error {
	e := Invalid(location, name, description)
	e.Status = status
	e.Message = description
	return e
}

// NotFound reports a missing object (404 errno 110).
func NotFound(resourceName, id string) *Error {
	return &Error{Status: 404, Errno: ErrnoMissingObject, Message: "The resource you are looking for could not be found.",
		Details: map[string]any{"id": id, "resource_name": resourceName}}
}

// MissingParent reports a missing parent object (404 errno 111).
func MissingParent(resourceName, id string) *Error {
	return &Error{Status: 404, Errno: ErrnoMissingResource, Message: "The resource you are looking for could not be found.",
		Details: map[string]any{"id": id, "resource_name": resourceName}}
}

// ErrUnknownURL is the 404 of a URL no route serves.
func ErrUnknownURL() *Error {
	return &Error{Status: 404, Errno: ErrnoMissingResource, Message: "The resource you are looking for could not be found."}
}

// Unauthorized is the 401 of an anonymous caller lacking a permission.
func Unauthorized() *Error {
	return &Error{Status: 401, Errno: ErrnoMissingAuth, Message: "Please authenticate yourself to use this endpoint."}
}

// Forbidden is the 403 of an authenticated caller lacking a permission.
func Forbidden() *Error {
	return &Error{Status: 403, Errno: ErrnoForbidden, Message: "This user cannot access this resource."}
}

// PreconditionFailed is a 412 (errno 114); existing, when not nil, goes to
// details.existing.
func PreconditionFailed(etag int64, existing storage.Object) *Error {
	e := &Error{Status: 412, Errno: ErrnoModified, Message: "Resource was modified meanwhile",
		Headers: map[string]string{"ETag": fmt.Sprintf("\"%d\"", etag)}}
	if etag > 0 {
		// As on the answer it stands for, and as Kinto sends it.
		e.Headers["Last-Modified"] = time.UnixMilli(etag).UTC().Format(http.TimeFormat)
	}
	if existing != nil {
		e.Details = map[string]any{"existing": existing}
	}
	return e
}

// MethodNotAllowed is a 405 (errno 115).
func MethodNotAllowed(message string) *Error {
	if message == "" {
		message = "Method not allowed on this endpoint."
	}
	return &Error{Status: 405, Errno: ErrnoMethodNotAllow, Message: message}
}

// Internal is the 500 of an unexpected failure.
func Internal() *Error {
	return &Error{Status: 500, Errno: ErrnoUndefined, Message: "A programmatic error occurred, developers have been informed."}
}

// ErrorFrom maps any error to the Kinto error it is reported as: storage
// sentinels and typed errors, echo's router errors, and *Error itself.
func ErrorFrom(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var ue *storage.UnicityError
	var be *storage.BackendError
	var se *storage.UnstorableError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &ue), errors.Is(err, storage.ErrConflict):
		return &Error{Status: 409, Errno: ErrnoConflict, Message: "Integrity constraint violated, please retry."}
	case errors.Is(err, storage.ErrTooLargeForIndex):
		return Invalid("body", "", "A value is too large for an index of the storage (PostgreSQL keeps at most about 2,700 bytes per entry).")
	case errors.As(err, &se):
		where := "body"
		if se.Read {
			where = "querystring"
		}
		return Invalid(where, "", "The request holds a value the storage cannot keep or compare: the character U+0000, invalid UTF-8, or a number or timestamp beyond PostgreSQL's range.")
	case errors.Is(err, storage.ErrNotFound):
		return &Error{Status: 404, Errno: ErrnoMissingObject, Message: "The resource you are looking for could not be found."}
	case errors.As(err, &be):
		return Unavailable()
	case errors.As(err, &he):
		switch he.Code {
		case http.StatusNotFound:
			return ErrUnknownURL()
		case http.StatusMethodNotAllowed:
			return MethodNotAllowed("")
		case http.StatusRequestEntityTooLarge:
			return TooLarge()
		}
		return &Error{Status: he.Code, Errno: ErrnoUndefined, Message: fmt.Sprint(he.Message)}
	}
	return Internal()
}

// StatusClientClosed is nginx's status for a request whose client closed
// its connection before the answer: it is logged and counted, never read.
const StatusClientClosed = 499

// ClientClosed is the answer to a request whose client went away while a
// storage call ran (its context was canceled).
func ClientClosed() *Error {
	return &Error{Status: StatusClientClosed, Errno: ErrnoUndefined, Title: "Client Closed Request", Message: "The client closed the request before its answer."}
}

// Unavailable is the 503 of a storage that cannot be reached (the
// server's Retry-After is added where it is answered).
func Unavailable() *Error {
	return &Error{Status: 503, Errno: ErrnoBackend, Message: "Service temporary unavailable due to overloading or maintenance, please retry later."}
}

// TooLarge is the 413 of an oversized body.
func TooLarge() *Error {
	return &Error{Status: 413, Errno: ErrnoTooLarge, Message: "Request body too large."}
}
