package changes_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

// BenchmarkFanOut measures one record write followed until every stream
// of its collection has received it, with 1, 100 and 1000 streams open
// (memory backend, one HTTP connection per stream). The hub reads storage
// once per wake-up whatever the number of streams, so the cost per write
// should grow with the writing to each connection only. Run it by hand:
//
//	go test -run XXX -bench FanOut -benchtime 200x ./plugins/changes/
func BenchmarkFanOut(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("%d streams", n), func(b *testing.B) {
			s := apitest.New(b, settings(map[string]string{"stream_max_connections_per_user": "100000"}))
			s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: alice, Body: `{}`})
			s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: `{}`})
			t := &testing.T{}
			var got sync.WaitGroup
			clients := make([]*client, n)
			for i := range clients {
				clients[i] = followB(b, s)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				got.Add(n)
				for _, c := range clients {
					go func(c *client) {
						defer got.Done()
						select {
						case <-c.Events:
						case <-time.After(30 * time.Second):
							t.Fail()
						}
					}(c)
				}
				s.Do(R{Method: "PUT", Path: fmt.Sprintf("%s/r%d", records, i), Auth: alice, Body: `{"data":{"n":1}}`})
				got.Wait()
			}
			b.StopTimer()
			if t.Failed() {
				b.Fatal("an event did not arrive")
			}
		})
	}
}

// followB opens a stream and waits for its ready event.
func followB(b *testing.B, s *apitest.Server) *client {
	c := follow(b, s, records, alice, nil)
	if c.Status != 200 {
		b.Fatalf("stream: %d", c.Status)
	}
	if ev := <-c.Events; ev.Name != "ready" {
		b.Fatalf("first event %v", ev)
	}
	return c
}
