package kvengine

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
)

// mapStore is a plain reference Store: a map per bucket, cursors over its
// sorted keys.
type mapStore map[string]map[string][]byte

func (s mapStore) Bucket(name string) Bucket {
	if s[name] == nil {
		s[name] = map[string][]byte{}
	}
	return mapBucket(s[name])
}
func (s mapStore) Writable() bool { return true }

type mapBucket map[string][]byte

func (b mapBucket) Get(k []byte) []byte   { return b[string(k)] }
func (b mapBucket) Put(k, v []byte) error { b[string(k)] = v; return nil }
func (b mapBucket) Delete(k []byte) error { delete(b, string(k)); return nil }
func (b mapBucket) Cursor() Cursor {
	keys := make([]string, 0, len(b))
	for k := range b {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return &sliceCursor{b: b, keys: keys}
}

type sliceCursor struct {
	b    mapBucket
	keys []string
	i    int
}

func (c *sliceCursor) at() ([]byte, []byte) {
	if c.i < 0 || c.i >= len(c.keys) {
		return nil, nil
	}
	return []byte(c.keys[c.i]), c.b[c.keys[c.i]]
}
func (c *sliceCursor) First() ([]byte, []byte) { c.i = 0; return c.at() }
func (c *sliceCursor) Last() ([]byte, []byte)  { c.i = len(c.keys) - 1; return c.at() }
func (c *sliceCursor) Seek(k []byte) ([]byte, []byte) {
	c.i = sort.SearchStrings(c.keys, string(k))
	return c.at()
}
func (c *sliceCursor) Next() ([]byte, []byte) {
	if c.i < len(c.keys) {
		c.i++
	}
	return c.at()
}
func (c *sliceCursor) Prev() ([]byte, []byte) {
	if c.i >= 0 {
		c.i--
	}
	return c.at()
}

func randKey(r *rand.Rand) []byte { return []byte(fmt.Sprintf("k%03d", r.IntN(200))) }

// TestOverlayMatchesReference writes at random into a base store and two
// layers, and checks that the overlay reads (gets, cursors in both
// directions, turning around) as the same writes applied in order would.
func TestOverlayMatchesReference(t *testing.T) {
	for seed := uint64(0); seed < 200; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		base, ref := mapStore{}, mapStore{}
		for i := 0; i < r.IntN(120); i++ {
			k, v := randKey(r), []byte(fmt.Sprint("base", i))
			base.Bucket("x").Put(k, v)
			ref.Bucket("x").Put(k, v)
		}
		older, newer := NewLayer(), NewLayer()
		for _, l := range []*Layer{older, newer} {
			o := NewOverlay(base, l)
			if l == newer {
				o = NewOverlay(base, newer, older)
			}
			for i := 0; i < r.IntN(80); i++ {
				k := randKey(r)
				if r.IntN(3) == 0 {
					o.Bucket("x").Delete(k)
					ref.Bucket("x").Delete(k)
				} else {
					v := []byte(fmt.Sprint("layer", i))
					o.Bucket("x").Put(k, v)
					ref.Bucket("x").Put(k, v)
				}
			}
		}
		older.Freeze()
		ov := NewOverlay(base, newer, older)
		want := ref.Bucket("x").Cursor().(*sliceCursor).keys
		for i := 0; i < 200; i++ {
			k := fmt.Sprintf("k%03d", i)
			if got, exp := string(ov.Bucket("x").Get([]byte(k))), string(ref["x"][k]); got != exp {
				t.Fatalf("seed %d: Get(%s) = %q, want %q", seed, k, got, exp)
			}
		}
		var fwd, bwd []string
		c := ov.Bucket("x").Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if string(v) != string(ref["x"][string(k)]) {
				t.Fatalf("seed %d: value of %s", seed, k)
			}
			fwd = append(fwd, string(k))
		}
		for k, _ := c.Last(); k != nil; k, _ = c.Prev() {
			bwd = append([]string{string(k)}, bwd...)
		}
		if fmt.Sprint(fwd) != fmt.Sprint(want) || fmt.Sprint(bwd) != fmt.Sprint(want) {
			t.Fatalf("seed %d: forward %v / backward %v, want %v", seed, fwd, bwd, want)
		}
		// A random walk with seeks and turns, against the reference order.
		rc := ref.Bucket("x").Cursor()
		c.First()
		rc.First()
		for step := 0; step < 300; step++ {
			var gk, wk []byte
			switch r.IntN(5) {
			case 0:
				s := randKey(r)
				gk, _ = c.Seek(s)
				wk, _ = rc.Seek(s)
			case 1, 2:
				gk, _ = c.Next()
				wk, _ = rc.Next()
			default:
				gk, _ = c.Prev()
				wk, _ = rc.Prev()
			}
			if string(gk) != string(wk) {
				t.Fatalf("seed %d step %d: cursor at %q, want %q", seed, step, gk, wk)
			}
			if wk == nil {
				gk, _ = c.First()
				wk, _ = rc.First()
			}
		}
		// Applying the layers in order gives the reference.
		older.Apply(base)
		newer.Apply(base)
		if fmt.Sprint(base["x"]) != fmt.Sprint(ref["x"]) {
			t.Fatalf("seed %d: applied layers differ from the reference", seed)
		}
	}
}

func TestLayerUndo(t *testing.T) {
	base := mapStore{}
	base.Bucket("x").Put([]byte("a"), []byte("1"))
	l := NewLayer()
	o := NewOverlay(base, l)
	o.Bucket("x").Put([]byte("b"), []byte("2"))
	mark := o.Mark()
	o.Bucket("x").Put([]byte("b"), []byte("3"))
	o.Bucket("x").Delete([]byte("a"))
	o.Bucket("x").Put([]byte("c"), []byte("4"))
	o.Undo(mark)
	if l.Len() != 1 || string(o.Bucket("x").Get([]byte("a"))) != "1" || string(o.Bucket("x").Get([]byte("b"))) != "2" ||
		o.Bucket("x").Get([]byte("c")) != nil {
		t.Fatalf("after undo: len %d a=%q b=%q c=%q", l.Len(), o.Bucket("x").Get([]byte("a")), o.Bucket("x").Get([]byte("b")), o.Bucket("x").Get([]byte("c")))
	}
	var keys []string
	c := o.Bucket("x").Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		keys = append(keys, string(k))
	}
	if fmt.Sprint(keys) != "[a b]" {
		t.Fatal(keys)
	}
}
