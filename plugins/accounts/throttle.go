package accounts

import (
	"net"
	"time"

	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// throttle counts failed password checks per (username, client IP) in
// storage, so counters survive restarts and are shared by every instance
// on one database (ACC-X-THR).
type throttle struct {
	max    int
	window time.Duration
}

func clientIP(r *resource.Request) string {
	host, _, err := net.SplitHostPort(r.Request().RemoteAddr)
	if err != nil {
		return r.Request().RemoteAddr
	}
	return host
}

func throttleID(user, ip string) string { return digest(user + "\x00" + ip) }

// retryAfter returns the seconds to wait when the pair is throttled, or 0.
func (t throttle) retryAfter(r *resource.Request, user string) int {
	if t.max <= 0 {
		return 0
	}
	var o storage.Object
	r.View(func(tx storage.Tx) (err error) {
		o, err = getOrNil(tx, throttleRef, throttleID(user, clientIP(r)))
		return
	})
	if o == nil {
		return 0
	}
	count, _ := storage.Int(o["count"])
	start, _ := storage.Int(o["start"])
	end := start + t.window.Milliseconds()
	if int(count) < t.max || end <= now() {
		return 0
	}
	secs := int((end - now() + 999) / 1000)
	if secs < 1 {
		secs = 1
	}
	return secs
}

// fail records a failed attempt.
func (t throttle) fail(r *resource.Request, user string) {
	if t.max <= 0 {
		return
	}
	id := throttleID(user, clientIP(r))
	err := r.Update(func(tx storage.Tx) error {
		o, err := getOrNil(tx, throttleRef, id)
		if err != nil {
			return err
		}
		count, _ := storage.Int(o["count"])
		start, _ := storage.Int(o["start"])
		if o == nil || start+t.window.Milliseconds() <= now() {
			count, start = 0, now()
		}
		_, err = tx.Replace(throttleRef, storage.Object{"id": id, "count": count + 1, "start": start})
		return err
	})
	if err != nil {
		r.Logger().Warn("login failure could not be counted", "error", err)
	}
}

// succeed clears the counter of the pair, if any.
func (t throttle) succeed(r *resource.Request, user string) {
	if t.max <= 0 {
		return
	}
	id := throttleID(user, clientIP(r))
	var exists bool
	r.View(func(tx storage.Tx) (err error) { exists, err = tx.Exists(throttleRef, id); return })
	if !exists {
		return
	}
	r.Update(func(tx storage.Tx) error {
		if _, err := tx.Delete(throttleRef, id, 0); err != nil && err != storage.ErrNotFound {
			return err
		}
		_, err := tx.PurgeDeleted(throttleRef, 0, 0)
		return err
	})
}

// tooMany is the 429 of a throttled pair.
func tooMany(secs int) *resource.Error {
	return &resource.Error{Status: 429, Errno: resource.ErrnoTooManyRequests,
		Message: "Too many failed login attempts; retry later.", Headers: map[string]string{"Retry-After": itoa(secs)}}
}

func itoa(n int) string {
	b, _ := resource.EncodeJSON(n)
	return string(b)
}
