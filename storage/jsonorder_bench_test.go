package storage

import (
	"fmt"
	"testing"
)

var benchRecord = []byte(`{"title":"record 42","status":"active","n":42,"id":"r00042","last_modified":1795700000000}`)

// BenchmarkReadAndAnswer decodes a stored record with its order hint and
// encodes it inside an answer, as a record GET does.
func BenchmarkReadAndAnswer(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		m, err := DecodeOrdered(benchRecord)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := AppendJSON(make([]byte, 0, 256), map[string]any{"data": m, "permissions": map[string]any{}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeSentObject encodes an object a client sent, with the
// fields the server adds (id, last_modified), three times: stored, in a
// history entry, answered.
func BenchmarkEncodeSentObject(b *testing.B) {
	for _, fields := range []int{4, 40, 100000} {
		text := []byte("{")
		for i := 0; i < fields; i++ {
			if i > 0 {
				text = append(text, ',')
			}
			text = fmt.Appendf(text, `"field%d":%d`, i, i)
		}
		text = append(text, '}')
		v, err := DecodeJSON(text)
		if err != nil {
			b.Fatal(err)
		}
		sent := v.(map[string]any)
		b.Run(fmt.Sprint(fields), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				m := make(map[string]any, len(sent)+2)
				for k, v := range sent {
					m[k] = v
				}
				WithClientOrder(m, text)
				m["id"], m["last_modified"] = "r1", int64(1795700000000)
				for range 3 {
					if _, err := AppendJSON(nil, m); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
