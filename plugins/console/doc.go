// Package console is Nimbus's web console (PLUG-CON): a person manages
// their account, the accounts (as an administrator) and the data of a
// Nimbus server in a browser, at /v1/console/, with nothing else to
// install.
//
// The console is a client of the public HTTP API only: it signs in with a
// cookie session (ACC-X-SES) and sends the CSRF token on every unsafe
// request, or with an OpenID provider's access token; it never keeps a
// password. Its files are embedded in the binary and written on the
// browser's own APIs (ES modules, custom elements, fetch, EventSource):
// one module per screen, one for the API client, one for change
// streams, no third-party code. They are served under a path holding a
// hash of their content, so that they can be cached for a year, with a
// strict Content-Security-Policy (no inline script or style).
package console
