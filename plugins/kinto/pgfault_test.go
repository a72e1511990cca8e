package kinto_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/storage/postgres"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

// TestPostgresOutage stops PostgreSQL in the middle of writes, by a fast
// shutdown and by SIGKILL of the postmaster (a crash): requests get 503
// (never 500, never a hang), service resumes on its own once the
// database is back, and no acknowledged write is lost.
func TestPostgresOutage(t *testing.T) {
	for _, c := range []struct {
		name string
		down func(*pgtest.Server) error
	}{
		{"fast shutdown", (*pgtest.Server).StopServer},
		{"postmaster killed", (*pgtest.Server).KillServer},
	} {
		t.Run(c.name, func(t *testing.T) { outage(t, c.down) })
	}
}

func outage(t *testing.T, down func(*pgtest.Server) error) {
	pg := pgtest.Private(t)
	url := pg.NewDatabase(t)
	backend, err := postgres.Open(context.Background(), url, postgres.Options{MaxConns: 8, PoolTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s := apitest.NewWithBackend(t, backend, map[string]string{"storage_backend": "postgresql"})
	setup(t, s)
	var acked sync.Map
	var n, unavailable, bad atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("w%d-%d", w, i)
				start := time.Now()
				r := s.Do(R{Method: "PUT", Path: recs + "/" + id, Auth: alice, Body: `{}`})
				if time.Since(start) > 20*time.Second {
					bad.Add(1)
				}
				switch {
				case r.Status == 201:
					acked.Store(id, true)
					n.Add(1)
				case r.Status == 503:
					unavailable.Add(1)
					if r.Header.Get("Retry-After") == "" || r.Errno() != 201 {
						bad.Add(1)
					}
				default:
					t.Errorf("write answered %d: %s", r.Status, r.Raw)
				}
			}
		}(w)
	}
	time.Sleep(300 * time.Millisecond)
	if err := down(pg); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	hb := s.Do(R{Method: "GET", Path: "/v1/__heartbeat__"})
	if hb.Status != 503 || hb.Body["storage"] != false {
		t.Errorf("heartbeat during the outage: %d %s", hb.Status, hb.Raw)
	}
	if err := pg.StartServer(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	if unavailable.Load() == 0 || bad.Load() != 0 {
		t.Errorf("503s during the outage: %d, bad answers: %d", unavailable.Load(), bad.Load())
	}
	s.Do(R{Method: "GET", Path: "/v1/__heartbeat__"}).Expect(t, 200, 0)
	s.Do(R{Method: "PUT", Path: recs + "/after", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
	l := s.Do(R{Method: "GET", Path: recs + "?_limit=10000", Auth: alice}).Expect(t, 200, 0)
	have := map[string]bool{}
	for _, id := range l.IDs() {
		have[id] = true
	}
	acked.Range(func(k, _ any) bool {
		if !have[k.(string)] {
			t.Errorf("acknowledged write %v lost", k)
		}
		return true
	})
	if n.Load() == 0 {
		t.Error("no write succeeded before the outage")
	}
}
