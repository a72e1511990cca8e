package cli

import (
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/nimbus-server/nimbus/config"
	"github.com/nimbus-server/nimbus/permissions"
	"github.com/nimbus-server/nimbus/resource"
)

// settingsCmd serves "nimbus settings": every setting (core and the
// plugins' declared ones) with the value in effect and where it comes
// from, secrets masked; --doc writes the Markdown reference
// (docs/settings.md) instead.
func settingsCmd(g globals, args []string, stdout io.Writer) error {
	if len(args) == 1 && args[0] == "--doc" {
		settingsDoc(g, stdout)
		return nil
	}
	if len(args) > 0 {
		return fmt.Errorf("usage: nimbus settings [--doc]")
	}
	s, err := config.Load(g.ini, g.explicit, os.Environ(), "")
	if err != nil {
		return err
	}
	if s.Path == "" {
		zeroDefaults(s)
	}
	for _, d := range declared(g) {
		s.SetDefault(d.Name, d.Default)
	}
	where := s.Path
	if where == "" {
		where = "no configuration file: the defaults of \"nimbus init\""
	}
	fmt.Fprintf(stdout, "# settings in effect (%s)\n", where)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SETTING\tVALUE\tFROM")
	show := func(name string) {
		v, src := s.String(name), s.Source(name)
		switch {
		case src == "" && slices.Contains(secretKeys, name):
			v, src = "(kept in the database)", "database"
		case src == "" || v == "":
			v, src = "(none)", "default"
		case src == "file":
			src = "file " + s.Path
		}
		if config.IsSecret(name) && v != "(kept in the database)" {
			v = config.Mask(name, v)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", name, oneLine(config.MaskURL(v)), src)
	}
	seen := map[string]bool{}
	for _, k := range config.Core {
		show(k.Name)
		seen[k.Name] = true
	}
	for _, d := range declared(g) {
		if !seen[d.Name] {
			show(d.Name)
			seen[d.Name] = true
		}
	}
	for _, k := range s.FileKeys() {
		if !seen[k] {
			show(k)
		}
	}
	tw.Flush()
	for _, u := range append(unknownSettings(s, g, nil), valueWarnings(s)...) {
		fmt.Fprintln(stdout, u)
	}
	return nil
}

// oneLine shows a multi-line value on one line.
func oneLine(v string) string { return strings.Join(strings.Fields(v), " ") }

// unknownSettings names the keys of the configuration file that no part
// of this server reads (a typo keeps a setting from applying, silently
// otherwise), each with the closest known name.
func unknownSettings(s *config.Settings, g globals, app *resource.App) []string {
	var names []string
	for _, k := range config.Core {
		names = append(names, k.Name)
	}
	for _, d := range declared(g) {
		names = append(names, d.Name)
	}
	if app != nil {
		names = append(names, app.PermissionSettings()...)
		// Settings plugins declare from the configuration itself
		// (attachment.resources.{bucket}.{name}).
		for _, d := range app.DeclaredSettings() {
			names = append(names, d.Name)
		}
	}
	var out []string
	for _, k := range s.FileKeys() {
		if config.IsCore(k) || slices.Contains(names, k) {
			continue
		}
		msg := fmt.Sprintf("unknown setting %q in %s: nothing reads it", k, s.Path)
		if c := config.Closest(k, names); c != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", c)
		}
		out = append(out, msg)
	}
	return out
}

// principalWarnings tells about the principals of *_principals settings
// that grant nothing by mistake. Principals are case-sensitive and
// separated by spaces, so "system.everyone" or "account:a,account:b"
// match nobody (Kinto takes them as they are, silently), and an operator
// finds out only when every request is refused.
func principalWarnings(s *config.Settings) []string {
	var out []string
	for _, k := range s.Keys() {
		if !strings.HasSuffix(k, "_principals") {
			continue
		}
		for _, p := range s.List(k) {
			switch {
			case strings.HasPrefix(strings.ToLower(p), "system.") && p != permissions.Everyone && p != permissions.Authenticated:
				msg := fmt.Sprintf("setting %s: principal %q matches nobody (the system principals are %s and %s)",
					k, p, permissions.Everyone, permissions.Authenticated)
				out = append(out, msg)
			case strings.Contains(p, ","):
				out = append(out, fmt.Sprintf("setting %s: principal %q holds a comma and matches nobody (principals are separated by spaces)", k, p))
			}
		}
	}
	return out
}

// originWarnings tells about cors_origins entries that match no Origin
// header: browsers send scheme://host[:port], with no path, not even a
// trailing slash, so "https://app.example/" lets no page in.
func originWarnings(s *config.Settings) []string {
	var out []string
	for _, o := range s.List("cors_origins") {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Host == "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
			out = append(out, fmt.Sprintf("setting cors_origins: %q is not an origin (scheme://host[:port], with no path, not even a trailing slash): no page matches it", o))
		}
	}
	return out
}

// valueWarnings are the settings whose values cannot be what was meant.
func valueWarnings(s *config.Settings) []string {
	return append(principalWarnings(s), originWarnings(s)...)
}

// warnUnknown logs the unknown settings of the configuration file, and
// the values that cannot be what was meant (valueWarnings).
func warnUnknown(s *config.Settings, g globals, app *resource.App, logger *slog.Logger) {
	for _, u := range unknownSettings(s, g, app) {
		logger.Warn(u)
	}
	for _, w := range valueWarnings(s) {
		logger.Warn(w)
	}
}
