package prometheus

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// Plugin is the prometheus plugin. Its zero value is ready to register;
// each value has its own registry (nothing global).
type Plugin struct {
	reg     *prometheus.Registry
	readers []string
}

var (
	_ resource.Plugin           = (*Plugin)(nil)
	_ resource.SettingsDeclarer = (*Plugin)(nil)
)

// Name implements resource.Plugin.
func (*Plugin) Name() string { return "prometheus" }

// Settings implements resource.SettingsDeclarer.
func (*Plugin) Settings() []resource.Setting {
	return []resource.Setting{{Name: "metrics_read_principals", Type: resource.List,
		Description: "principals allowed to read /__metrics__ (none: anyone, as in Kinto)"}}
}

// durations are the histogram buckets of request and transaction times,
// from 0.1 ms to 2.5 s.
var durations = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

// Register implements resource.Plugin.
func (p *Plugin) Register(r *resource.Registry) error {
	p.readers = r.Settings().List("metrics_read_principals")
	p.reg = prometheus.NewRegistry()
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nimbus_requests_total",
		Help: "Answered requests by route template, method and status."}, []string{"route", "method", "status"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "nimbus_request_duration_seconds",
		Help: "Time to answer requests, by route template and method.", Buckets: durations}, []string{"route", "method"})
	txs := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "nimbus_storage_transaction_duration_seconds",
		Help: "Storage transactions opened by requests, by kind.", Buckets: durations}, []string{"kind"})
	txFailures := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nimbus_storage_transaction_failures_total",
		Help: "Storage transactions that failed, by kind."}, []string{"kind"})
	auths := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nimbus_authentications_total",
		Help: "Requests with credentials, by authentication policy and outcome."}, []string{"policy", "outcome"})
	for _, c := range []prometheus.Collector{requests, latency, txs, txFailures, auths,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&offered{gauges: r.Gauges}, &backendStats{backend: r.Storage()}} {
		if err := p.reg.Register(c); err != nil {
			return err
		}
	}
	r.OnRequest(func(st resource.RequestStats) {
		if st.Sub { // a batch counts as one request here
			return
		}
		route := st.Route
		if route == "" {
			route = "unknown"
		}
		requests.WithLabelValues(route, st.Method, strconv.Itoa(st.Status)).Inc()
		latency.WithLabelValues(route, st.Method).Observe(st.Duration.Seconds())
		if st.Status == http.StatusTooManyRequests && st.Errno == resource.ErrnoTooManyRequests {
			auths.WithLabelValues("", "throttled").Inc()
		}
	})
	r.OnTransaction(func(st resource.TxStats) {
		kind := "read"
		if st.Write {
			kind = "write"
		}
		txs.WithLabelValues(kind).Observe(st.Duration.Seconds())
		if st.Failed {
			txFailures.WithLabelValues(kind).Inc()
		}
	})
	r.OnAuthentication(func(st resource.AuthStats) { auths.WithLabelValues(st.Policy, st.Outcome).Inc() })
	// The capability's fields are Kinto's.
	if err := r.AddCapability("prometheus", "Prometheus metrics.",
		"https://github.com/nimbus-server/nimbus/blob/main/README.md#running-nimbus-in-production",
		map[string]any{"prefix": "nimbus", "disabled_metrics": []string{}}); err != nil {
		return err
	}
	handler := promhttp.HandlerFor(p.reg, promhttp.HandlerOpts{})
	return r.AddRoute(resource.Route{Method: http.MethodGet, Path: "/__metrics__",
		Summary:  "Metrics in Prometheus's text format.",
		Produces: []string{"text/plain", "application/openmetrics-text"},
		Handler: func(req *resource.Request) error {
			if err := req.RequireOneOf(p.readers); err != nil {
				return err
			}
			handler.ServeHTTP(req.ResponseWriter(), req.Request())
			return nil
		}})
}

// offered collects the gauges other plugins offer (resource.Gauge),
// read at each collection.
type offered struct{ gauges func() []resource.Gauge }

func (o *offered) Describe(chan<- *prometheus.Desc) {} // unchecked: plugins add gauges as they register

func (o *offered) Collect(ch chan<- prometheus.Metric) {
	for _, g := range o.gauges() {
		kind := prometheus.GaugeValue
		if g.Counter {
			kind = prometheus.CounterValue
		}
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(g.Name, g.Help, nil, nil), kind, g.Value())
	}
}

// backendStats collects what the storage backend reports of itself
// (storage.StatsReporter), as nimbus_storage_<name>.
type backendStats struct{ backend storage.Backend }

func (b *backendStats) Describe(chan<- *prometheus.Desc) {}

func (b *backendStats) Collect(ch chan<- prometheus.Metric) {
	sr, ok := b.backend.(storage.StatsReporter)
	if !ok {
		return
	}
	for _, s := range sr.Stats() {
		kind := prometheus.GaugeValue
		if s.Counter {
			kind = prometheus.CounterValue
		}
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("nimbus_storage_"+s.Name, s.Help, nil, nil), kind, s.Value)
	}
}
