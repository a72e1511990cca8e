package attachments

import (
	"context"

	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// links keeps which record each stored file belongs to, in Kinto's
// format: {location, bucket_uri, collection_uri, record_uri} objects of
// the "attachments" list under "__attachments__". Deleting a record, a
// collection or a bucket finds its files by the matching URI field.
type links struct{ b storage.Backend }

// add records that the stored name belongs to the record of t.
func (l links) add(ctx context.Context, name string, t target) error {
	return l.b.Update(ctx, func(tx storage.Tx) error {
		_, err := tx.Create(linksRef, storage.Object{"id": resource.NewUUID4(), "location": name,
			"bucket_uri": t.bucketURI(), "collection_uri": t.collectionURI(), "record_uri": t.recordURI()})
		return err
	})
}

// of returns the stored names linked to uri by field ("record_uri",
// "collection_uri" or "bucket_uri").
func (l links) of(ctx context.Context, field, uri string) ([]string, error) {
	var names []string
	err := l.b.View(ctx, func(tx storage.Tx) error {
		objs, err := tx.List(linksRef, storage.Query{Filters: []storage.Filter{{Field: field, Op: storage.OpEq, Value: uri}}})
		if err != nil {
			return err
		}
		names = names[:0]
		for _, o := range objs {
			if n, ok := o["location"].(string); ok {
				names = append(names, n)
			}
		}
		return nil
	})
	return names, err
}

// drop removes the links of the stored names, leaving no tombstones (as
// Kinto deletes them).
func (l links) drop(ctx context.Context, names []string) error {
	if len(names) == 0 {
		return nil
	}
	in := make([]any, len(names))
	for i, n := range names {
		in[i] = n
	}
	return l.b.Update(ctx, func(tx storage.Tx) error {
		if _, err := tx.DeleteMany(linksRef, storage.Query{Filters: []storage.Filter{{Field: "location", Op: storage.OpIn, Value: in}}}); err != nil {
			return err
		}
		_, err := tx.PurgeDeleted(linksRef, 0, 0)
		return err
	})
}
