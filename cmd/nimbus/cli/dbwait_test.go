package cli

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

// TestStartWaitsForTheDatabase: serve and migrate wait, up to
// storage_connect_wait_seconds, for a PostgreSQL server that cannot be
// reached yet (its container still starting beside Nimbus's) and start
// once it can, saying what they wait for (serve answers 503 meanwhile);
// a server that refuses the connection (a missing database) fails the
// start at once, and a wait that runs out fails it with the last error.
func TestStartWaitsForTheDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	pg := pgtest.Start(t)
	dbURL := pg.NewDatabase(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	bin := buildNimbus(t)
	env := func(storageURL, wait string) []string {
		return []string{"NIMBUS_STORAGE_BACKEND=postgresql", "NIMBUS_STORAGE_URL=" + storageURL,
			"NIMBUS_STORAGE_CONNECT_WAIT_SECONDS=" + wait, "NIMBUS_MULTIAUTH_POLICIES=account basicauth", "NIMBUS_USERID_HMAC_SECRET=s"}
	}
	via := func(addr string) string { return strings.Replace(dbURL, u.Host, addr, 1) }

	t.Run("migrate waits", func(t *testing.T) {
		addr, stop := pgtest.Proxy(t, u.Host, pgtest.ProxyOptions{Delay: 2 * time.Second})
		defer stop()
		start := time.Now()
		code, out := runWith(t, t.TempDir(), env(via(addr), "20"), bin, "migrate")
		if code != 0 || !strings.Contains(out, "cannot be reached yet") || !strings.Contains(out, "storage_connect_wait_seconds") ||
			time.Since(start) < 2*time.Second {
			t.Errorf("exit %d after %v:\n%s", code, time.Since(start), out)
		}
	})
	t.Run("serve waits", func(t *testing.T) {
		addr, stop := pgtest.Proxy(t, u.Host, pgtest.ProxyOptions{Delay: 3 * time.Second})
		defer stop()
		base, stopServer := zeroServer(t, bin, t.TempDir(), env(via(addr), "20"))
		defer stopServer()
		// Meanwhile: a Kinto 503 at once, not a hanging connection.
		start := time.Now()
		res, err := http.Get(base + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 503 || res.Header.Get("Retry-After") == "" || res.Header.Get("Content-Type") != "application/json" ||
			res.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(string(body), `"errno":201`) ||
			time.Since(start) > time.Second {
			t.Errorf("while waiting: %d %v %s after %v", res.StatusCode, res.Header, body, time.Since(start))
		}
		code := 0
		for i := 0; i < 150 && code != 200; i++ {
			time.Sleep(100 * time.Millisecond)
			code, _ = httpGet(base + "/__heartbeat__")
		}
		if code != 200 {
			t.Errorf("heartbeat once the database is reached: %d", code)
		}
	})
	t.Run("a missing database fails at once", func(t *testing.T) {
		start := time.Now()
		code, out := runWith(t, t.TempDir(), env(strings.Replace(dbURL, u.Path, "/no_such_database", 1), "20"), bin, "serve", "--port", "0")
		if code != 1 || !strings.Contains(out, "does not exist") || strings.Contains(out, "cannot be reached yet") || time.Since(start) > 10*time.Second {
			t.Errorf("exit %d after %v:\n%s", code, time.Since(start), out)
		}
	})
	t.Run("the wait runs out", func(t *testing.T) {
		addr, stop := pgtest.Proxy(t, u.Host, pgtest.ProxyOptions{Delay: time.Hour})
		defer stop()
		start := time.Now()
		code, out := runWith(t, t.TempDir(), env(via(addr), "1"), bin, "serve", "--port", "0")
		if code != 1 || !strings.Contains(out, "cannot be reached yet") || !strings.Contains(out, "connection refused") ||
			time.Since(start) < time.Second || time.Since(start) > 15*time.Second {
			t.Errorf("exit %d after %v:\n%s", code, time.Since(start), out)
		}
	})
}

func httpGet(u string) (int, error) {
	res, err := http.Get(u)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}
