package counters

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// Kinds are the resource types counted (PLUG-CNT); "attachments" are the
// files the attachments plugin links to records.
var Kinds = []string{"account", "bucket", "group", "collection", "record", "history", "attachments"}

// Plugin is the counters plugin. Its zero value is ready to register.
type Plugin struct {
	backend storage.Backend
	// readers may read /__counters__ (counters_read_principals; empty:
	// anyone).
	readers []string

	// mu serialises counting; lists are the counts it keeps.
	mu    sync.Mutex
	lists map[storage.Ref]count
	// pmu guards what commits marked since the last count. It is never
	// held across storage work: the backend's notification goroutine
	// takes it (a change notification must not wait for a count that
	// itself waits for notifications).
	pmu   sync.Mutex
	dirty map[storage.Ref]bool
	all   bool // every list must be found and counted again
}

type count struct{ live, dead int }

var _ resource.Plugin = (*Plugin)(nil)

// Name implements resource.Plugin.
func (*Plugin) Name() string { return "counters" }

// Register implements resource.Plugin.
func (p *Plugin) Register(r *resource.Registry) error {
	p.backend = r.Storage()
	p.readers = r.Settings().List("counters_read_principals")
	p.lists, p.dirty, p.all = map[storage.Ref]count{}, map[storage.Ref]bool{}, true
	r.OnCommit(p.changed)
	if w, ok := p.backend.(storage.ChangeWatcher); ok {
		w.WatchChanges(func(ch storage.Change) {
			if ch.All {
				p.pmu.Lock()
				p.all = true
				p.pmu.Unlock()
				return
			}
			p.changed([]storage.Change{ch})
		})
	}
	r.OnFlush(func() {
		p.pmu.Lock()
		p.all = true
		p.pmu.Unlock()
	})
	if err := r.AddCapability("counters_endpoint", "Counts of objects and tombstones by resource type at /__counters__.",
		"https://github.com/nimbus-server/nimbus/blob/main/README.md#running-nimbus-in-production", nil); err != nil {
		return err
	}
	return r.AddRoute(resource.Route{Method: http.MethodGet, Path: "/__counters__", Summary: "Objects and tombstones by resource type.", NoBatch: true,
		Handler: func(req *resource.Request) error {
			if err := req.RequireOneOf(p.readers); err != nil {
				return err
			}
			objects, tombstones, err := p.totals(req.Ctx())
			if err != nil {
				return err
			}
			return req.JSON(http.StatusOK, map[string]any{"objects": objects, "tombstones": tombstones})
		}})
}

// Settings implements resource.SettingsDeclarer.
func (*Plugin) Settings() []resource.Setting {
	return []resource.Setting{{Name: "counters_read_principals", Type: resource.List,
		Description: "principals allowed to read /__counters__ (none: anyone); counts of accounts and objects tell about a site's users"}}
}

var _ resource.SettingsDeclarer = (*Plugin)(nil)

var errNoLister = &resource.Error{Status: 501, Errno: resource.ErrnoUndefined, Message: "This storage backend cannot list its lists: counters are not available."}

// changed marks the lists a commit touched.
func (p *Plugin) changed(changes []storage.Change) {
	p.pmu.Lock()
	defer p.pmu.Unlock()
	for _, ch := range changes {
		switch {
		case ch.Ref.Resource == "":
			// A subtree is gone: its lists are found and counted again.
			p.all = true
		case slices.Contains(Kinds, ch.Ref.Resource):
			p.dirty[ch.Ref] = true
		}
	}
}

// totals counts what changed since the last call and sums every list.
func (p *Plugin) totals(ctx context.Context) (map[string]int, map[string]int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pmu.Lock()
	dirty, all := p.dirty, p.all
	p.dirty, p.all = map[storage.Ref]bool{}, false
	p.pmu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err := p.backend.View(ctx, func(tx storage.Tx) error {
		if all {
			lister, ok := tx.(storage.Lister)
			if !ok {
				return errNoLister
			}
			p.lists = map[storage.Ref]count{}
			for _, kind := range Kinds {
				refs, err := lister.Lists(kind)
				if err != nil {
					return err
				}
				for _, ref := range refs {
					dirty[ref] = true
				}
			}
		}
		for ref := range dirty {
			live, err := tx.Count(ref, nil, false)
			if err != nil {
				return err
			}
			all, err := tx.Count(ref, nil, true)
			if err != nil {
				return err
			}
			if all == 0 {
				delete(p.lists, ref)
			} else {
				p.lists[ref] = count{live: live, dead: all - live}
			}
		}
		return nil
	})
	if err != nil {
		// Count these again next time.
		p.pmu.Lock()
		for ref := range dirty {
			p.dirty[ref] = true
		}
		p.all = p.all || all
		p.pmu.Unlock()
		return nil, nil, err
	}
	objects, tombstones := map[string]int{}, map[string]int{}
	for ref, c := range p.lists {
		if c.live > 0 {
			objects[ref.Resource] += c.live
		}
		if c.dead > 0 {
			tombstones[ref.Resource] += c.dead
		}
	}
	return objects, tombstones, nil
}
