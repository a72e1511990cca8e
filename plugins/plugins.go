package plugins

import (
	"fmt"
	"log/slog"

	"github.com/nimbus-server/nimbus/config"
	"github.com/nimbus-server/nimbus/storage"

	"github.com/nimbus-server/nimbus/plugins/accounts"
	"github.com/nimbus-server/nimbus/plugins/admin"
	"github.com/nimbus-server/nimbus/plugins/attachments"
	"github.com/nimbus-server/nimbus/plugins/basicauth"
	"github.com/nimbus-server/nimbus/plugins/changes"
	"github.com/nimbus-server/nimbus/plugins/console"
	"github.com/nimbus-server/nimbus/plugins/counters"
	"github.com/nimbus-server/nimbus/plugins/defaultbucket"
	"github.com/nimbus-server/nimbus/plugins/flush"
	"github.com/nimbus-server/nimbus/plugins/history"
	"github.com/nimbus-server/nimbus/plugins/kinto"
	"github.com/nimbus-server/nimbus/plugins/openid"
	"github.com/nimbus-server/nimbus/plugins/permissionsendpoint"
	"github.com/nimbus-server/nimbus/plugins/prometheus"
	"github.com/nimbus-server/nimbus/plugins/statsd"
	"github.com/nimbus-server/nimbus/plugins/userdata"
	"github.com/nimbus-server/nimbus/resource"
)

// Catalog maps include names to plugin constructors. Each call returns
// fresh plugin values, so servers built in one process share nothing.
func Catalog() map[string]func() resource.Plugin {
	return map[string]func() resource.Plugin{
		"accounts":       func() resource.Plugin { return &accounts.Plugin{} },
		"default_bucket": func() resource.Plugin { return &defaultbucket.Plugin{} },
		"history":        func() resource.Plugin { return &history.Plugin{} },
		"flush":          func() resource.Plugin { return flush.Plugin{} },
		"admin":          func() resource.Plugin { return &admin.Plugin{} },
		"changes":        func() resource.Plugin { return &changes.Plugin{} },
		"prometheus":     func() resource.Plugin { return &prometheus.Plugin{} },
		"counters":       func() resource.Plugin { return &counters.Plugin{} },
		"statsd":         func() resource.Plugin { return &statsd.Plugin{} },
		"attachments":    func() resource.Plugin { return &attachments.Plugin{} },
		"openid":         func() resource.Plugin { return &openid.Plugin{} },
		"console":        func() resource.Plugin { return &console.Plugin{} },
	}
}

// aliases maps Kinto's dotted plugin names to Nimbus names.
var aliases = map[string]string{
	"kinto.plugins.accounts":       "accounts",
	"kinto.plugins.default_bucket": "default_bucket",
	"kinto.plugins.history":        "history",
	"kinto.plugins.admin":          "admin",
	"kinto.plugins.flush":          "flush",
	"kinto.plugins.counters":       "counters",
	"kinto.plugins.quotas":         "quotas",
	"kinto.plugins.openid":         "openid",
	"kinto.plugins.prometheus":     "prometheus",
	"kinto.plugins.statsd":         "statsd",
	"kinto_attachment":             "attachments",
}

// Core returns the plugins every server runs: Kinto's resources and the
// basicauth method (active only when multiauth.policies names it).
func Core() []resource.Plugin {
	return []resource.Plugin{kinto.Plugin{}, basicauth.Plugin{}}
}

// Resolve turns the includes list into plugins, failing on unknown names.
// extra adds plugins that are not built in (third-party or examples).
func Resolve(includes []string, extra map[string]func() resource.Plugin) ([]resource.Plugin, error) {
	cat := Catalog()
	for k, v := range extra {
		cat[k] = v
	}
	var out []resource.Plugin
	seen := map[string]bool{}
	for _, name := range includes {
		if a, ok := aliases[name]; ok {
			name = a
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		mk, ok := cat[name]
		if !ok && name == "quotas" {
			return nil, fmt.Errorf("config: includes names %q: Kinto removed the quotas plugin in 20.0 and Nimbus does not offer it; remove it from includes", name)
		}
		if !ok {
			return nil, fmt.Errorf("config: includes names %q, which is not a known plugin", name)
		}
		out = append(out, mk())
	}
	return out, nil
}

// NewApp builds a ready-to-serve application: the core plugins, then the
// plugins named by includes, in order.
func NewApp(settings *config.Settings, backend storage.Backend, logger *slog.Logger, extra map[string]func() resource.Plugin) (*resource.App, error) {
	app := resource.New(settings, backend, logger)
	list, err := Resolve(settings.List("includes"), extra)
	if err != nil {
		return nil, err
	}
	plugins := append(Core(), userdata.Plugin{})
	if settings.Bool("experimental_permissions_endpoint") || contains(settings.List("includes"), "admin") {
		plugins = append(plugins, permissionsendpoint.Plugin{})
	}
	for _, p := range append(plugins, list...) {
		if err := app.Register(p); err != nil {
			return nil, err
		}
	}
	if err := app.Build(); err != nil {
		return nil, err
	}
	return app, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s || aliases[x] == s {
			return true
		}
	}
	return false
}
