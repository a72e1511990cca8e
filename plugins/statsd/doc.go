// Package statsd is the statsd plugin (Kinto's kinto.plugins.statsd):
// request, authentication and storage figures sent to a StatsD collector
// over UDP, for sites whose dashboards read StatsD. Sending never waits:
// a slow or absent collector costs a request nothing.
package statsd
