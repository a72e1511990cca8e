package storage

import "testing"

var recText = []byte(`{"title":"record 42","status":"active","n":42,"id":"r00042","last_modified":1795700000000}`)

func BenchmarkEncDecRecord(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		m, _ := DecodeOrdered(recText)
		body := map[string]any{"data": m, "permissions": map[string]any{}}
		AppendJSON(make([]byte, 0, 256), body)
	}
}
