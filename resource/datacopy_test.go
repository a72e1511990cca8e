package resource

import (
	"testing"

	"github.com/nimbus-server/nimbus/storage"
)

// TestDataCopy: a write's first run takes the copy made before its
// transaction; a run again gets a fresh one, not what the first changed,
// with the client's order kept and the server's fields left out.
func TestDataCopy(t *testing.T) {
	sent := storage.Object{"b": 1, "a": 2, "last_modified": 5, "deleted": true}
	d := newDataCopy(sent, []byte(`{"b":1,"a":2,"last_modified":5,"deleted":true}`))
	first := d.take()
	first["id"] = "x"
	delete(first, "a")
	for i, o := range []storage.Object{first, d.take(), d.take()} {
		o["id"] = "x"
		got, err := storage.AppendJSON(nil, o)
		if err != nil {
			t.Fatal(err)
		}
		want := `{"b":1,"a":2,"id":"x"}`
		if i == 0 {
			want = `{"b":1,"id":"x"}`
		}
		if string(got) != want {
			t.Errorf("run %d: %s, want %s", i+1, got, want)
		}
	}
	if len(sent) != 4 {
		t.Errorf("the body's data changed: %v", sent)
	}
}
