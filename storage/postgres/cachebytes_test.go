package postgres

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestCacheBytes drives the cache's rows and pages with random keeps,
// encodings, invalidations and resets, and checks after each step that
// the bytes counted are the bytes held (recomputed from the maps), that
// they stay within the bound, that nothing larger than a 64th of it is
// held, and that a fitting row read while nothing changed is kept. Odd
// seeds keep rows only, so that rows alone reach the bound.
func TestCacheBytes(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 0))
			c := newCache(200)
			c.maxBytes = 256 << 10
			c.reset(true)
			data := func(max int) []byte { return make([]byte, r.IntN(max)) }
			key := func() objKey {
				return objKey{resource: "record", parent: fmt.Sprint("/l", r.IntN(10)), id: fmt.Sprint("r", r.IntN(300))}
			}
			full, large := 0, 0
			for step := 0; step < 2000; step++ {
				before := c.rowBytes + c.pageBytes
				op := r.IntN(200)
				if seed%2 == 1 && op >= 100 && op < 160 {
					// Odd seeds keep no pages: rows alone reach the bound.
					op -= 100
				}
				switch {
				case op < 100:
					k, row := key(), cachedRow{found: true, data: data(5000)}
					c.keepRow(k, row, c.gen.Load())
					_, kept := lookup(c, objectsOf, k)
					if c.tooLarge(rowSize(k, row)) {
						large++
					} else if c.rowBytes < before-rowSize(k, row) {
						full++
					}
					if fits := !c.tooLarge(rowSize(k, row)); kept != fits {
						t.Fatalf("step %d: row of %d bytes kept %v, fits %v", step, rowSize(k, row), kept, fits)
					}
				case op < 160:
					rows := make([]pageRow, r.IntN(6))
					for i := range rows {
						rows[i] = pageRow{id: fmt.Sprint("r", i), cachedRow: cachedRow{found: true, data: data(700)}}
					}
					list, pk := fmt.Sprint("record\x1f/l", r.IntN(10)), fmt.Sprint("q", r.IntN(40))
					c.keepPage(list, pk, rows, false, -1, c.gen.Load())
					if r.IntN(2) == 0 {
						enc := make([][]byte, len(rows))
						for i := range enc {
							enc[i] = data(500)
						}
						c.keepEncoded(list, pk, enc, c.gen.Load())
					}
				case op < 196:
					var tc touched
					for range r.IntN(4) {
						tc.addObject(key())
					}
					c.invalidate(&tc)
				case op < 198:
					c.invalidate(&touched{allObjects: true})
				default:
					c.reset(true)
				}
				rows, pages := 0, 0
				for k, row := range c.objects {
					if c.tooLarge(rowSize(k, row)) {
						t.Fatalf("step %d: a row of %d bytes held", step, rowSize(k, row))
					}
					rows += rowSize(k, row)
				}
				for _, m := range c.pages {
					for _, p := range m {
						if p.size != pageSize(p) || c.tooLarge(p.size) {
							t.Fatalf("step %d: page counted %d, holds %d", step, p.size, pageSize(p))
						}
						pages += p.size
					}
				}
				if rows != c.rowBytes || pages != c.pageBytes {
					t.Fatalf("step %d: counted rows %d pages %d, held %d and %d", step, c.rowBytes, c.pageBytes, rows, pages)
				}
				if rows+pages > c.maxBytes || len(c.objects) > c.max {
					t.Fatalf("step %d: %d bytes, %d rows held", step, rows+pages, len(c.objects))
				}
			}
			if full == 0 || large == 0 {
				t.Fatalf("the bound was reached %d times, rows too large %d: the test does not reach its cases", full, large)
			}
		})
	}
}
