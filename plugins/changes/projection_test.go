package changes_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

// TestProjectionsShareNothing: a change goes to every stream as one
// object, and each stream projects it by its own _fields. Projecting
// "o" then "o.p" wrote into that shared object (the copy of o was o
// itself), which the race detector reports and which crashes the server
// with "concurrent map writes" when two streams do it at once. Each
// stream must get exactly Kinto's projection of what was written.
func TestProjectionsShareNothing(t *testing.T) {
	s := apitest.New(t, settings(nil))
	seed(t, s)
	streams := []struct{ fields, want string }{
		{"o,o.p", `{"o":{"p":{"q":1,"r":2},"s":3}}`},
		{"o.p,o", `{"o":{"p":{"q":1,"r":2},"s":3}}`},
		{"o.p.q,o.s", `{"o":{"p":{"q":1},"s":3}}`},
		{"o.p.q,o.p", `{"o":{"p":{"q":1,"r":2}}}`},
		{"o.p.q.z,t.u", `{"o":{"p":{"q":1}},"t":"text"}`}, // values that are not objects are kept whole
		{"missing,o.missing", `{"o":{}}`},
	}
	var clients []*client
	for _, st := range streams {
		for i := 0; i < 3; i++ {
			c := follow(t, s, records+"?_fields="+st.fields, alice, nil)
			if c.Status != 200 {
				t.Fatalf("stream %s: %d %v", st.fields, c.Status, c.Body)
			}
			c.next(t) // ready
			clients = append(clients, c)
		}
	}
	const n = 20
	for i := 0; i < n; i++ {
		put(t, s, fmt.Sprintf("r%02d", i), `{"data":{"o":{"p":{"q":1,"r":2},"s":3},"t":"text","x":4}}`)
	}
	for i, c := range clients {
		want := streams[i/3]
		for j := 0; j < n; j++ {
			ev := c.next(t)
			o := ev.obj()
			for _, k := range []string{"id", "last_modified"} {
				if o[k] == nil {
					t.Fatalf("%s: no %s in %v", want.fields, k, o)
				}
				delete(o, k)
			}
			got, _ := json.Marshal(o)
			if string(got) != want.want {
				t.Errorf("_fields=%s: %s, want %s", want.fields, got, want.want)
			}
		}
	}
	// The list projects alike.
	l := s.Do(R{Method: "GET", Path: records + "?_fields=o,o.p&_limit=1", Auth: alice}).Expect(t, 200, 0)
	data, _ := l.Body["data"].([]any)
	if len(data) != 1 {
		t.Fatalf("list: %s", l.Raw)
	}
	if o, _ := data[0].(map[string]any); fmt.Sprint(o["o"]) != "map[p:map[q:1 r:2] s:3]" || o["t"] != nil {
		t.Errorf("list: %s", l.Raw)
	}
}
