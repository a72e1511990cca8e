package resource_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/config"
	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/memory"
)

// caller sends one request as user and returns its status and body (0
// and the error's text when it could not be sent).
type caller func(user, method, path, body string) (int, string)

// serveMemory builds an app of the plugins on a memory store with the
// settings, and serves it until the test ends.
func serveMemory(t *testing.T, settings map[string]string, plugins ...resource.Plugin) *httptest.Server {
	t.Helper()
	return serveOn(t, memory.New(), nil, settings, plugins...)
}

// serveOn is serveMemory on another store, logging to logger (nil:
// the default).
func serveOn(t *testing.T, store storage.Backend, logger *slog.Logger, settings map[string]string, plugins ...resource.Plugin) *httptest.Server {
	t.Helper()
	app := resource.New(config.New(settings), store, logger)
	for _, p := range plugins {
		if err := app.Register(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	return srv
}

// callAs sends requests to srv with "Authorization: <scheme> <user>".
func callAs(srv *httptest.Server, scheme string, client *http.Client) caller {
	return func(user, method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", scheme+" "+user)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
}
