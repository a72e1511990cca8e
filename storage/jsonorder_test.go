package storage

import (
	"fmt"
	"strings"
	"testing"
)

func TestAppendJSONKeyOrder(t *testing.T) {
	dec := func(s string) map[string]any {
		v, err := DecodeJSON([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return v.(map[string]any)
	}
	enc := func(v any) string {
		b, err := AppendJSON(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	cases := []struct {
		name, value string
		templates   []string
		want        string
	}{
		{"no hint: sorted", `{"b":1,"a":{"d":1,"c":2}}`, nil, `{"a":{"c":2,"d":1},"b":1}`},
		{"hint order, nested and in arrays", `{"b":1,"a":[{"d":1,"c":2}]}`, []string{`{"b":0,"a":[{"d":0,"c":0}]}`}, `{"b":1,"a":[{"d":1,"c":2}]}`},
		{"keys the hint lacks come last, sorted", `{"z":1,"b":2,"a":3}`, []string{`{"z":0}`}, `{"z":1,"a":3,"b":2}`},
		{"keys the hint has but the value lacks are skipped", `{"b":2}`, []string{`{"a":1,"b":0}`}, `{"b":2}`},
		{"second template places the rest", `{"x":1,"n":{"q":1,"p":2},"new":3}`, []string{`{"x":0,"n":{"q":0}}`, `{"new":0,"n":{"p":0}}`}, `{"x":1,"n":{"q":1,"p":2},"new":3}`},
		{"escaped keys", `{"é":1,"a\"b":2}`, []string{`{"\u00e9":0,"a\"b":0}`}, `{"é":1,"a\"b":2}`},
		{"malformed hint is only a hint", `{"b":1,"a":2}`, []string{`{"b":0,"a`}, `{"b":1,"a":2}`},
		{"hint that is no object", `{"b":1,"a":2}`, []string{`[1,2]`}, `{"a":2,"b":1}`},
		{"type change under a key", `{"a":{"y":1,"x":2}}`, []string{`{"a":[1]}`}, `{"a":{"x":2,"y":1}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := dec(c.value)
			var ts [][]byte
			for _, s := range c.templates {
				ts = append(ts, []byte(s))
			}
			WithOrder(m, ts...)
			if got := enc(m); got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
			if got := enc(m); got != c.want {
				t.Errorf("second encoding differs: %s", got)
			}
		})
	}
	// A decoded object's hint follows it into an enclosing value, and
	// AppendSortedJSON ignores hints.
	o, err := DecodeOrdered([]byte(`{"b":1,"a":2}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := enc(map[string]any{"data": o, "permissions": map[string]any{}}); got != `{"data":{"b":1,"a":2},"permissions":{}}` {
		t.Errorf("nested hint: %s", got)
	}
	if b, _ := AppendSortedJSON(nil, o); string(b) != `{"a":2,"b":1}` {
		t.Errorf("sorted: %s", b)
	}
	if dataKeys(o) != 2 || !Equal(o, dec(`{"a":2,"b":1}`)) {
		t.Error("the hint is no data")
	}
	// No object, no hint, whatever the text's size.
	if WithClientOrder(nil, make([]byte, primeOrder)) != nil {
		t.Error("a hint on no object")
	}
	// Client text that repeats a key is not used as a hint.
	m := dec(`{"a":1,"b":2}`)
	WithClientOrder(m, []byte(`{"b":0,"a":1,"a":2}`))
	if orderOf(m) != nil || enc(m) != `{"a":1,"b":2}` {
		t.Errorf("duplicate keys must not give a hint: %s", enc(m))
	}
	for text, dup := range map[string]bool{`{"a":1,"b":{"c":1,"c":2}}`: true, `[{"x":1},{"y":1,"y":1}]`: true,
		`{"a":[{"b":1},{"b":2}]}`: false, `{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k3":0}`: true} {
		if hasDuplicateKeys([]byte(text)) != dup {
			t.Errorf("hasDuplicateKeys(%s) != %v", text, dup)
		}
	}
	if _, err := DecodeJSON([]byte(`{"\u0000order":1}`)); err == nil {
		t.Error("the order key is refused in client JSON")
	}
	if RawField([]byte(`{"a":1,"data":{"x":[1,2]},"z":2}`), "data") == nil || string(RawField([]byte(`{"data" : {"x":[1,2]} }`), "data")) != `{"x":[1,2]}` {
		t.Error("RawField")
	}
}

// TestAppendJSONKeyOrderSizes checks the hint's order against objects of
// every size the encoder treats apart: a few keys (read in a loop), more
// than smallOrder (a set, kept with the hint), and a client text of at
// least primeOrder bytes (read when the hint is set).
func TestAppendJSONKeyOrderSizes(t *testing.T) {
	for _, size := range []int{3, smallOrder + 1, 400} {
		for _, client := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d keys, client %v", size, client), func(t *testing.T) {
				// The hint lists k<size-1> down to k0; the value lacks k1
				// and has three keys the hint does not.
				text := []byte("{")
				value := map[string]any{"id": "r1", "last_modified": int64(7), "aa": true}
				var want []byte
				for i := size - 1; i >= 0; i-- {
					k := fmt.Sprintf("k%d", i)
					if i < size-1 {
						text = append(text, ',')
					}
					text = fmt.Appendf(text, `%q:"%s-value-of-some-length"`, k, k)
					if i != 1 {
						value[k] = k
						want = fmt.Appendf(want, `%q:%q,`, k, k)
					}
				}
				text = append(text, '}')
				want = append([]byte("{"), want...)
				want = append(want, `"aa":true,"id":"r1","last_modified":7}`...)
				if client {
					if size == 400 && len(text) < primeOrder {
						t.Fatalf("the text (%d bytes) is too short to be read ahead", len(text))
					}
					WithClientOrder(value, text)
				} else {
					WithOrder(value, text)
				}
				for range 2 {
					got, err := AppendJSON(nil, value)
					if err != nil {
						t.Fatal(err)
					}
					if string(got) != string(want) {
						t.Fatalf("got  %s\nwant %s", got, want)
					}
				}
				// A key added after the hint was read goes with the rest.
				value["k1"] = "back"
				got, _ := AppendJSON(nil, value)
				if !strings.Contains(string(got), `"k2":"k2","k1":"back","k0":"k0"`) {
					t.Errorf("k1 not in the hint's place: %s", got)
				}
			})
		}
	}
}
