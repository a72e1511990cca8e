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
// preflight, read-only mode, content negotiation, the body limit,
// authentication and plugin request hooks (App.route, after routing); then
// the handler, which authorizes before it validates (CORE-21), and runs
// its reads and writes in one storage transaction. Every error, whatever
// produced it, is written by App.handleError in Kinto's JSON format.
//
// Plugins implement Plugin and receive a Registry, through which they add
// resources, plain routes, capabilities, public settings, heartbeat
// checks, authentication methods, principals, event listeners and their
// own settings. Nothing is registered through globals.
package resource
