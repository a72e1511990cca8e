package kinto

import (
	"encoding/json"
	"testing"
)

// TestPyRepr checks values written as Python's repr() writes what json.loads
// made of them (the expected texts are Python 3.11's).
func TestPyRepr(t *testing.T) {
	for _, c := range []struct {
		in   any
		want string
	}{
		{json.Number("1.0"), "1.0"},
		{json.Number("1e16"), "1e+16"},
		{json.Number("123456789012345.0"), "123456789012345.0"},
		{json.Number("0.0001"), "0.0001"},
		{json.Number("0.00001"), "1e-05"},
		{json.Number("-0.0"), "-0.0"},
		{json.Number("12345678901234567890"), "12345678901234567890"},
		{json.Number("1.5e300"), "1.5e+300"},
		{json.Number("-7"), "-7"},
		{"a'b\"c", `'a\'b"c'`},
		{"a'b", `"a'b"`},
		{"tab\tnl\n\x01\x7f\u0085\u00a0é😀\u2028\\", `'tab\tnl\n\x01\x7f\x85\xa0é😀\u2028\\'`},
		{nil, "None"},
		{[]any{true, false, json.Number("2.5")}, "[True, False, 2.5]"},
		{map[string]any{"b": []any{}, "a": map[string]any{}}, "{'a': {}, 'b': []}"},
	} {
		if got := pyRepr(c.in); got != c.want {
			t.Errorf("pyRepr(%#v) = %s, want %s", c.in, got, c.want)
		}
	}
}
