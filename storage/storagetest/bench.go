package storagetest

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nimbus-server/nimbus/storage"
)

// BenchSize is the number of records the benchmarks seed.
const BenchSize = 100_000

var benchRef = storage.Ref{Resource: "record", Parent: "/buckets/bench/collections/items"}

// Seed fills backend with BenchSize records of about 200 bytes each, in
// transactions of 5,000.
func Seed(tb testing.TB, backend storage.Backend) {
	pad := strings.Repeat("p", 120)
	for start := 0; start < BenchSize; start += 5000 {
		err := backend.Update(context.Background(), func(tx storage.Tx) error {
			for i := start; i < start+5000; i++ {
				status := "active"
				if i%2 == 1 {
					status = "inactive"
				}
				o := storage.Object{"id": fmt.Sprintf("r%06d", i), "title": fmt.Sprintf("record %d", i), "status": status, "n": int64(i), "pad": pad}
				if _, err := tx.Create(benchRef, o); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// Bench runs the storage benchmarks against a backend already filled by
// Seed. Created records go to a separate list so runs do not disturb the
// seeded one.
func Bench(b *testing.B, backend storage.Backend) {
	ctx := context.Background()
	view := func(b *testing.B, fn func(tx storage.Tx) error) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := backend.View(ctx, fn); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("Get", func(b *testing.B) {
		i := 0
		view(b, func(tx storage.Tx) error {
			i++
			_, err := tx.Get(benchRef, fmt.Sprintf("r%06d", (i*7919)%BenchSize))
			return err
		})
	})
	b.Run("ListDefault10", func(b *testing.B) {
		view(b, func(tx storage.Tx) error {
			objs, err := tx.List(benchRef, storage.Query{Limit: 10})
			if err == nil && len(objs) != 10 {
				err = fmt.Errorf("got %d", len(objs))
			}
			return err
		})
	})
	b.Run("ListDeepPage10", func(b *testing.B) {
		after := storage.Object{"last_modified": int64(0), "id": ""}
		backend.View(ctx, func(tx storage.Tx) error {
			objs, err := tx.List(benchRef, storage.Query{Limit: 1, Filters: []storage.Filter{{Field: "n", Op: storage.OpEq, Value: int64(BenchSize / 10)}}})
			if err == nil && len(objs) == 1 {
				after = storage.Object{"last_modified": objs[0]["last_modified"], "id": objs[0]["id"]}
			}
			return err
		})
		view(b, func(tx storage.Tx) error {
			_, err := tx.List(benchRef, storage.Query{Limit: 10, After: after})
			return err
		})
	})
	b.Run("ListFilterEq10", func(b *testing.B) {
		q := storage.Query{Limit: 10, Filters: []storage.Filter{{Field: "status", Op: storage.OpEq, Value: "inactive"}}}
		view(b, func(tx storage.Tx) error {
			objs, err := tx.List(benchRef, q)
			if err == nil && len(objs) != 10 {
				err = fmt.Errorf("got %d", len(objs))
			}
			return err
		})
	})
	b.Run("Count", func(b *testing.B) {
		view(b, func(tx storage.Tx) error {
			n, err := tx.Count(benchRef, nil, false)
			if err == nil && n < BenchSize {
				err = fmt.Errorf("count %d", n)
			}
			return err
		})
	})
	created := storage.Ref{Resource: "record", Parent: "/buckets/bench/collections/created"}
	var seq atomic.Int64
	pad := strings.Repeat("p", 150)
	createOne := func() error {
		id := fmt.Sprintf("c%09d", seq.Add(1))
		return backend.Update(ctx, func(tx storage.Tx) error {
			_, err := tx.Create(created, storage.Object{"id": id, "title": "bench", "pad": pad})
			return err
		})
	}
	b.Run("Create", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := createOne(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Create16Concurrent", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(16) // 16 goroutines per GOMAXPROCS: at least 16 writers
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := createOne(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
