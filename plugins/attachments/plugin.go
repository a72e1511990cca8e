package attachments

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// Plugin is the attachments plugin (PLUG-ATT).
type Plugin struct {
	st    *settings
	files files
	links links
	log   *slog.Logger
}

// Name implements resource.Plugin.
func (*Plugin) Name() string { return "attachments" }

// Settings implements resource.SettingsDeclarer.
func (*Plugin) Settings() []resource.Setting { return settingsList() }

var _ resource.SettingsDeclarer = (*Plugin)(nil)

// Register implements resource.Plugin.
func (p *Plugin) Register(r *resource.Registry) error {
	st, err := readSettings(r.Settings())
	if err != nil {
		return err
	}
	p.st, p.log = st, r.Logger()
	var rules []resource.Setting
	for _, k := range st.ruleKeys {
		rules = append(rules, resource.Setting{Name: k, Type: resource.String, Description: "per bucket or collection attachment setting"})
	}
	if len(rules) > 0 {
		if err := r.DeclareSettings(rules...); err != nil {
			return err
		}
	}
	b := r.Storage()
	p.links = links{b: b}
	p.files = files{blobs: dbStore{b: b}, b: b}
	if st.basePath != "" {
		if err := os.MkdirAll(st.basePath, 0o755); err != nil {
			return fmt.Errorf("config: setting attachment.base_path: %v", err)
		}
		p.files.blobs = fsStore{base: filepath.Clean(st.basePath)}
	}
	var capURL any = st.capabilityURL
	if st.capabilityURL == "" {
		// The files' own URLs are absolute (fileURL): so is their base.
		capURL = resource.ServerURL{Path: servePrefix}
	}
	if err := r.AddCapability("attachments", "Add file attachments to records", "https://github.com/Kinto/kinto-attachment/",
		map[string]any{"version": resource.ServerVersion{}, "base_url": capURL}); err != nil {
		return err
	}
	r.AddHeartbeat("attachments", p.heartbeat)
	for _, name := range []string{linksRef.Resource, "attachment_file", "attachment_chunk", namesRef.Resource} {
		r.AddStoredList(name)
	}
	for _, m := range []struct {
		method  string
		handler func(*resource.Request) error
	}{{http.MethodPost, p.post}, {http.MethodDelete, p.delete}} {
		if err := r.AddRoute(resource.Route{Method: m.method, Path: attachmentPath, Handler: m.handler, Write: true, StreamBody: m.method == http.MethodPost, NoBatch: true,
			Consumes: []string{"multipart/form-data"}, Summary: "Attach a file to a record (kinto-attachment)."}); err != nil {
			return err
		}
	}
	if err := r.AddRootHandler(servePrefix, http.HandlerFunc(p.serve)); err != nil {
		return err
	}
	r.AddListener(resource.Listener{Actions: []string{"update"}, Resources: []string{"record"}, BeforeCommit: guardMetadata})
	r.AddListener(resource.Listener{Actions: []string{"delete"}, Resources: []string{"record", "collection", "bucket"}, AfterCommit: p.onDelete})
	r.BeforeFlush(func(tx storage.Tx) (func(), error) {
		fs, ok := p.files.blobs.(fsStore)
		if !ok {
			return nil, nil // the database store's files go with the storage
		}
		names, err := flushedNames(tx)
		if err != nil {
			return nil, err
		}
		return func() {
			if err := fs.removeFlushed(names); err != nil {
				p.log.Warn("attachments: the files could not all be removed on flush", "error", err)
			}
		}, nil
	})
	return nil
}

// heartbeat writes and removes a small file in the store.
func (p *Plugin) heartbeat(ctx context.Context) error {
	name := "heartbeat-test/heartbeat-" + resource.NewUUID4() + ".json"
	content := []byte(`{"test": "write"}`)
	stored, err := p.files.save(ctx, func() string { return name }, bytes.NewReader(content), fileInfo{Size: int64(len(content)), Mimetype: "application/json"})
	if err != nil {
		return err
	}
	return p.files.remove(ctx, stored)
}
