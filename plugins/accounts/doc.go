// Package accounts is the accounts plugin: users sign up with an id and a
// password, log in with Basic auth as account:<id>, change their password,
// and administrators manage them over HTTP, as Kinto's accounts plugin
// does. With account_validation on, sign-up sends an activation e-mail and
// forgotten passwords are reset by e-mail.
//
// Accounts are an ordinary resource of the engine (/accounts) with hooks:
// the password is hashed before it is stored (bcrypt cost 12 by default,
// argon2id as an option; both verified whatever the setting), each
// account owns itself, and non-administrators only ever see their own
// account.
//
// Verifying a password costs tens of milliseconds on purpose. Credentials
// that passed are remembered for account_cache_ttl_seconds under an HMAC
// of (id, password), so that an authenticated request costs about as much
// as an anonymous one; any change or deletion of the account drops them at
// once. Unknown accounts are checked against a fake hash so that timing
// does not reveal which accounts exist.
package accounts
