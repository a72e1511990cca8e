// Package resource is Nimbus's HTTP engine: it turns declared resources
// into Kinto's plural and object endpoints, and hosts the plugin API.
//
// A Resource is declared with its name, parent, URL segment, id rules,
// permissions (its entries in the inheritance tree) and hooks. The engine
// serves, for every resource alike: listing with filters, sorting, keyset
// pagination and field selection; creation by POST and PUT; replacement;
// PATCH as JSON merge, merge-patch or JSON-Patch; deletion with
// tombstones and cascades; conditional requests; ETags; the permissions
// body; and resource events. Kinto's buckets, collections, groups and
// records are declared in plugins/kinto exactly as a third-party plugin
// declares its own resources.
//
// A request goes through: recovery and logging, security and CORS headers,
// end of service, the version prefix (App.pre, before routing); then
// preflight, read-only mode, content negotiation, the body limit and the
// bodies' memory budget (bodybudget.go), authentication and plugin request
// hooks (App.route, after routing); then the handler. Large answers are
// written within a budget of their own, and a client that stops taking
// them is cut (answerbudget.go). Every resource endpoint runs the same pipeline (pipeline.go)
// in one storage transaction: load, authorize, validate (only after
// authorization, CORE-21), preconditions, execute; it answers once the
// transaction has committed and the after-commit listeners heard of the
// change. Slow work a write needs (a password hash) runs before the
// transaction, in the resource's Prepare hook. Every error, whatever
// produced it, is written by App.handleError in Kinto's JSON format.
//
// Plugins implement Plugin and receive a Registry, through which they add
// resources, plain routes, capabilities, public settings, heartbeat
// checks, authentication methods, principals, event listeners and their
// declared settings (SettingsDeclarer). Nothing is registered through
// globals. Handlers and hooks see a Request, which exposes the caller, the
// decoded path parameters, the body and helpers to answer, typed
// per-request state (StateKey), and the object service (Request.Objects),
// through which a plugin creates, reads and deletes objects of any
// resource with the engine's rules instead of calling the server over
// HTTP.
package resource
