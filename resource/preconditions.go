package resource

import (
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/nimbus-server/nimbus/storage"
)

// precond holds the conditional request headers.
type precond struct {
	match, none       int64
	hasMatch, hasNone bool
	matchAny, noneAny bool
}

func parsePrecond(req *http.Request) (precond, *Error) {
	var p precond
	parse := func(name string) (int64, bool, bool, *Error) {
		v := strings.TrimSpace(req.Header.Get(name))
		if v == "" {
			return 0, false, false, nil
		}
		if v == "*" {
			return 0, true, true, nil
		}
		if len(v) >= 3 && v[0] == '"' && v[len(v)-1] == '"' && allDigits(v[1:len(v)-1]) {
			n, err := strconv.ParseInt(v[1:len(v)-1], 10, 64)
			if err != nil {
				// Digits beyond int64: a timestamp no object or list
				// has (Kinto compares them as they are).
				n = math.MaxInt64
			}
			return n, true, false, nil
		}
		return 0, false, false, Invalid("header", name, "The value should be integer between double quotes.")
	}
	var err *Error
	if p.match, p.hasMatch, p.matchAny, err = parse("If-Match"); err != nil {
		return p, err
	}
	if p.none, p.hasNone, p.noneAny, err = parse("If-None-Match"); err != nil {
		return p, err
	}
	return p, nil
}

// checkObject applies the preconditions to an existing object (nil when
// missing) for a write; it returns the 412 to answer, if any.
func (p precond) checkWrite(current storage.Object, listTS int64) *Error {
	if current == nil {
		if p.hasMatch {
			return PreconditionFailed(listTS, nil)
		}
		return nil
	}
	ts := storage.LastModified(current)
	if p.hasMatch && !p.matchAny && p.match != ts {
		return PreconditionFailed(ts, current)
	}
	if p.hasNone && p.noneAny {
		return PreconditionFailed(ts, current)
	}
	return nil
}

// allDigits tells whether s is made of ASCII digits only: a precondition
// is a quoted non-negative integer, without sign, as in Kinto.
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
