package statsd

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nimbus-server/nimbus/config"
	"github.com/nimbus-server/nimbus/resource"
)

// Plugin sends metrics to StatsD (PLUG-STATSD).
type Plugin struct {
	prefix string
	conn   net.Conn
	queue  chan string
	stop   chan struct{}
	once   sync.Once
	// gauges reads the figures plugins offer; counters holds the two
	// cache counters found among them, once the first request was
	// answered (every plugin has registered by then).
	gauges   func() []resource.Gauge
	found    sync.Once
	counters atomic.Pointer[cacheCounters]
}

// Name implements resource.Plugin.
func (*Plugin) Name() string { return "statsd" }

// Settings implements resource.SettingsDeclarer.
func (*Plugin) Settings() []resource.Setting {
	return []resource.Setting{
		{Name: "statsd_url", Type: resource.String, Description: "collector address, udp://host:port (none: nothing is sent)"},
		{Name: "statsd_prefix", Type: resource.String, Description: "prefix of every metric name (none: project_name when it is set, else kinto, as Kinto's dashboards expect)"},
	}
}

var _ resource.SettingsDeclarer = (*Plugin)(nil)

// queueLen bounds the metric lines waiting for the sender: beyond it
// they are dropped, never waited for.
const queueLen = 4096

// Register implements resource.Plugin.
func (p *Plugin) Register(r *resource.Registry) error {
	s := r.Settings()
	raw := s.String("statsd_url")
	if raw == "" {
		r.Logger().Warn("the statsd plugin is included but statsd_url is not set: no metric is sent")
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "udp" || u.Hostname() == "" || u.Port() == "" {
		return fmt.Errorf("config: setting statsd_url: %q is not udp://host:port", raw)
	}
	if p.conn, err = net.Dial("udp", u.Host); err != nil {
		return fmt.Errorf("config: setting statsd_url: %v", err)
	}
	p.prefix = clean(prefix(s))
	p.gauges = r.Gauges
	p.queue, p.stop = make(chan string, queueLen), make(chan struct{})
	go p.send()
	r.OnShutdown(func() { p.once.Do(func() { close(p.stop) }) })
	r.OnRequest(p.request)
	r.OnTransaction(func(st resource.TxStats) {
		kind := "read"
		if st.Write {
			kind = "write"
		}
		p.emit("backend.storage.seconds.method."+kind, millis(st.Duration))
	})
	r.OnAuthentication(func(st resource.AuthStats) {
		if st.Policy != "" {
			p.emit("authentication", "type."+clean(st.Policy)+"|s")
		}
	})
	return nil
}

// request sends what one answered request (or batch sub-request, as
// Kinto does) says, under Kinto's names: the method in lower case, the
// endpoint as Kinto's service name, and request_size the size of the
// response body, as Kinto 26.2 measures it.
func (p *Plugin) request(st resource.RequestStats) {
	p.found.Do(p.findCounters)
	route := endpoint(st.Route, st.Status)
	method := strings.ToLower(clean(st.Method))
	if st.UserID != "" {
		p.emit("users", "auth."+clean(st.Policy)+".userid."+clean(strings.TrimPrefix(st.UserID, st.Policy+":"))+"|s")
	}
	p.emit("request_summary", fmt.Sprintf("method.%s.endpoint.%s.status.%d|s", method, route, st.Status))
	p.emit("request_duration_seconds.method."+method+".endpoint."+route, millis(st.Duration))
	p.emit("request_size", fmt.Sprintf("%d|g", st.ResponseBytes))
}

// millis is a timer's value: milliseconds with six decimals, as Kinto's
// StatsD client writes them (most requests here take under a
// millisecond, which whole milliseconds would report as 0).
func millis(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 6, 64) + "|ms"
}

// prefix is statsd_prefix, else project_name when the configuration or
// the environment sets it, else "kinto": the names a site's Kinto
// dashboards already read.
func prefix(s *config.Settings) string {
	if v := s.String("statsd_prefix"); v != "" {
		return v
	}
	if v := s.String("project_name"); v != "" {
		if src := s.Source("project_name"); src == "file" || src == "environment" {
			return v
		}
	}
	return "kinto"
}

// emit queues one metric line, or drops it when the queue is full.
func (p *Plugin) emit(name, value string) {
	select {
	case p.queue <- p.prefix + "." + name + ":" + value:
	default:
	}
}

// maxPacket keeps a datagram under a common MTU.
const maxPacket = 1400

// send writes the queued lines, several to a datagram; a failed write
// (no collector listening) is ignored, as StatsD clients do.
func (p *Plugin) send() {
	defer p.conn.Close()
	var buf strings.Builder
	flush := func() {
		if buf.Len() > 0 {
			p.conn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			p.conn.Write([]byte(buf.String()))
			buf.Reset()
		}
	}
	add := func(line string) {
		if buf.Len()+len(line)+1 > maxPacket {
			flush()
		}
		if buf.Len() > 0 {
			buf.WriteByte('\n')
		}
		buf.WriteString(line)
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last cacheCounts
	for {
		select {
		case <-p.stop:
			flush()
			return
		case line := <-p.queue:
			add(line)
		case <-tick.C:
			if c := p.counters.Load(); c != nil {
				// Kinto counts each lookup; the counters' growth since the
				// last tick says the same.
				now := c.read()
				if n := now.hits - last.hits; n > 0 {
					add(p.prefix + ".cache_hits:" + strconv.FormatInt(n, 10) + "|c")
				}
				if n := now.misses - last.misses; n > 0 {
					add(p.prefix + ".cache_misses:" + strconv.FormatInt(n, 10) + "|c")
				}
				last = now
			}
			flush()
		}
	}
}

// endpoint names a route template in metrics: Kinto's service name for
// the endpoints Kinto has ("record-object", "bucket-plural", "hello"),
// "unknown" for a URL no route matched (404) and "unnamed" for any other
// answer without a route, as Kinto; the endpoints only Nimbus has get
// their template made a name ("/v1/account/tokens/:key" ->
// "account.tokens.key"). Never a raw id: the engine gives templates.
func endpoint(route string, status int) string {
	if route == "" {
		if status == 404 {
			return "unknown"
		}
		return "unnamed"
	}
	if name, ok := kintoServices[route]; ok {
		return name
	}
	route = strings.TrimPrefix(strings.TrimPrefix(route, "/v1"), "/")
	return clean(strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(route, ":", ""), "/", "."), "*", "all"))
}

// kintoServices maps route templates to the names Kinto 26.2 (and
// kinto-attachment) give those endpoints in their metrics.
var kintoServices = map[string]string{
	"/v1/":                               "hello",
	"/v1/__heartbeat__":                  "heartbeat",
	"/v1/__lbheartbeat__":                "lbheartbeat",
	"/v1/__version__":                    "version",
	"/v1/__api__":                        "openapi",
	"/v1/__flush__":                      "flush",
	"/v1/__user_data__/:principal":       "user-data",
	"/v1/contribute.json":                "contribute.json",
	"/v1/batch":                          "batch",
	"/v1/permissions":                    "permissions-plural",
	"/v1/accounts":                       "account-plural",
	"/v1/accounts/:account_id":           "account-object",
	"/v1/buckets":                        "bucket-plural",
	"/v1/buckets/:bucket_id":             "bucket-object",
	"/v1/buckets/:bucket_id/collections": "collection-plural",
	"/v1/buckets/:bucket_id/collections/:collection_id":                    "collection-object",
	"/v1/buckets/:bucket_id/groups":                                        "group-plural",
	"/v1/buckets/:bucket_id/groups/:group_id":                              "group-object",
	"/v1/buckets/:bucket_id/collections/:collection_id/records":            "record-plural",
	"/v1/buckets/:bucket_id/collections/:collection_id/records/:record_id": "record-object",
	"/v1/buckets/:bucket_id/history":                                       "history-plural",
	"/v1/buckets/:bucket_id/snapshot/collections/:spec":                    "history_snapshot",
	"/v1/buckets/:bid/collections/:cid/records/:rid/attachment":            "attachment",
	"/v1/buckets/default/collections/:cid/records/:rid/attachment":         "default_bucket_collection",
	"/v1/buckets/default":                                                  "default_bucket",
	"/v1/buckets/default/*":                                                "default_bucket_collection",
	"/v1/openid/:provider/login":                                           "openid_login",
	"/v1/openid/:provider/token":                                           "openid_token",
	"/v1/admin":                                                            "admin_redirect",
	"/v1/admin/":                                                           "admin_home",
	"/v1/admin/*":                                                          "catchall_static",
}

// cacheCounters reads the accounts plugin's verified-password cache
// counters (Nimbus's cache of what Kinto's cache_hits and cache_misses
// count: accounts' credentials checked without hashing).
type cacheCounters struct{ hits, misses func() float64 }

type cacheCounts struct{ hits, misses int64 }

func (c *cacheCounters) read() cacheCounts {
	return cacheCounts{hits: int64(c.hits()), misses: int64(c.misses())}
}

// findCounters looks the cache counters up among the offered figures;
// without the accounts plugin there are none, and none are sent.
func (p *Plugin) findCounters() {
	c := &cacheCounters{}
	for _, g := range p.gauges() {
		switch g.Name {
		case "nimbus_accounts_password_cache_hits_total":
			c.hits = g.Value
		case "nimbus_accounts_password_cache_misses_total":
			c.misses = g.Value
		}
	}
	if c.hits != nil && c.misses != nil {
		p.counters.Store(c)
	}
}

// clean keeps a name part to what StatsD lines allow: letters, digits
// and "._-"; colons become dots (Kinto's rule for user ids), anything
// else an underscore.
func clean(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c == ':':
			b.WriteByte('.')
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}
