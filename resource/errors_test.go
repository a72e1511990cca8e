package resource_test

import (
	"testing"

	"github.com/nimbus-server/nimbus/resource"
)

// TestInvalidMessages: a validation error's message repeats its first
// detail as Kinto words it (CORE-09).
func TestInvalidMessages(t *testing.T) {
	for _, c := range []struct{ location, name, description, message string }{
		{"body", "data.title", "42 is not a string", "data.title in body: 42 is not a string"},
		{"querystring", "_before", "Invalid value for _before", "Invalid value for _before"},
		{"querystring", "foo", "Unknown filter field 'foo'", "Unknown filter field 'foo'"},
		{"body", "", "Provide at least one of data or permissions", "body: Provide at least one of data or permissions"},
		{"path", "id", "Invalid object id", "Invalid object id"}, // "id" is in it, as Kinto tests it
	} {
		e := resource.Invalid(c.location, c.name, c.description)
		if e.Message != c.message || e.Status != 400 || e.Errno != resource.ErrnoInvalidParams {
			t.Errorf("Invalid(%q, %q, %q): %d %d %q, want %q", c.location, c.name, c.description, e.Status, e.Errno, e.Message, c.message)
		}
	}
}
