package config

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"regexp"
	"strings"
)

// IsSecret tells whether a setting holds a secret whose value must never
// be shown: its name mentions a secret or a password.
func IsSecret(key string) bool {
	k := strings.ToLower(key)
	return strings.Contains(k, "secret") || strings.Contains(k, "password")
}

// credentialsInURL finds "scheme://user:password@" in a value.
var credentialsInURL = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*):[^@\s]*@`)

// dsnPassword finds "password=..." in a key=value connection string (at
// the start, after a space, or right after an INI key's "=").
var dsnPassword = regexp.MustCompile(`(?i)((?:^|[\s=])password\s*=\s*)('[^']*'|\S+)`)

// queryPassword finds "password=..." among a URL's query parameters: the
// value ends at the next parameter.
var queryPassword = regexp.MustCompile(`(?i)([?&]password=)[^&#\s]*`)

// MaskURL replaces the password of every URL in v with "****"
// ("postgresql://user:****@host/db", "postgresql://host/db?password=****&sslmode=require"),
// and that of a key=value connection string ("host=db password=****");
// other text is returned as is.
func MaskURL(v string) string {
	if strings.Contains(strings.ToLower(v), "password") {
		v = queryPassword.ReplaceAllString(v, "${1}****")
		v = dsnPassword.ReplaceAllString(v, "${1}****")
	}
	if !strings.Contains(v, "@") {
		return v
	}
	if u, err := url.Parse(v); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "****")
			return strings.Replace(u.String(), "%2A%2A%2A%2A", "****", 1)
		}
		return v
	}
	return credentialsInURL.ReplaceAllString(v, "$1:****@")
}

// Mask returns the value of key as it may be shown: secrets as "****"
// (or "" when unset), passwords inside URLs masked.
func Mask(key, value string) string {
	if IsSecret(key) {
		if value == "" {
			return ""
		}
		return "****"
	}
	return MaskURL(value)
}

// redactedHash is the SHA-256 (hex) of an INI file's text with the
// values of secret settings blanked and passwords in URLs masked: it
// changes when any other setting changes, but cannot confirm a guess of
// a secret (core-api.md, the root URL's config.hash).
func redactedHash(text string) string {
	var b strings.Builder
	secret := false
	for _, line := range strings.SplitAfter(text, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || trimmed[0] == '#' || trimmed[0] == ';' || trimmed[0] == '[':
			secret = false
			b.WriteString(line)
		case line[0] == ' ' || line[0] == '\t':
			// A continuation line belongs to the key above it.
			if secret {
				b.WriteString("\n")
			} else {
				b.WriteString(MaskURL(line))
			}
		default:
			key, _, ok := strings.Cut(line, "=")
			if !ok {
				key, _, ok = strings.Cut(line, ":")
			}
			secret = ok && IsSecret(key)
			if secret {
				b.WriteString(strings.TrimSpace(key) + " =\n")
			} else {
				b.WriteString(MaskURL(line))
			}
		}
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}
