package storage

import "testing"

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
