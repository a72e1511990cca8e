// Package openid is Kinto's kinto.plugins.openid for Nimbus (PLUG-OIDC):
// users of an OpenID Connect provider (Google, Auth0, Keycloak, Dex...)
// sign in with the provider's access tokens, and browsers get them
// through /openid/{provider}/login and /token, the dance Kinto Admin and
// kinto-http.py drive.
//
// Each policy of multiauth.policies whose multiauth.policy.<p>.use ends
// with OpenIDConnectPolicy (or is "openid") is one provider. A bearer
// token is checked by the provider's userinfo endpoint (after a JWT check
// against the provider's keys when an audience is set); a good answer is
// kept for verification_ttl_seconds under an HMAC of the token, the TTL
// renewed on use, in this instance's memory. Discovery, keys and userinfo
// go through coreos/go-oidc. The login state is kept in the storage
// backend, so that a login begun on one instance ends on another.
package openid
