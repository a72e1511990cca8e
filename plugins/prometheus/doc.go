// Package prometheus is the prometheus plugin (PLUG-MET): GET
// /v1/__metrics__ in Prometheus's text format, with
//
//   - requests by route template (never by id: a label per record would
//     grow without bound), method and status, and their durations;
//   - storage transactions (read, write) and their durations, and what the
//     backend reports of itself (bolt: waits for its one writer and its
//     commits; PostgreSQL: the connection pool and the read cache);
//   - authentications by policy and outcome (success, failure, and
//     throttled: answers 429 errno 117);
//   - the figures other plugins offer (open change streams, the accounts
//     credential cache);
//   - the Go runtime and the process.
//
// The page is public by default, as in Kinto; metrics_read_principals
// restricts it to principals (for instance system.Authenticated, or an
// account of the monitoring system).
package prometheus
