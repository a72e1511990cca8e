package resource

import (
	"reflect"
	"testing"

	"github.com/nimbus-server/nimbus/permissions"
)

// TestChain checks the permission chain of objects and lists at each
// depth: the object first, its ancestors up to the root, each with its
// URI (a list has no URI of its own).
func TestChain(t *testing.T) {
	bucket := &Resource{Name: "bucket", Plural: "buckets"}
	collection := &Resource{Name: "collection", Plural: "collections", parent: bucket}
	record := &Resource{Name: "record", Plural: "records", parent: collection}
	m := matchdict{"bucket_id": "b", "collection_id": "c"}
	root := permissions.Node{Resource: permissions.Root}
	for _, c := range []struct {
		name string
		res  *Resource
		id   string
		want []permissions.Node
	}{
		{"bucket", bucket, "b", []permissions.Node{{Resource: "bucket", URI: "/buckets/b"}, root}},
		{"bucket list", bucket, "", []permissions.Node{{Resource: "bucket"}, root}},
		{"collection", collection, "c", []permissions.Node{
			{Resource: "collection", URI: "/buckets/b/collections/c"}, {Resource: "bucket", URI: "/buckets/b"}, root}},
		{"record", record, "r", []permissions.Node{
			{Resource: "record", URI: "/buckets/b/collections/c/records/r"},
			{Resource: "collection", URI: "/buckets/b/collections/c"}, {Resource: "bucket", URI: "/buckets/b"}, root}},
		{"record list", record, "", []permissions.Node{
			{Resource: "record"}, {Resource: "collection", URI: "/buckets/b/collections/c"}, {Resource: "bucket", URI: "/buckets/b"}, root}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.res.chain(m, c.id); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("chain = %+v, want %+v", got, c.want)
			}
			if c.id != "" && c.res.chain(m, c.id)[0].URI != c.res.objectURI(m, c.id) {
				t.Fatal("the chain's URI is not objectURI's")
			}
		})
	}
}
