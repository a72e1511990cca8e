package resource

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"sync"
)

// MAC computes HMAC-SHA256 under one key. Setting up an HMAC costs about as
// much as hashing a short message, and credentials and page tokens are
// hashed on every request, so the keyed states are pooled. It is safe for
// concurrent use.
type MAC struct{ pool sync.Pool }

// NewMAC returns a MAC for key.
func NewMAC(key []byte) *MAC {
	key = append([]byte(nil), key...)
	m := &MAC{}
	m.pool.New = func() any { return hmac.New(sha256.New, key) }
	return m
}

// Sum appends the HMAC of the concatenated parts to dst.
func (m *MAC) Sum(dst []byte, parts ...[]byte) []byte {
	h := m.pool.Get().(hash.Hash)
	h.Reset()
	for _, p := range parts {
		h.Write(p)
	}
	dst = h.Sum(dst)
	m.pool.Put(h)
	return dst
}
