package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nimbus-server/nimbus/config"
	"github.com/nimbus-server/nimbus/plugins"
	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/bolt"
	"github.com/nimbus-server/nimbus/storage/memory"
	"github.com/nimbus-server/nimbus/storage/postgres"
)

func backendName(s *config.Settings) string {
	switch b := s.String("storage_backend"); b {
	case "kinto.core.storage.memory":
		return "memory"
	case "kinto.core.storage.postgresql":
		return "postgresql"
	default:
		return b
	}
}

func storageURL(s *config.Settings) string {
	if u := s.String("storage_url"); u != "" {
		return u
	}
	if backendName(s) == "bolt" {
		return "data/nimbus.db"
	}
	return ""
}

func openBackend(s *config.Settings) (storage.Backend, error) {
	switch backendName(s) {
	case "bolt":
		return bolt.Open(storageURL(s), bolt.Options{})
	case "memory":
		return memory.New(), nil
	case "postgresql":
		url := s.String("storage_url")
		if url == "" {
			return nil, fmt.Errorf("config: storage_backend = postgresql needs storage_url (postgresql://user:pass@host:5432/db)")
		}
		size := s.IntOr("storage_pool_size", 25) + s.IntOr("storage_max_overflow", 5)
		entries := s.IntOr("storage_cache_entries", 50000)
		cacheBytes := s.IntOr("storage_cache_bytes", 64<<20)
		if cacheBytes < 1<<20 {
			return nil, fmt.Errorf("config: setting storage_cache_bytes: %d is below 1048576 (1 MiB); storage_cache_entries = 0 turns the cache off", cacheBytes)
		}
		if entries <= 0 {
			entries = -1 // off
		}
		indexed := s.IntOr("storage_max_indexed_fields", postgres.DefaultMaxIndexedFields)
		if indexed < 0 {
			return nil, fmt.Errorf("config: setting storage_max_indexed_fields: %d is negative (0: no declared field is indexed)", indexed)
		}
		if indexed == 0 {
			indexed = -1 // none
		}
		b, err := postgres.Open(context.Background(), url, postgres.Options{MaxConns: int32(size),
			PoolTimeout:  time.Duration(s.IntOr("storage_pool_timeout", 30)) * time.Second,
			CacheEntries: entries, CacheBytes: cacheBytes, MaxIndexedFields: indexed})
		if errors.Is(err, postgres.ErrSchemaMissing) {
			return nil, fmt.Errorf("%v (nimbus --ini <file> migrate)", err)
		}
		if err != nil {
			// The driver's message may quote the URL: never its password.
			return nil, masked(err)
		}
		return b, nil
	default:
		return nil, fmt.Errorf("config: setting storage_backend: %q is not one of bolt, postgresql, memory", s.String("storage_backend"))
	}
}

// notReached is the masked error of a PostgreSQL server that was not
// reached (postgres.Unreachable): a start may wait for it.
type notReached struct{ error }

// masked is err with any password of its text masked, still telling a
// server not reached.
func masked(err error) error {
	m := errors.New(config.MaskURL(err.Error()))
	if postgres.Unreachable(err) {
		return notReached{m}
	}
	return m
}

// waitForDatabase runs open until it succeeds, fails for another reason
// than a PostgreSQL server not reached, storage_connect_wait_seconds have
// passed, or ctx ends (a signal). Containers started together (the
// database and Nimbus, or Nimbus's migrate job) would otherwise make a
// start fail while the database is still starting up. say tells what is
// waited for, every five seconds.
func waitForDatabase[T any](ctx context.Context, s *config.Settings, say func(string), open func() (T, error)) (T, error) {
	wait := time.Duration(s.IntOr("storage_connect_wait_seconds", 30)) * time.Second
	deadline := time.Now().Add(wait)
	var told time.Time
	for {
		v, err := open()
		var nr notReached
		if err == nil || !errors.As(err, &nr) || !time.Now().Before(deadline) {
			return v, err
		}
		if time.Since(told) >= 5*time.Second {
			told = time.Now()
			say(fmt.Sprintf("PostgreSQL at %s cannot be reached yet; trying again each second for up to %s (storage_connect_wait_seconds): %v",
				config.MaskURL(s.String("storage_url")), time.Until(deadline).Round(time.Second), err))
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(time.Second):
		}
	}
}

// zeroDefaults gives a server started without a configuration file the
// settings "nimbus init" would write (SET-01); environment variables still
// override each of them.
func zeroDefaults(s *config.Settings) {
	var includes []string
	cat := plugins.Catalog()
	for _, name := range []string{"default_bucket", "admin", "accounts", "changes", "console"} {
		if _, ok := cat[name]; ok {
			includes = append(includes, name)
		}
	}
	for k, v := range map[string]string{
		"includes":                  strings.Join(includes, " "),
		"multiauth.policies":        "account",
		"account_create_principals": "system.Everyone",
		"account_write_principals":  "account:admin",
		"account_read_principals":   "account:admin",
		"bucket_create_principals":  "system.Authenticated",
		"account_admin_reserved":    "true",
	} {
		s.SetDefault(k, v)
	}
}

// zeroConfig applies zeroDefaults and says so; the secrets are resolved
// once the backend is open (resolveSecrets keeps them in the database).
func zeroConfig(s *config.Settings, logger *slog.Logger) {
	zeroDefaults(s)
	logger.Info("no configuration file found: running on the defaults of \"nimbus init\" (bolt storage, accounts with open sign-up, account:admin as administrator)")
}

func initConfig(g globals, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	backend := fs.String("backend", "bolt", "storage backend: bolt, postgresql or memory")
	cache := fs.String("cache-backend", "memory", "cache backend")
	host := fs.String("host", "127.0.0.1", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	tmp := config.New(nil)
	zeroDefaults(tmp)
	includes := tmp.List("includes")
	cat := plugins.Catalog()
	policy := "basicauth"
	if _, ok := cat["accounts"]; ok {
		policy = "account"
	}
	if _, err := os.Stat(g.ini); err == nil {
		return fmt.Errorf("%s already exists; not overwriting it", g.ini)
	}
	if !g.explicit && hasGoFiles(filepath.Dir(g.ini)) {
		return fmt.Errorf("%s is a folder of Go source files (this is Nimbus's source tree): write the file elsewhere "+
			"with --ini FILE, and start the server with the same --ini", filepath.Dir(g.ini))
	}
	url := "data/nimbus.db"
	switch *backend {
	case "bolt":
	case "memory":
		url = ""
	case "postgresql":
		url = "postgresql://postgres:postgres@localhost:5432/nimbus"
	default:
		return fmt.Errorf("--backend must be bolt, postgresql or memory")
	}
	secrets, err := initSecrets(*backend, url)
	if err != nil {
		return err
	}
	text := fmt.Sprintf(`# Nimbus configuration, written by "nimbus init".
# Every key can be overridden by an environment variable NIMBUS_<KEY>.
[nimbus]
bind_host = %s
bind_port = 8888

# Storage: bolt (one file), postgresql, or memory (tests only).
storage_backend = %s
storage_url = %s
cache_backend = %s

# Plugins and authentication.
includes = %s
multiauth.policies = %s

# Secrets: keep them private and stable (user ids and personal buckets
# derive from them). When a server already ran on this data without a
# configuration file, these are the ones it kept.
userid_hmac_secret = %s
default_bucket_hmac_secret = %s

# Who may do what.
account_create_principals = system.Everyone
account_write_principals = account:admin
account_read_principals = account:admin
bucket_create_principals = system.Authenticated
# Only "nimbus create-user" or the first-run link logged at start creates
# the administrator ids named above; sign-up cannot take them.
account_admin_reserved = true
`, *host, *backend, url, *cache, strings.Join(includes, " "), policy, secrets["userid_hmac_secret"], secrets["default_bucket_hmac_secret"])
	text += initSection(g, includes)
	if dir := filepath.Dir(g.ini); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return err
		}
	}
	if err := os.WriteFile(g.ini, []byte(text), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", g.ini)
	return nil
}

// initSecrets returns the secrets "nimbus init" writes: those a server
// kept in the bolt file it will use (a zero-configuration start made
// before), else new ones. A running server holds the file: it must stop
// first, or init would write secrets that give every user other ids.
func initSecrets(backend, url string) (map[string]string, error) {
	out := map[string]string{}
	if backend == "bolt" {
		if _, err := os.Stat(url); err == nil {
			b, err := bolt.Open(url, bolt.Options{LockTimeout: 200 * time.Millisecond})
			if errors.Is(err, bolt.ErrLocked) {
				return nil, fmt.Errorf("stop the server first: init reuses the secrets kept in %s", url)
			}
			if err != nil {
				return nil, err
			}
			kept, err := keptSecrets(context.Background(), b)
			b.Close()
			if err != nil {
				return nil, err
			}
			out = kept
		}
		tmp := config.New(map[string]string{"storage_backend": "bolt", "storage_url": url})
		for k, v := range legacySecrets(tmp) {
			if out[k] == "" {
				out[k] = v
			}
		}
	}
	for _, key := range secretKeys {
		if out[key] == "" {
			out[key] = randomHex(32)
		}
	}
	return out, nil
}

// hasGoFiles tells whether dir holds Go source files.
func hasGoFiles(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	return len(m) > 0
}

// declared returns the settings the plugins of this binary declare, in
// catalog order by plugin name, without registering any plugin.
func declared(g globals) []resource.DeclaredSetting {
	cat := plugins.Catalog()
	for k, v := range g.extra {
		cat[k] = v
	}
	names := make([]string, 0, len(cat))
	for name := range cat {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []resource.DeclaredSetting
	for _, name := range names {
		if d, ok := cat[name]().(resource.SettingsDeclarer); ok {
			for _, st := range d.Settings() {
				out = append(out, resource.DeclaredSetting{Setting: st, Plugin: name})
			}
		}
	}
	return out
}

// settingsDoc writes every setting, core ones then the plugins', as a
// Markdown document (docs/settings.md is its output).
func settingsDoc(g globals, w io.Writer) {
	fmt.Fprintln(w, "# Settings")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Written by `nimbus settings --doc`; `nimbus settings` shows the values in effect and where each")
	fmt.Fprintln(w, "comes from. Every key can also be set with `NIMBUS_<KEY>` (upper case, dots and dashes as")
	fmt.Fprintln(w, "underscores), which wins over the file. A value of the wrong type stops the server at start-up")
	fmt.Fprintln(w, "with a message naming the setting; a key nothing reads is named in a warning.")
	fmt.Fprintln(w, "\n## core\n\n| setting | default | what it does |\n|---|---|---|")
	for _, k := range config.Core {
		def := "(none)"
		if k.Default != "" {
			def = "`" + k.Default + "`"
		}
		fmt.Fprintf(w, "| `%s` | %s | %s |\n", k.Name, def, strings.ReplaceAll(k.Description, "|", `\|`))
	}
	fmt.Fprintln(w, "\nAlso: `<resource>_<permission>_principals` (who holds a permission on every object of a kind),")
	fmt.Fprintln(w, "`multiauth.policy.<name>.use` and its options, `<resource>_cache_expires_seconds`,")
	fmt.Fprintln(w, "`<plural|object>_<resource>_<method>_enabled`, `event_listeners.<name>.*`.")
	fmt.Fprintln(w, "\nPrincipals in `*_principals` settings are separated by spaces and case-sensitive, as in Kinto.")
	fmt.Fprintln(w, "At start, and in `nimbus settings`, Nimbus warns of a principal that matches nobody: a")
	fmt.Fprintln(w, "`system.` principal other than `system.Everyone` and `system.Authenticated` (such as")
	fmt.Fprintln(w, "`system.everyone`), or one holding a comma (`account:a,account:b`). A `bind_port` that is not")
	fmt.Fprintln(w, "a port number (0 to 65535) stops the start with its name. A `cors_origins` entry with a path")
	fmt.Fprintln(w, "(`https://app.example/`: browsers send no trailing slash) is warned about too.")
	plugin := ""
	for _, d := range declared(g) {
		if d.Plugin != plugin {
			plugin = d.Plugin
			fmt.Fprintf(w, "\n## %s\n\n| setting | type | default | what it does |\n|---|---|---|---|\n", plugin)
		}
		typ := d.Type.String()
		if len(d.OneOf) > 0 {
			typ = strings.Join(d.OneOf, " / ")
		}
		def := "(none)"
		if d.Default != "" {
			def = "`" + strings.ReplaceAll(d.Default, "|", `\|`) + "`"
		}
		fmt.Fprintf(w, "| `%s` | %s | %s | %s |\n", d.Name, typ, def, strings.ReplaceAll(d.Description, "|", `\|`))
	}
}

// initSection is the commented block "nimbus init" writes for the
// settings of the plugins it includes.
func initSection(g globals, includes []string) string {
	var b strings.Builder
	for _, d := range declared(g) {
		if !slices.Contains(includes, d.Plugin) {
			continue
		}
		if b.Len() == 0 {
			b.WriteString("\n# Plugin settings, with their defaults (nimbus settings lists them all).\n")
		}
		fmt.Fprintf(&b, "# %s (%s): %s\n# %s = %s\n", d.Name, d.Type, d.Description, d.Name, d.Default)
	}
	return b.String()
}
