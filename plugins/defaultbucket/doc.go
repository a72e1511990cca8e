// Package defaultbucket is the default_bucket plugin: /buckets/default is
// an alias of the caller's personal bucket, created on first use together
// with the collection a request names (PLUG-DB).
//
// The personal bucket id is Kinto's: the first 32 hex digits of
// HMAC-SHA256(default_bucket_hmac_secret, user id), formatted as a UUID,
// so a site moving from Kinto keeps its users' buckets. Requests under the
// alias are served by the real URL's route (resource.Request.Reroute), so
// they get exactly the behaviour, permissions and events of the real URL;
// the implied creations go through the object service as the caller, so
// they are authorized and scoped as if the caller had sent them.
package defaultbucket
