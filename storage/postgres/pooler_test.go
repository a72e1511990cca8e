package postgres_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/postgres"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

// TestCacheOffBehindAPooler: through a pooler, which may move the LISTEN
// to a server connection the barriers do not reach, the read cache stays
// off (an error logged once says why) and reads and writes go to the
// database; through a plain TCP proxy the cache is used as on a direct
// connection.
func TestCacheOffBehindAPooler(t *testing.T) {
	dbURL := pgtest.Start(t).NewDatabase(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		pooler bool
	}{{"pooler", true}, {"tcp-proxy", false}} {
		t.Run(tc.name, func(t *testing.T) {
			addr, _ := pgtest.Proxy(t, u.Host, pgtest.ProxyOptions{Pooler: tc.pooler})
			logs := &syncLog{}
			logger := slog.New(slog.NewTextHandler(logs, nil))
			b, err := postgres.Open(context.Background(), strings.Replace(dbURL, u.Host, addr, 1),
				postgres.Options{MaxConns: 4, Logger: logger})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			ready := false
			for i := 0; i < 100 && !ready; i++ {
				time.Sleep(20 * time.Millisecond)
				ready = b.CacheReady()
			}
			if ready == tc.pooler {
				t.Fatalf("cache in use: %v", ready)
			}
			ref := storage.Ref{Resource: "record", Parent: "/buckets/b/collections/c"}
			if err := b.Update(context.Background(), func(tx storage.Tx) error {
				_, err := tx.Create(ref, storage.Object{"id": tc.name})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if got := view(t, b, func(tx storage.Tx) (storage.Object, error) { return tx.Get(ref, tc.name) }); storage.ID(got) != tc.name {
				t.Errorf("read back %v", got)
			}
			text := logs.String()
			if n := strings.Count(text, "goes through a pooler"); (n == 1) != tc.pooler {
				t.Errorf("%d pooler errors logged:\n%s", n, text)
			}
		})
	}
}

// syncLog is a log sink the listener's goroutine writes to while the
// test reads it.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
