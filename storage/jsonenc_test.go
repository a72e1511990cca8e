package storage

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestAppendJSONRoundTrips(t *testing.T) {
	cases := []string{
		`{"a":1,"b":[true,false,null,"x\"y\\z\n\t\u0001"],"c":{"d":1.5e300,"e":"é ☃ \u2028"},"f":-0.0,"g":12345678901234567890}`,
		`[]`, `{}`, `"<&>"`, `[[[]],{}]`,
	}
	for _, c := range cases {
		d := json.NewDecoder(strings.NewReader(c))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
		out, err := AppendJSON(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		d2 := json.NewDecoder(strings.NewReader(string(out)))
		d2.UseNumber()
		var back any
		if err := d2.Decode(&back); err != nil {
			t.Fatalf("%s: invalid output %s: %v", c, out, err)
		}
		if !Equal(v, back) {
			t.Errorf("%s -> %s", c, out)
		}
	}
	if out, _ := AppendJSON(nil, "a\xffb"); string(out) != `"a\ufffdb"` {
		t.Errorf("invalid UTF-8: %s", out)
	}
	if out, _ := AppendJSON(nil, "</script>"); string(out) != `"</script>"` {
		t.Errorf("no HTML escaping: %s", out)
	}
}

func FuzzAppendJSON(f *testing.F) {
	f.Add(`{"a":[1,"x",{"b":null}]}`)
	f.Fuzz(func(t *testing.T, s string) {
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		var v any
		if d.Decode(&v) != nil {
			return
		}
		out, err := AppendJSON(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON %q from %q", out, s)
		}
	})
}
