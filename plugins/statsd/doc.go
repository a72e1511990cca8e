// Package statsd is the statsd plugin (Kinto's kinto.plugins.statsd):
// request, authentication, storage and cache figures sent to a StatsD
// collector over UDP, for sites whose dashboards read StatsD. The names
// are the ones Kinto 26.2 sends (prefix kinto, its endpoint names, batch
// sub-requests counted), so that those dashboards keep working, but never
// with an id in them. Sending never waits: a slow or absent collector
// costs a request nothing.
package statsd
