// Package pgtest starts a throwaway PostgreSQL server for tests, from the
// Debian binaries (initdb, pg_ctl) in a temporary folder on a free
// 127.0.0.1 port, and hands out fresh databases with the schema. Proxy
// puts a TCP forwarder in front of it: one that opens late (a server
// started after its clients) or one that acts as a pooler.
package pgtest
