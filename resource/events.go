package resource

import (
	"slices"

	"github.com/nimbus-server/nimbus/storage"
)

// Impacted is one object changed by an event.
type Impacted struct {
	// Old is the object before the change (nil on create).
	Old storage.Object `json:"old,omitempty"`
	// New is the object after the change, or its tombstone on delete.
	New storage.Object `json:"new"`
	// Permissions is the object's ACL after the change.
	Permissions storage.ACL `json:"-"`
}

// Event describes a change of resources made by one request (RES-21).
type Event struct {
	Action       string            `json:"action"`
	ResourceName string            `json:"resource_name"`
	URI          string            `json:"uri"`
	UserID       string            `json:"user_id"`
	Timestamp    int64             `json:"timestamp"`
	IDs          map[string]string `json:"ids"`
	Impacted     []Impacted        `json:"impacted_objects"`
	// Request is the request that caused the event.
	Request *Request `json:"-"`
}

// matches tells whether a listener subscribes to the event.
func (l *Listener) matches(ev *Event) bool {
	if len(l.Actions) > 0 && !slices.Contains(l.Actions, ev.Action) {
		return false
	}
	return len(l.Resources) == 0 || slices.Contains(l.Resources, ev.ResourceName)
}

// beforeCommit runs the listeners that must commit with the change.
func (a *App) beforeCommit(tx storage.Tx, events []*Event) error {
	for _, ev := range events {
		for i := range a.listeners {
			l := &a.listeners[i]
			if l.BeforeCommit != nil && l.matches(ev) {
				if err := l.BeforeCommit(tx, ev); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// afterCommit notifies listeners of durable changes. Inside a batch the
// notifications wait for the batch's own commit.
func (a *App) afterCommit(r *Request, events []*Event) {
	if r.tx != nil {
		if r.pending != nil {
			*r.pending = append(*r.pending, events...)
			return
		}
	}
	a.Notify(events)
}

// Notify delivers events to the after-commit listeners.
func (a *App) Notify(events []*Event) {
	for _, ev := range events {
		for i := range a.listeners {
			l := &a.listeners[i]
			if l.AfterCommit != nil && l.matches(ev) {
				l.AfterCommit(ev)
			}
		}
	}
}

func (a *App) newEvent(r *Request, res *Resource, action string, m matchdict, uri string, ts int64) *Event {
	ids := map[string]string{}
	for k, v := range m {
		ids[k] = v
	}
	return &Event{Action: action, ResourceName: res.Name, URI: uri, UserID: r.identity.UserID, Timestamp: ts, IDs: ids, Request: r}
}
