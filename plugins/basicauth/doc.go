// Package basicauth provides Kinto's "basicauth" authentication method:
// any username and password are accepted, and the user id is the HMAC of
// "username:password" keyed with userid_hmac_secret. It suits tests and
// personal servers; the accounts plugin is the production method.
package basicauth
