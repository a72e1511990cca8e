package postgres

import (
	"testing"

	"github.com/nimbus-server/nimbus/storage"
)

// TestCommittingKeepsKeysOut: while a commit is in flight, what it
// touched is out of the cache and is not kept again (a read of it
// meanwhile may be older than the commit); once it is over, the keys are
// dropped once more and kept again as before. Keys it did not touch are
// not affected.
func TestCommittingKeepsKeysOut(t *testing.T) {
	c := newCache(100)
	c.reset(true)
	obj := objKey{resource: "bucket", id: "b"}
	other := objKey{resource: "bucket", id: "other"}
	acl := "/buckets/b"
	fill := func() {
		gen := c.gen.Load()
		c.keepRow(obj, cachedRow{found: false}, gen)
		c.keepRow(other, cachedRow{found: false}, gen)
		c.putACLs([]string{acl}, map[string]storage.ACL{}, gen)
	}
	cached := func() (o, oth, a bool) {
		_, o = lookup(c, objectsOf, obj)
		_, oth = lookup(c, objectsOf, other)
		_, a = lookup(c, aclsOf, acl)
		return
	}
	fill()
	if o, oth, a := cached(); !o || !oth || !a {
		t.Fatalf("filled cache: object %v, other %v, ACL %v", o, oth, a)
	}
	var tc touched
	tc.objects.add(obj)
	tc.acls.add(acl)
	done := c.committing(&tc)
	if o, oth, a := cached(); o || !oth || a {
		t.Fatalf("commit in flight: object %v (want false), other %v (want true), ACL %v (want false)", o, oth, a)
	}
	fill()
	if o, _, a := cached(); o || a {
		t.Fatalf("kept while its commit is in flight: object %v, ACL %v", o, a)
	}
	// Two commits of the same key: kept out until both are over.
	done2 := c.committing(&tc)
	done()
	fill()
	if o, _, a := cached(); o || a {
		t.Fatalf("kept while a second commit is in flight: object %v, ACL %v", o, a)
	}
	done2()
	if len(c.pending) != 0 {
		t.Fatalf("pending keys left: %v", c.pending)
	}
	fill()
	if o, oth, a := cached(); !o || !oth || !a {
		t.Fatalf("after the commits: object %v, other %v, ACL %v", o, oth, a)
	}
}
