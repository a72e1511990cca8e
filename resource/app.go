package resource

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/nimbus-server/nimbus/config"
	"github.com/nimbus-server/nimbus/permissions"
	"github.com/nimbus-server/nimbus/storage"
)

// HTTPAPIVersion is the Kinto HTTP API version Nimbus speaks.
const HTTPAPIVersion = "1.23"

// App is one Nimbus server: settings, storage, the declared resources and
// routes, and the echo instance serving them.
type App struct {
	Settings   *config.Settings
	Storage    storage.Backend
	Tree       *permissions.Tree
	Authorizer *permissions.Authorizer
	Logger     *slog.Logger
	// Version is the build version shown in the root URL and __version__.
	Version string
	Echo    *echo.Echo

	resources      map[string]*Resource
	resourceOrder  []*Resource
	routes         []Route
	capabilities   map[string]map[string]any
	publicSettings map[string]any
	heartbeats     map[string]heartbeatFunc
	heartbeat      heartbeatFlight
	authTypes      map[string]AuthFactory
	policies       []policy
	listeners      []Listener
	userInfo       []func(*Request, map[string]any)
	principalHooks []func(*Request, storage.Tx) ([]string, error)
	requestHooks   []func(*Request, Operation) error
	flushHooks     []func()
	beforeFlush    []func(storage.Tx) (func(), error)
	serveChecks    []func() error
	onServe        []func()
	commitHooks    []func([]storage.Change)
	revocations    []func(storage.Change) bool
	shutdownHooks  []func()
	onRequest      []func(RequestStats)
	onTx           []func(TxStats)
	onAuth         []func(AuthStats)
	gauges         []Gauge
	routeSetOnce   sync.Once
	routeSet       map[string]bool // route templates, for bounded labels
	streamer       ListStreamer
	// produces are the media types plain routes answer besides JSON.
	produces map[string][]string
	// consumes are the media types plain routes take besides JSON, by
	// "METHOD /v1/path".
	consumes map[string][]string
	// streaming are the plain routes that read their body themselves, by
	// "METHOD /v1/path".
	streaming map[string]bool
	// aliases are the plain routes that reroute their requests, by
	// "METHOD /v1/path" (Route.Alias).
	aliases map[string]bool
	// storedLists are plugins' own storage lists (AddStoredList).
	storedLists []string
	// rootHandlers serve paths outside /v1, by prefix.
	rootHandlers map[string]http.Handler
	// pluralRoutes are the routes of lists, which may answer streams.
	pluralRoutes map[string]bool
	// preparers are the resources with a Prepare hook, by "METHOD route"
	// of the writes that run it (a batch runs them before its transaction).
	preparers       map[string]*Resource
	preparePrefixes []routePrefix
	plugins         []string
	declared        map[string]DeclaredSetting

	// unavailable keeps "backend unavailable" to a line a second.
	unavailable warnLimiter
	// overBudget does the same for the refusals of the memory budgets.
	overBudget warnLimiter
	// cutAnswers does the same for the answers clients did not take.
	cutAnswers warnLimiter

	tokenKey []byte
	tokenMAC *MAC
	// slashPrefixes are path prefixes of routes that end with "/".
	slashPrefixes []string
	usedTokens    sync.Map
	rootCache     sync.Map
	rootCacheSize atomic.Int32
	// inflight are the paths being written, which reads of the same path
	// wait for (inflight.go).
	inflight inflightWrites
	// bodies bounds the memory of the large request bodies served at
	// once (bodybudget.go); nil when the budget is off.
	bodies *byteBudget
	// answers bounds the memory of the large answers being written
	// (answerbudget.go).
	answers *byteBudget
	// requests are the requests being served, which a flush waits for
	// (inflight.go).
	requests requestEpochs
	built    bool
	opts     options
}

type policy struct {
	name   string
	method AuthMethod
}

// New creates an application on settings and a storage backend. Plugins
// are then added with Register, and Build makes it ready to serve.
func New(settings *config.Settings, backend storage.Backend, logger *slog.Logger) *App {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a := &App{
		Settings:       settings,
		Storage:        backend,
		Tree:           permissions.NewTree(),
		Logger:         logger,
		Version:        "0.1.0",
		unavailable:    warnLimiter{period: time.Second},
		overBudget:     warnLimiter{period: time.Second},
		cutAnswers:     warnLimiter{period: time.Second},
		resources:      map[string]*Resource{},
		capabilities:   map[string]map[string]any{},
		publicSettings: map[string]any{},
		heartbeats:     map[string]heartbeatFunc{},
		authTypes:      map[string]AuthFactory{},
	}
	return a
}

// Register runs a plugin's registration.
func (a *App) Register(p Plugin) error {
	if a.built {
		return fmt.Errorf("plugin %s: the server is already built", p.Name())
	}
	if d, ok := p.(SettingsDeclarer); ok {
		if err := a.declareSettings(p.Name(), d.Settings()); err != nil {
			return fmt.Errorf("plugin %s: %w", p.Name(), err)
		}
	}
	if err := p.Register(&Registry{app: a, plugin: p.Name()}); err != nil {
		return fmt.Errorf("plugin %s: %w", p.Name(), err)
	}
	a.plugins = append(a.plugins, p.Name())
	return nil
}

// Resources returns the declared resources in declaration order.
func (a *App) Resources() []*Resource { return a.resourceOrder }

// Routes returns the plain routes.
func (a *App) Routes() []Route { return a.routes }

// HasPolicy tells whether an authentication policy of that name is active.
func (a *App) HasPolicy(name string) bool {
	for _, p := range a.policies {
		if p.name == name {
			return true
		}
	}
	return false
}

// PolicyNames returns the active authentication policies in order.
func (a *App) PolicyNames() []string {
	var out []string
	for _, p := range a.policies {
		out = append(out, p.name)
	}
	return out
}

// Build resolves authentication policies and permission settings, reads
// the typed settings, and mounts every route. Configuration errors name
// the setting at fault.
func (a *App) Build() error {
	if a.built {
		return nil
	}
	if err := a.buildPolicies(); err != nil {
		return err
	}
	a.Authorizer = &permissions.Authorizer{Tree: a.Tree, Settings: permissions.ParseSettingsGrants(a.Tree, a.grantSettings())}
	if err := a.readOptions(); err != nil {
		return err
	}
	if err := a.checkDeclaredSettings(); err != nil {
		return err
	}
	// Every instance must sign page tokens alike, or a Next-Page link
	// followed through another instance (or after a restart) is refused.
	secret := a.Settings.String("userid_hmac_secret")
	if secret == "" {
		secret = a.Settings.String("page_token_secret")
	}
	if secret != "" {
		sum := sha256.Sum256([]byte("nimbus pagination tokens\x00" + secret))
		a.tokenKey = sum[:]
	} else {
		a.tokenKey = make([]byte, 32)
		rand.Read(a.tokenKey)
	}
	a.tokenMAC = NewMAC(a.tokenKey)
	a.buildEcho()
	for _, rt := range a.Echo.Routes() {
		if p, ok := strings.CutSuffix(rt.Path, "/*"); ok {
			a.slashPrefixes = append(a.slashPrefixes, p+"/")
		} else if strings.HasSuffix(rt.Path, "/") && rt.Path != "/v1/" {
			a.slashPrefixes = append(a.slashPrefixes, rt.Path)
		}
	}
	if err := a.Settings.Err(); err != nil {
		return err
	}
	a.built = true
	return nil
}

func (a *App) buildPolicies() error {
	for _, name := range a.Settings.List("multiauth.policies") {
		use := a.Settings.String("multiauth.policy." + name + ".use")
		key := use
		if key == "" {
			key = name
		}
		factory, ok := a.authTypes[key]
		if !ok {
			for alias, f := range a.authTypes {
				if use != "" && strings.HasSuffix(use, "."+alias) {
					factory, ok = f, true
				}
			}
		}
		if !ok {
			if use == "" {
				return fmt.Errorf("config: multiauth.policies names %q, but no authentication method of that name is enabled (set multiauth.policy.%s.use, or include the plugin providing it)", name, name)
			}
			return fmt.Errorf("config: multiauth.policy.%s.use = %s: unknown authentication method (is its plugin in includes?)", name, use)
		}
		m, err := factory(name)
		if err != nil {
			return fmt.Errorf("config: authentication policy %s: %w", name, err)
		}
		a.policies = append(a.policies, policy{name: name, method: m})
	}
	return nil
}

// PermissionSettings names every <resource>_<permission>_principals
// setting this server's resources and permissions make possible.
func (a *App) PermissionSettings() []string {
	var out []string
	for _, res := range append([]string{permissions.Root}, a.resourceNames()...) {
		for _, p := range append([]string{"read", "write", "create", "delete"}, a.Tree.Names(res)...) {
			out = append(out, res+"_"+p+"_principals")
		}
	}
	return out
}

// grantSettings collects every <resource>_<perm>_principals setting of
// the resources and permissions the tree knows, from any source.
func (a *App) grantSettings() map[string][]string {
	out := map[string][]string{}
	candidates := map[string]bool{}
	for _, k := range a.PermissionSettings() {
		candidates[k] = true
	}
	for _, k := range a.Settings.Keys() {
		if strings.HasSuffix(k, "_principals") {
			candidates[k] = true
		}
	}
	for k := range candidates {
		if v := a.Settings.List(k); len(v) > 0 {
			out[k] = v
		}
	}
	return out
}

func (a *App) resourceNames() []string {
	names := make([]string, 0, len(a.resourceOrder))
	for _, r := range a.resourceOrder {
		names = append(names, r.Name)
	}
	sort.Strings(names)
	return names
}

// ServeHTTP serves a request.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.Echo.ServeHTTP(w, r) }
