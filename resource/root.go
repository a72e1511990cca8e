package resource

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	"github.com/nimbus-server/nimbus/storage"
)

type heartbeatFunc = func(context.Context) error

// rootOrder is the key order of the root URL's answer: Kinto's, so that
// tools showing it as it comes (Kinto Admin's server information) list
// the project first and the capabilities last.
var rootOrder = []byte(`{"project_name":0,"project_version":0,"http_api_version":0,"project_docs":0,"url":0,"config":{"path":0,"hash":0,"modified":0},"eos":0,"settings":0,"user":{"id":0,"principals":0,"bucket":0},"capabilities":0}`)

func (a *App) rootHandler(r *Request) error {
	if a.opts.readonly {
		r.ResponseHeader().Set("Cache-Control", "max-age="+itoa(a.opts.rootCacheExpires))
	}
	base := r.BaseURL()
	if !r.Authenticated() {
		// The anonymous answer only depends on the URL it is reached by.
		if b, ok := a.rootCache.Load(base); ok {
			r.ResponseHeader().Set("Content-Type", "application/json")
			if r.c.Request().Method == http.MethodHead {
				return r.NoContent(http.StatusOK)
			}
			return r.Blob(http.StatusOK, "application/json", b.([]byte))
		}
	}
	settings := map[string]any{
		"readonly":             a.opts.readonly,
		"explicit_permissions": a.opts.explicitPerms,
		"batch_max_requests":   nil,
	}
	if a.opts.batchMax > 0 {
		settings["batch_max_requests"] = a.opts.batchMax
	}
	for k, v := range a.publicSettings {
		settings[k] = v
	}
	version := a.Settings.String("project_version")
	if version == "" {
		version = a.Version
	}
	body := map[string]any{
		"project_name":     a.Settings.String("project_name"),
		"project_version":  version,
		"http_api_version": HTTPAPIVersion,
		"project_docs":     a.Settings.String("project_docs"),
		"url":              base + "/",
		"settings":         settings,
		"capabilities":     a.shownCapabilities(version, base),
		"config":           nil,
	}
	if a.Settings.Path != "" {
		body["config"] = map[string]any{"path": a.Settings.Path, "hash": a.Settings.Hash,
			"modified": a.Settings.Modified.UTC().Format("2006-01-02T15:04:05")}
	}
	if eos := a.Settings.String("eos"); eos != "" {
		body["eos"] = eos
	}
	if r.Authenticated() {
		user := map[string]any{"id": r.identity.UserID}
		err := r.View(func(tx storage.Tx) error {
			ps, err := r.Principals(tx)
			user["principals"] = ps
			return err
		})
		if err != nil {
			return err
		}
		for _, fn := range a.userInfo {
			fn(r, user)
		}
		body["user"] = user
	}
	body = storage.WithOrder(body, rootOrder)
	if !r.Authenticated() {
		if b, err := EncodeJSON(body); err == nil && a.rootCacheSize.Add(1) <= 64 {
			a.rootCache.Store(base, b)
		}
	}
	return r.JSON(http.StatusOK, body)
}

func ping(ctx context.Context, b storage.Backend) error {
	if p, ok := b.(storage.Pinger); ok {
		return p.Ping(ctx)
	}
	return b.View(ctx, func(storage.Tx) error { return nil })
}

func (a *App) versionHandler(r *Request) error {
	if path := a.Settings.String("version_json_path"); path != "" {
		if data, err := os.ReadFile(path); err == nil {
			var v any
			if json.Unmarshal(data, &v) == nil {
				return r.JSON(http.StatusOK, v)
			}
		}
	}
	commit := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				commit = s.Value
			}
		}
	}
	return r.JSON(http.StatusOK, map[string]any{"name": "nimbus", "version": a.Version, "commit": commit,
		"source": "https://github.com/nimbus-server/nimbus"})
}

func (a *App) contributeHandler(r *Request) error {
	return r.JSON(http.StatusOK, map[string]any{
		"name":        a.Settings.String("project_name"),
		"description": "A generic JSON document store with sharing and synchronisation, speaking the Kinto HTTP API.",
		"repository":  map[string]any{"url": "https://github.com/nimbus-server/nimbus", "license": "Apache-2.0"},
		"participate": map[string]any{"home": "https://github.com/nimbus-server/nimbus"},
		"bugs":        map[string]any{"list": "https://github.com/nimbus-server/nimbus/issues"},
		"keywords":    []string{"go", "kinto", "json", "storage", "sync"},
		"updated":     time.Now().UTC().Format("2006-01-02"),
	})
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
