package cli

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/storage"
)

// TestParseLine: an export's object line is read with its resource,
// parent, object (keys in the file's order) and ACL; anything else is
// refused with the reason.
func TestParseLine(t *testing.T) {
	good := `{"resource": "record", "parent": "/buckets/b/collections/c", "data": {"id": "r1", "z": 1, "a": [true, null]},
	  "permissions": {"read": ["system.Everyone"], "write": null}}`
	l, err := parseLine([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if l.Resource != "record" || l.Parent != "/buckets/b/collections/c" || storage.ID(l.Data) != "r1" {
		t.Errorf("read %+v", l)
	}
	if want := (storage.ACL{"read": {"system.Everyone"}, "write": {}}); !reflect.DeepEqual(l.Permissions, want) {
		t.Errorf("permissions %v, want %v", l.Permissions, want)
	}
	enc, _ := storage.AppendJSON(nil, map[string]any(l.Data))
	if want := `{"id":"r1","z":1,"a":[true,null]}`; string(enc) != want {
		t.Errorf("stored as %s, want %s (the file's key order)", enc, want)
	}
	if l, err := parseLine([]byte(`{"resource": "bucket", "data": {"id": "b"}}`)); err != nil || l.Parent != "" || l.Permissions != nil {
		t.Errorf("a bucket without parent or permissions: %+v %v", l, err)
	}
	for _, tc := range []struct{ line, why string }{
		{`[1]`, ""},
		{`{"resource": "record", "data": {"id": "r"}`, "unexpected end"},
		{`{"resource": 1, "data": {"id": "r"}}`, `"resource" is not a string`},
		{`{"resource": "record", "parent": [], "data": {"id": "r"}}`, `"parent" is not a string`},
		{`{"resource": "record", "data": {"id": "r"}, "permissions": []}`, `"permissions" is not an object`},
		{`{"resource": "record", "data": {"id": "r"}, "permissions": {"read": "x"}}`, `permission "read" is not a list`},
		{`{"resource": "record", "data": {"id": "r"}, "permissions": {"read": [1]}}`, `permission "read" holds a principal`},
		{`{"resource": "record", "data": {"id": 5}}`, ""},
		{`{"resource": "record", "data": []}`, ""},
		{`{"resource": "", "data": {"id": "r"}}`, ""},
		{`{"data": {"id": "r"}}`, ""},
	} {
		_, err := parseLine([]byte(tc.line))
		if !errors.Is(err, errNotExported) || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("%s: %v, want %q", tc.line, err, tc.why)
		}
	}
}
