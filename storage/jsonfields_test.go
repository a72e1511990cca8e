package storage

import (
	"fmt"
	"math/rand"
	"testing"
)

// TestDecodeFieldsMatchesLikeTheWholeObject is a model test: for random
// objects and filters, an object decoded on the filtered fields alone
// (DecodeFields with FilteredKey) matches exactly when the whole object
// does. Keys with dots, nested objects and prefixes of other keys are in
// the mix, as Lookup reads them.
func TestDecodeFieldsMatchesLikeTheWholeObject(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	keys := []string{"a", "ab", "a.b", "a.b.c", "b", "id", "n"}
	values := []string{`1`, `2.5`, `"x"`, `"y\"z"`, `true`, `null`, `[1,"x"]`, `{"b":1}`, `{"b":{"c":"x"}}`, `{"c":2}`, `{}`}
	fields := []string{"a", "ab", "a.b", "a.b.c", "a.c", "b", "b.c", "id", "n", "zz"}
	ops := []Op{OpEq, OpNot, OpMin, OpIn, OpHas, OpLike, OpContains}
	filterValues := []any{int64(1), "x", true, nil, []any{int64(1), "x"}, map[string]any{"b": int64(1)}}
	for i := 0; i < 3000; i++ {
		text := "{"
		used := map[string]bool{}
		for j, n := 0, rng.Intn(5); j < n; j++ {
			k := keys[rng.Intn(len(keys))]
			if used[k] {
				continue
			}
			used[k] = true
			if len(text) > 1 {
				text += ","
			}
			text += fmt.Sprintf("%q:%s", k, values[rng.Intn(len(values))])
		}
		text += "}"
		var filters []Filter
		for j, n := 0, 1+rng.Intn(2); j < n; j++ {
			f := Filter{Field: fields[rng.Intn(len(fields))], Op: ops[rng.Intn(len(ops))], Value: filterValues[rng.Intn(len(filterValues))]}
			switch f.Op {
			case OpHas:
				f.Value = rng.Intn(2) == 0
			case OpLike:
				f.Value = "*x*"
			case OpIn, OpContains:
				f.Value = []any{int64(1), "x"}
			}
			filters = append(filters, f)
		}
		whole, err := DecodeJSON([]byte(text))
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		part, err := DecodeFields([]byte(text), func(key string) bool {
			for _, f := range filters {
				if FilteredKey(key, f.Field) {
					return true
				}
			}
			return false
		})
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		if got, want := Match(part, filters), Match(whole.(map[string]any), filters); got != want {
			t.Fatalf("%s with %v: matched %v on the filtered fields, %v on the whole object", text, filters, got, want)
		}
	}
}

func TestDecodeFieldsRefusesWhatIsNoObject(t *testing.T) {
	for _, text := range []string{``, `[]`, `{"a":1,}`, `{"a":1`, `{"a" 1}`, `{"a":1}x`, `{"a":}`} {
		if _, err := DecodeFields([]byte(text), func(string) bool { return true }); err == nil {
			t.Errorf("%q decoded", text)
		}
	}
	if o, err := DecodeFields([]byte(` { "a" : 1 , "b":[2] } `), func(k string) bool { return k == "b" }); err != nil || fmt.Sprint(o) != "map[b:[2]]" {
		t.Errorf("got %v, %v", o, err)
	}
}
