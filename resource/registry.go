package resource

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strings"

	"github.com/nimbus-server/nimbus/config"
	"github.com/nimbus-server/nimbus/permissions"
	"github.com/nimbus-server/nimbus/storage"
)

// Plugin is a unit of features compiled into the binary and enabled by the
// includes setting. Register adds everything the plugin brings through the
// Registry; it must not touch globals.
type Plugin interface {
	Name() string
	Register(r *Registry) error
}

// Registry is the plugin API: what a plugin (built-in or third-party) may
// add to the server while it is being built.
type Registry struct {
	app    *App
	plugin string
}

// PluginName is the name of the plugin being registered.
func (r *Registry) PluginName() string { return r.plugin }

// Settings returns the server settings.
func (r *Registry) Settings() *config.Settings { return r.app.Settings }

// DeclareSettings declares settings the plugin reads, as
// SettingsDeclarer does, for plugins whose settings depend on others.
func (r *Registry) DeclareSettings(list ...Setting) error {
	return r.app.declareSettings(r.plugin, list)
}

// Storage returns the storage backend.
func (r *Registry) Storage() storage.Backend { return r.app.Storage }

// Logger returns the server logger.
func (r *Registry) Logger() *slog.Logger { return r.app.Logger.With("plugin", r.plugin) }

// Tree returns the permission inheritance tree, for adding permissions to
// existing resources (e.g. "account:create" on the root).
func (r *Registry) Tree() *permissions.Tree { return r.app.Tree }

// AddResource declares a resource type: its routes, its entries in the
// inheritance tree and its id rules.
func (r *Registry) AddResource(res *Resource) error {
	a := r.app
	if _, dup := a.resources[res.Name]; dup {
		return fmt.Errorf("resource %q is declared twice", res.Name)
	}
	if res.Parent != "" {
		p, ok := a.resources[res.Parent]
		if !ok {
			return fmt.Errorf("resource %q: parent %q is not declared", res.Name, res.Parent)
		}
		res.parent = p
	}
	parentName := res.Parent
	if parentName == "" {
		parentName = permissions.Root
	}
	if err := a.Tree.Add(res.Name, parentName, res.Permissions); err != nil {
		return err
	}
	res.idRegexp = res.IDPattern
	if res.idRegexp == nil {
		res.idRegexp = defaultIDPattern
	}
	if res.Layout != storage.UnderParent {
		if res.parent != nil {
			return fmt.Errorf("resource %q: only top-level resources may have a storage layout of their own", res.Name)
		}
		if f, ok := a.Storage.(storage.LayoutFollower); ok {
			f.SetLayout(res.Name, res.Layout)
		}
	}
	a.resources[res.Name] = res
	a.resourceOrder = append(a.resourceOrder, res)
	return nil
}

// Resource returns a declared resource by name (nil when unknown).
func (r *Registry) Resource(name string) *Resource { return r.app.resources[name] }

// Access says who may call a plain route.
type Access int

// Access levels of plain routes.
const (
	Public Access = iota
	Authenticated
)

// Route is a plain endpoint under /v1.
type Route struct {
	Method string
	// Path under /v1, with echo parameters (":id").
	Path    string
	Access  Access
	Handler func(*Request) error
	// Summary describes the route in the OpenAPI document.
	Summary string
	// Write marks a route that changes data (read-only mode refuses it).
	Write bool
	// Produces lists media types the route answers besides JSON
	// ("text/plain" for metrics): an Accept header naming one of them is
	// not refused with 406.
	Produces []string
	// Consumes lists media types the route takes as a body besides JSON
	// ("application/x-www-form-urlencoded" for an HTML form): a body of
	// another type gets 415, unless the route streams its body
	// (StreamBody), whose handler checks the type itself.
	Consumes []string
	// StreamBody leaves the request body unread: the handler reads it
	// from Request.BodyReader as it comes (file uploads), and sets its own
	// limit and checks its Content-Type (kinto-attachment answers 400,
	// not 415); max_request_body_bytes does not apply, and
	// authentication methods see an empty body.
	StreamBody bool
	// NoBatch keeps the route out of /batch: a sub-request to it gets
	// 400 in its slot. A handler that reaches storage other than through
	// the Request (its own transactions on the backend, files) must set
	// it: inside a batch, the batch's write transaction is open, and a
	// second one would wait for it (the memory and bolt backends have
	// one writer) while the batch waits for the handler. StreamBody
	// routes are kept out too (a sub-request's body is JSON).
	NoBatch bool
	// Alias marks a route that serves its requests by Request.Reroute to
	// another route (the personal bucket's /buckets/default/...): the
	// Accept header is then judged by the route it reroutes to, so that
	// what the real URL answers (a change stream of a list) is answered
	// through the alias too.
	Alias bool
}

// AddRoute registers a plain endpoint.
func (r *Registry) AddRoute(rt Route) error {
	if rt.Handler == nil || rt.Path == "" || rt.Path[0] != '/' {
		return fmt.Errorf("route %s %q: a handler and a path starting with / are required", rt.Method, rt.Path)
	}
	r.app.routes = append(r.app.routes, rt)
	return nil
}

// AddRootHandler serves every path under prefix (outside /v1, such as
// "/attachments/") with h, before the static folder and the redirect to
// /v1: files a plugin serves at URLs of its own. The usual security
// headers are set before h runs; h may override them.
func (r *Registry) AddRootHandler(prefix string, h http.Handler) error {
	if !strings.HasPrefix(prefix, "/") || !strings.HasSuffix(prefix, "/") || prefix == "/" || strings.HasPrefix(prefix, "/v1/") {
		return fmt.Errorf("root handler %q: a path like /name/ outside /v1 is required", prefix)
	}
	if r.app.rootHandlers == nil {
		r.app.rootHandlers = map[string]http.Handler{}
	}
	if _, dup := r.app.rootHandlers[prefix]; dup {
		return fmt.Errorf("root handler %q is declared twice", prefix)
	}
	r.app.rootHandlers[prefix] = h
	return nil
}

// AddStoredList names a storage resource the plugin keeps outside the
// declared resources (stored files, their links): nimbus export and
// import carry its objects as they are, without ACLs.
func (r *Registry) AddStoredList(resource string) {
	r.app.storedLists = append(r.app.storedLists, resource)
}

// StoredLists are the storage resources plugins keep beside the declared
// resources (AddStoredList).
func (a *App) StoredLists() []string { return a.storedLists }

// ServerVersion, as a value of a capability's extra fields, is shown as
// the server's version (project_version): a plugin built into the binary
// reports the binary's version, known only once the server is built.
type ServerVersion struct{}

// ServerURL, as a value of a capability's extra fields, is shown as the
// absolute URL of Path on the server, as the request reached it (the
// root URL's "url" without its /v1): clients such as Kinto Admin join
// it with what the capability stands for, and a relative path would
// point at the client's own origin.
type ServerURL struct{ Path string }

// shownCapabilities returns the capabilities with ServerVersion and
// ServerURL values replaced, base being the request's /v1 URL.
func (a *App) shownCapabilities(version, base string) map[string]map[string]any {
	out := make(map[string]map[string]any, len(a.capabilities))
	for name, c := range a.capabilities {
		shown, copied := c, false
		for k, v := range c {
			var value string
			switch x := v.(type) {
			case ServerVersion:
				value = version
			case ServerURL:
				value = strings.TrimSuffix(base, "/v1") + x.Path
			default:
				continue
			}
			if !copied {
				shown, copied = maps.Clone(c), true
			}
			shown[k] = value
		}
		out[name] = shown
	}
	return out
}

// AddCapability adds an entry to the capabilities of the root URL.
func (r *Registry) AddCapability(name, description, url string, extra map[string]any) error {
	if _, dup := r.app.capabilities[name]; dup {
		return fmt.Errorf("capability %q is declared twice", name)
	}
	c := map[string]any{"description": description, "url": url}
	for k, v := range extra {
		c[k] = v
	}
	r.app.capabilities[name] = c
	return nil
}

// AddPublicSetting adds a key to the settings object of the root URL.
func (r *Registry) AddPublicSetting(key string, value any) { r.app.publicSettings[key] = value }

// AddHeartbeat adds a named check to /__heartbeat__.
func (r *Registry) AddHeartbeat(name string, check func(context.Context) error) {
	r.app.heartbeats[name] = check
}

// AuthResult is an authentication method's verdict on a request.
type AuthResult int

// The verdicts.
const (
	// NotMine: the request carries no credentials this method handles.
	NotMine AuthResult = iota
	// Accepted: the credentials are this method's and valid.
	Accepted
	// Rejected: the credentials are this method's and invalid.
	Rejected
)

// AuthMethod authenticates requests for one entry of multiauth.policies.
type AuthMethod interface {
	// Authenticate returns the user name (without the policy prefix) when
	// the credentials are accepted. The request's body has been read
	// (Request.Body) and its identity is still anonymous.
	Authenticate(req *Request) (name string, result AuthResult)
}

// Challenger is implemented by methods that send a WWW-Authenticate
// challenge with 401 responses.
type Challenger interface{ Challenge() string }

// OpenAPIDescriber is implemented by authentication methods that describe
// their own security definition in /__api__ (the default is Basic).
type OpenAPIDescriber interface{ OpenAPI() map[string]any }

// SecurityDefiner is implemented by authentication methods that add
// security definitions of their own to /__api__ (bearer credentials).
type SecurityDefiner interface{ SecurityDefinitions() map[string]any }

// AuthFactory builds the method for one policy name.
type AuthFactory func(policy string) (AuthMethod, error)

// AddAuthMethod registers an authentication implementation under its type
// name and aliases (the values multiauth.policy.<name>.use accepts, and the
// policy names that select it when .use is absent).
func (r *Registry) AddAuthMethod(aliases []string, factory AuthFactory) {
	for _, a := range aliases {
		r.app.authTypes[a] = factory
	}
}

// Listener receives resource events (RES-21).
type Listener struct {
	// Actions and Resources filter the events; empty means all.
	Actions, Resources []string
	// BeforeCommit runs inside the write transaction; an error fails the
	// request and rolls everything back.
	BeforeCommit func(tx storage.Tx, ev *Event) error
	// AfterCommit runs once the change is durable.
	AfterCommit func(ev *Event)
}

// AddListener subscribes to resource events.
func (r *Registry) AddListener(l Listener) { r.app.listeners = append(r.app.listeners, l) }

// AddUserInfo adds fields to the user object of the root URL.
func (r *Registry) AddUserInfo(fn func(req *Request, user map[string]any)) {
	r.app.userInfo = append(r.app.userInfo, fn)
}

// AddPrincipals lets a plugin add principals to authenticated requests.
func (r *Registry) AddPrincipals(fn func(req *Request, tx storage.Tx) ([]string, error)) {
	r.app.principalHooks = append(r.app.principalHooks, fn)
}

// Operation is what a request hook is asked to allow: the method and path
// (under /v1) of a client request, or of a write the server makes on its
// behalf (Implied), such as the default bucket's implicit creations.
type Operation struct {
	Method, Path string
	Implied      bool
}

// AddRequestHook runs fn on every request after authentication and before
// the handler, and on every write the object service makes on a caller's
// behalf; returning an error answers the request with it.
func (r *Registry) AddRequestHook(fn func(req *Request, op Operation) error) {
	r.app.requestHooks = append(r.app.requestHooks, fn)
}

// AddServeCheck registers a check that must pass before the server
// serves requests: a setting that is harmless for maintenance commands
// (export, import, migrate) but unsafe for a listening server. A failing
// check stops "nimbus serve" with its message.
func (r *Registry) AddServeCheck(fn func() error) { r.app.serveChecks = append(r.app.serveChecks, fn) }

// CheckServe runs the checks of AddServeCheck; the first failure is
// returned.
func (a *App) CheckServe() error {
	for _, fn := range a.serveChecks {
		if err := fn(); err != nil {
			return err
		}
	}
	for _, fn := range a.onServe {
		fn()
	}
	a.onServe = nil
	return nil
}

// OnServe runs fn once the server is about to serve (every serve check
// passed): background work of a plugin (resuming index builds) starts
// there, never while a tool builds the app only to read its settings or
// resources, and never for a server that fails to start.
func (r *Registry) OnServe(fn func()) { r.app.onServe = append(r.app.onServe, fn) }

// OnFlush registers what a plugin must forget when all data is flushed
// (caches kept outside the storage).
func (r *Registry) OnFlush(fn func()) { r.app.flushHooks = append(r.app.flushHooks, fn) }

// BeforeFlush registers fn, run by Flush inside its write transaction
// before the storage is emptied: a plugin that keeps data outside the
// storage reads there what it must remove (the names of its own files),
// and the function fn returns, when not nil, removes it once the flush
// is committed. A plugin removes only what its storage names: never a
// whole folder, which an operator may share with other programs.
func (r *Registry) BeforeFlush(fn func(tx storage.Tx) (after func(), err error)) {
	r.app.beforeFlush = append(r.app.beforeFlush, fn)
}

// Flush empties the storage in one transaction (the flush endpoint), then
// runs what the BeforeFlush hooks returned and the OnFlush hooks.
// A flush sent on its own first waits (2 s at most) for the requests that
// were being served when it arrived, or sent with it (resource/inflight.go);
// one inside a batch does not (the batch itself is such a request).
func (r *Request) Flush() error {
	if r.served != nil {
		r.app.requests.waitEarlier(r.Ctx(), 1, true) // 1: the flush itself
	}
	var afters []func()
	err := r.Update(func(tx storage.Tx) error {
		afters = afters[:0]
		for _, fn := range r.app.beforeFlush {
			after, err := fn(tx)
			if err != nil {
				return err
			}
			if after != nil {
				afters = append(afters, after)
			}
		}
		return tx.DeleteTree("")
	})
	if err != nil {
		return err
	}
	for _, after := range afters {
		after()
	}
	r.app.flushed()
	return nil
}

func (a *App) flushed() {
	for _, fn := range a.flushHooks {
		fn()
	}
}
