package accounts

import (
	"testing"
	"time"
)

// BenchmarkVerify measures a cold password check for each hasher (what an
// uncached Basic-auth request costs) and the cached path.
func BenchmarkVerify(b *testing.B) {
	for _, h := range []Hasher{{Name: "bcrypt"}, {Name: "argon2id"}} {
		hash, err := h.Hash("correct horse battery staple")
		if err != nil {
			b.Fatal(err)
		}
		b.Run(h.Name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if !Verify(hash, "correct horse battery staple") {
					b.Fatal("verify failed")
				}
			}
		})
	}
	b.Run("cached", func(b *testing.B) {
		c := newCache("secret", time.Minute)
		c.put("rosa", "correct horse battery staple", "hash", false)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, ok := c.hit("rosa", "correct horse battery staple"); !ok {
				b.Fatal("miss")
			}
		}
	})
}
