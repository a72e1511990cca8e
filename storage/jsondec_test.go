package storage

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func stdDecode(b []byte) (any, error) {
	if !json.Valid(b) {
		var v any
		return nil, json.Unmarshal(b, &v)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

var decodeSeeds = []string{
	`{"a":1,"b":[true,false,null,"x\"y\\z\n\t\u0001\u00e9\ud83d\ude00"],"c":{"d":1.5e300,"e":"é"},"f":-0.0,"g":12345678901234567890}`,
	`[]`, `{}`, `""`, `0`, `-1`, `1.5`, `1e5`, `1E+5`, `1e-5`, `"\ud800"`, `"\udc00x"`, `"\ud800\u0041"`, ` {"a" : [ 1 , 2 ] } `,
	`01`, `1.`, `.5`, `-`, `1e`, `[1,]`, `{"a":1,}`, `{a:1}`, `tru`, `nul`, `"abc`, `"\x"`, "\"a\x01\"", `[1 2]`, `{"a" 1}`, `1 2`,
	"\"\xff\xfe\"", `{"a":1,"a":2}`, `"\u12"`, `"\/"`,
}

func TestDecodeJSONMatchesEncodingJSON(t *testing.T) {
	for _, s := range decodeSeeds {
		checkDecode(t, []byte(s))
	}
}

func checkDecode(t *testing.T, b []byte) {
	want, werr := stdDecode(b)
	got, gerr := DecodeJSON(b)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%q: encoding/json error %v, ours %v", b, werr, gerr)
	}
	if werr == nil && !Equal(got, want) {
		t.Fatalf("%q: got %#v, want %#v", b, got, want)
	}
	if werr == nil {
		if s, ok := want.(string); ok && s != got.(string) {
			t.Fatalf("%q: string %q, want %q", b, got, s)
		}
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkDecode(t, b) })
}

// TestDecodeClientJSON checks what a client's body may not hold although
// encoding/json reads it: numbers beyond a double and lone surrogates.
func TestDecodeClientJSON(t *testing.T) {
	cases := []struct {
		in, want string // want is "" when the text is refused
	}{
		{`1e400`, ""},
		{`[-1E+309]`, ""},
		{`{"a":123456789e305}`, ""},
		{`"\ud800"`, ""},
		{`"a\udc00b"`, ""},
		{`"\ud800\u0041"`, ""},
		{`{"\ud83d":1}`, ""},
		{strings.Repeat("9", 400), ""},
		{"-" + strings.Repeat("2", 309), ""},
		{"-" + strings.Repeat("1", 309), "-" + strings.Repeat("1", 309)},
		{strings.Repeat("9", 308), strings.Repeat("9", 308)},
		{`1e308`, `1e308`},
		{`1.5e-400`, `1.5e-400`},
		{`12345678901234567890123`, `12345678901234567890123`},
		{`"\ud83d\ude00"`, `"😀"`},
		{`"\u00e9\uffff"`, "\"\u00e9\uffff\""},
	}
	for _, c := range cases {
		if _, err := DecodeJSON([]byte(c.in)); err != nil {
			t.Fatalf("%s: DecodeJSON refused it: %v", c.in, err)
		}
		v, err := DecodeClientJSON([]byte(c.in))
		if c.want == "" {
			if err == nil {
				t.Errorf("%s: accepted as %v", c.in, v)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if got, _ := AppendJSON(nil, v); string(got) != c.want {
			t.Errorf("%s: got %s, want %s", c.in, got, c.want)
		}
	}
}
