package changes

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// Plugin is the changes plugin. Its zero value is ready to register.
type Plugin struct {
	backend   storage.Backend
	logger    interface{ Warn(string, ...any) }
	keepalive time.Duration
	recheck   time.Duration
	// mayRevoke tells whether a change may have revoked a credential:
	// then every stream checks its caller again at once.
	mayRevoke func(storage.Change) bool
	maxConns  int
	maxUser   int
	buffer    int

	hubs    *hubs
	actions *actions
	limits  limits
	// done ends every stream when the server shuts down.
	done     chan struct{}
	stopOnce sync.Once
}

var (
	_ resource.Plugin           = (*Plugin)(nil)
	_ resource.SettingsDeclarer = (*Plugin)(nil)
)

// Name implements resource.Plugin.
func (*Plugin) Name() string { return "changes" }

// Settings implements resource.SettingsDeclarer.
func (*Plugin) Settings() []resource.Setting {
	return []resource.Setting{
		{Name: "stream_keepalive_seconds", Type: resource.Int, Default: "15",
			Description: "seconds between the comment lines that keep an idle stream open"},
		{Name: "stream_max_connections", Type: resource.Int, Default: "10000",
			Description: "streams one instance serves at most (then 503)"},
		{Name: "stream_max_connections_per_user", Type: resource.Int, Default: "20",
			Description: "streams one user may hold on one instance (then 429)"},
		{Name: "stream_buffer_events", Type: resource.Int, Default: "1000",
			Description: "changes a slow reader may fall behind before its stream ends (it resumes with Last-Event-ID)"},
		{Name: "stream_recheck_seconds", Type: resource.Int, Default: "60",
			Description: "seconds between checks that a stream's credential still authenticates"},
	}
}

// Register implements resource.Plugin.
func (p *Plugin) Register(r *resource.Registry) error {
	s := r.Settings()
	p.backend = r.Storage()
	p.logger = r.Logger()
	p.keepalive = seconds(s.IntDefault("stream_keepalive_seconds"))
	p.recheck = seconds(s.IntDefault("stream_recheck_seconds"))
	p.maxConns = s.IntDefault("stream_max_connections")
	p.maxUser = s.IntDefault("stream_max_connections_per_user")
	p.buffer = s.IntDefault("stream_buffer_events")
	if p.buffer < 1 {
		p.buffer = 1
	}
	p.done = make(chan struct{})
	p.actions = newActions()
	p.hubs = newHubs(p)
	p.limits.perUser = map[string]int{}

	if err := r.SetListStreamer(p.serve); err != nil {
		return err
	}
	if err := r.AddCapability("changes_stream", "Every list can be followed live: GET it with Accept: text/event-stream.",
		"https://github.com/nimbus-server/nimbus/blob/main/README.md#change-streams",
		map[string]any{"keepalive_seconds": int(p.keepalive / time.Second), "max_connections": p.maxConns}); err != nil {
		return err
	}
	// This instance's commits wake the lists they touched and say what
	// each change was.
	r.OnCommit(p.hubs.committed)
	p.mayRevoke = r.MayRevoke
	r.AddListener(resource.Listener{Actions: []string{"delete"}, BeforeCommit: p.noteReaders})
	// Other instances' commits (and Kinto's), on a shared database.
	poll := time.Duration(0)
	if w, ok := p.backend.(storage.ChangeWatcher); ok {
		if _, ok := w.WatchChanges(p.heard); ok {
			poll = 5 * time.Second // a safety net only
		} else {
			poll = time.Second
		}
	} else if sh, ok := p.backend.(storage.Sharer); ok && sh.SharedBetweenInstances() {
		poll = time.Second
	}
	if poll > 0 {
		go p.hubs.poll(poll, p.done)
	}
	r.OnShutdown(p.stop)
	r.AddGauge(resource.Gauge{Name: "nimbus_change_streams_open", Help: "Change streams open on this instance.",
		Value: func() float64 { p.limits.mu.Lock(); defer p.limits.mu.Unlock(); return float64(p.limits.total) }})
	return nil
}

// heard is the backend's report of a committed change.
func (p *Plugin) heard(ch storage.Change) {
	if ch.All {
		p.hubs.wakeAll()
		return
	}
	p.hubs.committed([]storage.Change{ch})
}

// stop ends every stream (the server is shutting down).
func (p *Plugin) stop() { p.stopOnce.Do(func() { close(p.done) }) }

func seconds(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	return time.Duration(n) * time.Second
}

// limits counts the open streams of this instance, in total and per user.
type limits struct {
	mu      sync.Mutex
	total   int
	perUser map[string]int
}

// take reserves a stream for user, or returns the error to answer.
func (p *Plugin) take(user string) error {
	l := &p.limits
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total >= p.maxConns {
		return &resource.Error{Status: http.StatusServiceUnavailable, Errno: resource.ErrnoBackend,
			Message: "Too many open change streams on this server; retry later."}
	}
	if user != "" && l.perUser[user] >= p.maxUser {
		return &resource.Error{Status: http.StatusTooManyRequests, Errno: resource.ErrnoTooManyRequests,
			Message: "Too many open change streams for this user.", Headers: map[string]string{"Retry-After": strconv.Itoa(int(p.keepalive / time.Second))}}
	}
	l.total++
	if user != "" {
		l.perUser[user]++
	}
	return nil
}

// release frees what take reserved.
func (p *Plugin) release(user string) {
	l := &p.limits
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if user != "" {
		if l.perUser[user]--; l.perUser[user] <= 0 {
			delete(l.perUser, user)
		}
	}
}

// view runs fn in a read transaction of its own, bounded in time.
func (p *Plugin) view(fn func(tx storage.Tx) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return p.backend.View(ctx, fn)
}
