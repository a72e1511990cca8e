package statsd

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-server/nimbus/resource"
)

// Plugin sends metrics to StatsD (PLUG-STATSD).
type Plugin struct {
	prefix string
	conn   net.Conn
	queue  chan string
	stop   chan struct{}
	once   sync.Once
}

// Name implements resource.Plugin.
func (*Plugin) Name() string { return "statsd" }

// Settings implements resource.SettingsDeclarer.
func (*Plugin) Settings() []resource.Setting {
	return []resource.Setting{
		{Name: "statsd_url", Type: resource.String, Description: "collector address, udp://host:port (none: nothing is sent)"},
		{Name: "statsd_prefix", Type: resource.String, Description: "prefix of every metric name (none: project_name)"},
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
	p.prefix = s.String("statsd_prefix")
	if p.prefix == "" {
		p.prefix = s.String("project_name")
	}
	p.prefix = clean(p.prefix)
	p.queue, p.stop = make(chan string, queueLen), make(chan struct{})
	go p.send()
	r.OnShutdown(func() { p.once.Do(func() { close(p.stop) }) })
	r.OnRequest(p.request)
	r.OnTransaction(func(st resource.TxStats) {
		kind := "read"
		if st.Write {
			kind = "write"
		}
		p.emit("backend.storage.seconds.method."+kind, fmt.Sprintf("%d|ms", st.Duration.Milliseconds()))
	})
	r.OnAuthentication(func(st resource.AuthStats) {
		if st.Policy != "" {
			p.emit("authentication", "type."+clean(st.Policy)+"|s")
		}
	})
	return nil
}

// request sends what one answered request says (Kinto's names).
func (p *Plugin) request(st resource.RequestStats) {
	route := endpoint(st.Route)
	method := clean(st.Method)
	if st.UserID != "" {
		p.emit("users", "auth."+clean(st.Policy)+".userid."+clean(strings.TrimPrefix(st.UserID, st.Policy+":"))+"|s")
	}
	p.emit("request_summary", fmt.Sprintf("method.%s.endpoint.%s.status.%d|s", method, route, st.Status))
	p.emit("request_duration_seconds.method."+method+".endpoint."+route, fmt.Sprintf("%d|ms", st.Duration.Milliseconds()))
	p.emit("request_size", fmt.Sprintf("%d|g", st.BodyBytes))
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
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			flush()
			return
		case line := <-p.queue:
			if buf.Len()+len(line)+1 > maxPacket {
				flush()
			}
			if buf.Len() > 0 {
				buf.WriteByte('\n')
			}
			buf.WriteString(line)
		case <-tick.C:
			flush()
		}
	}
}

// endpoint turns a route template into a metric name part
// ("/v1/buckets/:bucket_id/collections" -> "buckets.bucket_id.collections"):
// never a raw id, since the engine gives templates only.
func endpoint(route string) string {
	route = strings.TrimPrefix(strings.TrimPrefix(route, "/v1"), "/")
	if route == "" {
		return "root"
	}
	return clean(strings.ReplaceAll(strings.ReplaceAll(route, ":", ""), "/", "."))
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
