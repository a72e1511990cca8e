package attachments

import (
	"context"
	"net/http"
	"strings"

	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// errMetadataChanged is kinto-attachment's answer to a client write that
// changes an attachment's metadata (its errno is Kinto's default, 999).
var errMetadataChanged = &resource.Error{Status: http.StatusBadRequest, Errno: resource.ErrnoUndefined,
	Message: "Attachment metadata cannot be modified."}

// guardMetadata refuses a record update that replaces an existing
// attachment object with another non-null one, unless the plugin itself
// writes it (the attachment endpoint). Removing it, or setting one where
// there was none, is allowed, as in kinto-attachment.
func guardMetadata(_ storage.Tx, ev *resource.Event) error {
	if ev.Request != nil && strings.HasSuffix(ev.Request.Request().URL.Path, "/attachment") {
		return nil
	}
	for _, imp := range ev.Impacted {
		before, _ := imp.Old["attachment"].(map[string]any)
		after, _ := imp.New["attachment"].(map[string]any)
		if before != nil && after != nil && !storage.Equal(before, after) {
			return errMetadataChanged
		}
	}
	return nil
}

// onDelete removes, once a deletion is committed, the files of the
// deleted records, or of every record of the deleted collections or
// buckets (one object or a plural delete, directly or in a batch), with
// their links; the files stay when keep_old_files says so.
func (p *Plugin) onDelete(ev *resource.Event) {
	field := ev.ResourceName + "_uri"
	bid, cid := ev.IDs["bucket_id"], ev.IDs["collection_id"]
	for _, imp := range ev.Impacted {
		id := storage.ID(imp.New)
		if id == "" {
			id = storage.ID(imp.Old)
		}
		var uri string
		b, c := bid, cid
		switch ev.ResourceName {
		case "record":
			uri = "/buckets/" + bid + "/collections/" + cid + "/records/" + id
		case "collection":
			uri, c = "/buckets/"+bid+"/collections/"+id, id
		case "bucket":
			uri, b, c = "/buckets/"+id, id, ""
		default:
			continue
		}
		p.removeLinked(context.Background(), field, uri, p.st.forList(b, c).keepOld)
	}
}

// removeLinked drops the links whose field is uri and, unless keep, the
// files they name.
func (p *Plugin) removeLinked(ctx context.Context, field, uri string, keep bool) {
	names, err := p.links.of(ctx, field, uri)
	if err != nil || len(names) == 0 {
		if err != nil {
			p.log.Warn("attachments: the files of a deleted object could not be listed", "uri", uri, "error", err)
		}
		return
	}
	if err := p.links.drop(ctx, names); err != nil {
		p.log.Warn("attachments: links could not be removed", "uri", uri, "error", err)
	}
	if keep {
		return
	}
	for _, n := range names {
		if err := p.files.remove(ctx, n); err != nil {
			p.log.Warn("attachments: a file could not be removed", "name", n, "error", err)
		}
	}
}
