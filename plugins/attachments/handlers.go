package attachments

import (
	"cmp"
	"errors"
	"net/http"
	"strings"

	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// attachmentPath is the endpoint, under /v1.
const attachmentPath = "/buckets/:bid/collections/:cid/records/:rid/attachment"

// target is the record an attachment request names.
type target struct {
	bid, cid, rid string
}

func targetOf(r *resource.Request) target {
	return target{bid: r.Param("bid"), cid: r.Param("cid"), rid: r.Param("rid")}
}

func (t target) bucketURI() string     { return "/buckets/" + t.bid }
func (t target) collectionURI() string { return t.bucketURI() + "/collections/" + t.cid }
func (t target) recordURI() string     { return t.collectionURI() + "/records/" + t.rid }

// recordState reads the record as the server: missing is its 404 (the
// record's, or its collection's), nil when it exists; err is an invalid
// id or any other failure.
func recordState(r *resource.Request, t target) (missing, err error) {
	if _, ok := r.Objects().Locate(t.recordURI()); !ok {
		return nil, resource.InvalidObjectID()
	}
	if _, _, err = r.Objects().AsServer().Get(t.recordURI()); err != nil && isNotFound(err) {
		return err, nil
	}
	return nil, err
}

// mayWrite is the check made before the body is read, as Kinto's route
// factory makes it: write on the record when it exists, the creation of
// records in its collection when not (a missing collection included), so
// a caller who may not write is refused before the form is looked at
// (CORE-21). The record write then checks again, under its transaction.
func mayWrite(r *resource.Request, t target, missing error) error {
	uri, perm := t.recordURI(), "write"
	if missing != nil {
		uri, perm = t.collectionURI(), "record:create"
	}
	ok, err := r.Objects().Can(uri, perm)
	if err != nil || ok {
		return err
	}
	return r.Deny()
}

// isNotFound tells a 404 (a missing record or parent) from other errors.
func isNotFound(err error) bool {
	var e *resource.Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// post serves POST: the upload is read and checked, the file stored, the
// record written with the attachment's metadata; then the file it
// replaces goes (unless keep_old_files). A failed record write removes
// the new file.
func (p *Plugin) post(r *resource.Request) error {
	t := targetOf(r)
	missing, err := recordState(r, t)
	if err != nil {
		return err
	}
	if err := mayWrite(r, t, missing); err != nil {
		return err
	}
	o := p.st.forList(t.bid, t.cid)
	u, err := readUpload(r, o.maxSize)
	if err != nil {
		return err
	}
	defer u.close()
	if !p.st.extensionAllowed(u.filename) {
		return bodyError("File extension is not allowed.")
	}
	if u.badField != nil {
		return u.badField
	}
	mimetype := p.st.mimetype(u.filename, u.contentType)
	name, err := p.files.save(r.Ctx(), func() string { return storedName(p.st, o, t.bid, t.cid, t.rid, u.filename) },
		u.tmp, fileInfo{Size: u.size, Mimetype: mimetype, Hash: u.hash})
	if err != nil {
		return err
	}
	att := map[string]any{"filename": u.filename, "location": location(p.baseURL(r), name), "hash": u.hash, "mimetype": mimetype, "size": u.size}
	data := storage.Object{}
	for k, v := range u.data {
		data[k] = v
	}
	data["attachment"] = att
	old, _ := p.links.of(r.Ctx(), "record_uri", t.recordURI())
	stored, created, err := p.writeRecord(r, t, data, u.perms, name)
	if err != nil {
		p.files.remove(r.Ctx(), name)
		return err
	}
	p.dropOld(r, o, old, name)
	r.ResponseHeader().Set("Location", r.BaseURL()+t.recordURI())
	r.SetETag(storage.LastModified(stored))
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return r.JSON(status, att)
}

// writeRecord writes the record (a merge of data, or its creation) and
// the link of its new file, which the lifecycle listener reads.
func (p *Plugin) writeRecord(r *resource.Request, t target, data storage.Object, perms any, name string) (storage.Object, bool, error) {
	if err := p.links.add(r.Ctx(), name, t); err != nil {
		return nil, false, err
	}
	stored, created, err := r.Objects().Merge(t.recordURI(), data, perms)
	if err != nil {
		p.links.drop(r.Ctx(), []string{name})
		return nil, false, err
	}
	return stored, created, nil
}

// dropOld removes the files the record had before, once the new record
// is committed, unless they are to be kept; their links go either way
// (kinto-attachment keeps no link to a kept file).
func (p *Plugin) dropOld(r *resource.Request, o options, old []string, keepName string) {
	var gone []string
	for _, n := range old {
		if n != keepName {
			gone = append(gone, n)
		}
	}
	if len(gone) == 0 {
		return
	}
	p.links.drop(r.Ctx(), gone)
	if o.keepOld {
		return
	}
	for _, n := range gone {
		if err := p.files.remove(r.Ctx(), n); err != nil {
			r.Logger().Warn("attachments: a replaced file could not be removed", "name", n, "error", err)
		}
	}
}

// delete serves DELETE: the record's attachment becomes null (the key
// stays: the clients test it), then its files go unless kept. A missing
// record is a 404 (Kinto would create one).
func (p *Plugin) delete(r *resource.Request) error {
	t := targetOf(r)
	missing, err := recordState(r, t)
	if err != nil {
		return err
	}
	if missing != nil {
		// A missing record (or collection) is told to whoever may read
		// where it would be, as the record's own DELETE tells it
		// (PERM-09), and to whoever kinto-attachment lets through (who
		// may create records there); 403/401 to others.
		_, _, gerr := r.Objects().Get(t.recordURI())
		if gerr == nil || isNotFound(gerr) {
			return missing
		}
		if ok, cerr := r.Objects().Can(t.collectionURI(), "record:create"); cerr != nil || ok {
			return cmp.Or(cerr, missing)
		}
		return gerr
	}
	if err := mayWrite(r, t, nil); err != nil {
		return err
	}
	old, err := p.links.of(r.Ctx(), "record_uri", t.recordURI())
	if err != nil {
		return err
	}
	if _, _, err := r.Objects().Merge(t.recordURI(), storage.Object{"attachment": nil}, nil); err != nil {
		return err
	}
	p.dropOld(r, p.st.forList(t.bid, t.cid), old, "")
	r.ResponseHeader().Del("Content-Type")
	return r.NoContent(http.StatusNoContent)
}

// baseURL is what locations start with: attachment.base_url, or the URL
// of Nimbus's own /attachments/ when it is unset.
func (p *Plugin) baseURL(r *resource.Request) string {
	if p.st.baseURL != "" {
		return p.st.baseURL
	}
	return strings.TrimSuffix(r.BaseURL(), "/v1") + servePrefix
}
