package history_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

type R = apitest.Req

var alice, bob, carol = apitest.Basic("alice", "pw"), apitest.Basic("bob", "pw"), apitest.Basic("carol", "pw")

func uid(s *apitest.Server, auth string) string {
	return s.Do(R{Method: "GET", Path: "/v1/", Auth: auth}).Body["user"].(map[string]any)["id"].(string)
}

func TestHistory(t *testing.T) {
	s := apitest.New(t, map[string]string{"includes": "history default_bucket"})
	if s.Do(R{Method: "GET", Path: "/v1/"}).Body["capabilities"].(map[string]any)["history"] == nil {
		t.Fatal("capability")
	}
	aliceID, bobID := uid(s, alice), uid(s, bob)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/groups/g", Auth: alice, Body: `{"data":{"members":["x"]}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c/records/r1", Auth: alice, Body: `{"data":{"title":"one"},"permissions":{"read":["` + bobID + `"]}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PATCH", Path: "/v1/buckets/b/collections/c/records/r1", Auth: alice, Body: `{"data":{"title":"uno"}}`}).Expect(t, 200, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c/records/r2", Auth: alice, Body: `{"data":{"title":"two"}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "DELETE", Path: "/v1/buckets/b/collections/c/records?title=two", Auth: alice}).Expect(t, 200, 0)
	h := s.Do(R{Method: "GET", Path: "/v1/buckets/b/history", Auth: alice}).Expect(t, 200, 0)
	items := h.Items()
	var got []string
	for _, e := range items {
		got = append(got, fmt.Sprintf("%s %s %s", e["action"], e["resource_name"], e["uri"]))
	}
	want := []string{
		"delete record /buckets/b/collections/c/records/r2",
		"create record /buckets/b/collections/c/records/r2",
		"update record /buckets/b/collections/c/records/r1",
		"create record /buckets/b/collections/c/records/r1",
		"create collection /buckets/b/collections/c",
		"create group /buckets/b/groups/g",
		"create bucket /buckets/b",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("entries:\n%s", strings.Join(got, "\n"))
	}
	first := items[2]
	if first["user_id"] != aliceID || first["bucket_id"] != "b" || first["collection_id"] != "c" || first["record_id"] != "r1" || first["date"] == nil {
		t.Errorf("entry fields: %v", first)
	}
	// ISO 8601 with its UTC offset, as Kinto 26 writes it; without one a
	// reader takes it for local time.
	if d, _ := first["date"].(string); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$`).MatchString(d) {
		t.Errorf("date %q", d)
	}
	target := first["target"].(map[string]any)
	if target["data"].(map[string]any)["title"] != "uno" || target["permissions"].(map[string]any)["read"] == nil {
		t.Errorf("target: %v", target)
	}
	// A deletion's target holds the tombstone and the ACL after the
	// change: none (as Kinto records it).
	if dt := items[0]["target"].(map[string]any); fmt.Sprint(dt["permissions"]) != "map[]" || dt["data"].(map[string]any)["deleted"] != true {
		t.Errorf("deletion's target: %v", dt)
	}
	// Bob reads only the entries of the record shared with him.
	bh := s.Do(R{Method: "GET", Path: "/v1/buckets/b/history", Auth: bob}).Expect(t, 200, 0)
	for _, e := range bh.Items() {
		if e["uri"] != "/buckets/b/collections/c/records/r1" {
			t.Errorf("bob sees %v", e["uri"])
		}
	}
	if len(bh.Items()) != 2 {
		t.Errorf("bob sees %d entries", len(bh.Items()))
	}
	s.Do(R{Method: "GET", Path: "/v1/buckets/b/history", Auth: carol}).Expect(t, 403, 121)
	// Filters, sorting, pagination.
	f := s.Do(R{Method: "GET", Path: "/v1/buckets/b/history?resource_name=record&action=create&_sort=last_modified", Auth: alice}).Expect(t, 200, 0)
	if len(f.Items()) != 2 || f.Items()[0]["record_id"] != "r1" {
		t.Errorf("filtered: %s", f.Raw)
	}
	d := s.Do(R{Method: "GET", Path: "/v1/buckets/b/history?target.data.title=uno", Auth: alice}).Expect(t, 200, 0)
	if len(d.Items()) != 1 {
		t.Errorf("dotted filter: %s", d.Raw)
	}
	p := s.Do(R{Method: "GET", Path: "/v1/buckets/b/history?_limit=3", Auth: alice}).Expect(t, 200, 0)
	if p.Header.Get("Next-Page") == "" {
		t.Error("pagination")
	}
	for _, bad := range []string{"unknown=1", "_sort=nope", "_fields=nope"} {
		s.Do(R{Method: "GET", Path: "/v1/buckets/b/history?" + bad, Auth: alice}).Expect(t, 400, 107)
	}
	n := s.Do(R{Method: "GET", Path: "/v1/buckets/b/history?record_id=12", Auth: alice}).Expect(t, 200, 0)
	if len(n.Items()) != 0 {
		t.Error("id filters compare as strings")
	}
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/history", Auth: alice, Body: "{}"}).Expect(t, 405, 115)
	s.Do(R{Method: "GET", Path: "/v1/buckets/b/history/x", Auth: alice}).Expect(t, 404, 111)
	// Implicit creations through the default bucket are recorded.
	s.Do(R{Method: "POST", Path: "/v1/buckets/default/collections/tasks/records", Auth: carol, Body: `{}`}).Expect(t, 201, 0)
	dh := s.Do(R{Method: "GET", Path: "/v1/buckets/default/history?_sort=last_modified", Auth: carol}).Expect(t, 200, 0)
	var kinds []string
	for _, e := range dh.Items() {
		kinds = append(kinds, e["resource_name"].(string))
	}
	if strings.Join(kinds, " ") != "bucket collection record" {
		t.Errorf("implicit creations: %v", kinds)
	}
	// Purge by writers, then the bucket's deletion removes all of it.
	del := s.Do(R{Method: "DELETE", Path: "/v1/buckets/b/history?resource_name=group", Auth: alice}).Expect(t, 200, 0)
	if len(del.IDs()) != 1 {
		t.Errorf("purge: %s", del.Raw)
	}
	s.Do(R{Method: "DELETE", Path: "/v1/buckets/b", Auth: alice}).Expect(t, 200, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
	after := s.Do(R{Method: "GET", Path: "/v1/buckets/b/history", Auth: alice}).Expect(t, 200, 0)
	if len(after.Items()) != 1 {
		t.Errorf("a recreated bucket starts with a clean history: %s", after.Raw)
	}
}

func TestHistorySettings(t *testing.T) {
	s := apitest.New(t, map[string]string{"includes": "history", "history.exclude_resources": "/buckets/b/collections/quiet",
		"history.auto_trim_max_count": "2", "history.auto_trim_threshold": "1"})
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: alice, Body: `{}`})
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/quiet", Auth: alice, Body: `{}`})
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/quiet/records/r", Auth: alice, Body: `{}`})
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/loud", Auth: alice, Body: `{}`})
	for i := 0; i < 6; i++ {
		s.Do(R{Method: "PUT", Path: fmt.Sprintf("/v1/buckets/b/collections/loud/records/r%d", i), Auth: alice, Body: `{}`})
	}
	h := s.Do(R{Method: "GET", Path: "/v1/buckets/b/history?resource_name=record", Auth: alice})
	n := len(h.Items())
	if n < 2 || n > 3 {
		t.Errorf("trimmed to %d record entries (max 2 + threshold 1)", n)
	}
	for _, e := range h.Items() {
		if strings.Contains(e["uri"].(string), "quiet") {
			t.Errorf("excluded resource recorded: %v", e["uri"])
		}
	}
	caps := s.Do(R{Method: "GET", Path: "/v1/"}).Body["capabilities"].(map[string]any)["history"].(map[string]any)
	if caps["auto_trim_max_count"] == nil || caps["excluded_resources"] == nil {
		t.Errorf("capability extras: %v", caps)
	}
}

func TestSnapshot(t *testing.T) {
	s := apitest.New(t, map[string]string{"includes": "history"})
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
	recs := "/v1/buckets/b/collections/c/records"
	s.Do(R{Method: "PUT", Path: recs + "/keep", Auth: alice, Body: `{"data":{"v":"keep"}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: recs + "/edit", Auth: alice, Body: `{"data":{"v":"old"}}`}).Expect(t, 201, 0)
	mark := s.Do(R{Method: "PUT", Path: recs + "/gone", Auth: alice, Body: `{"data":{"v":"gone"}}`}).Expect(t, 201, 0)
	ts := fmt.Sprint(num(mark.Data()["last_modified"]))
	s.Do(R{Method: "PATCH", Path: recs + "/edit", Auth: alice, Body: `{"data":{"v":"new"}}`}).Expect(t, 200, 0)
	s.Do(R{Method: "DELETE", Path: recs + "/gone", Auth: alice}).Expect(t, 200, 0)
	s.Do(R{Method: "PUT", Path: recs + "/later", Auth: alice, Body: `{"data":{"v":"later"}}`}).Expect(t, 201, 0)
	snap := s.Do(R{Method: "GET", Path: "/v1/buckets/b/snapshot/collections/c@" + ts, Auth: alice}).Expect(t, 200, 0)
	var got []string
	for _, it := range snap.Items() {
		got = append(got, fmt.Sprintf("%s=%v", it["id"], it["v"]))
	}
	if strings.Join(got, " ") != "gone=gone edit=old keep=keep" {
		t.Errorf("snapshot: %v", got)
	}
	s.Do(R{Method: "GET", Path: "/v1/buckets/b/snapshot/collections/c@x", Auth: alice}).Expect(t, 400, 107)
	s.Do(R{Method: "GET", Path: "/v1/buckets/b/snapshot/collections/c@-1", Auth: alice}).Expect(t, 400, 107)
	s.Do(R{Method: "GET", Path: "/v1/buckets/b/snapshot/collections/c@" + ts, Auth: bob}).Expect(t, 403, 121)
	s.Do(R{Method: "GET", Path: "/v1/buckets/b/snapshot/collections/c@" + ts}).Expect(t, 401, 104)
	if got := s.Do(R{Method: "GET", Path: "/v1/buckets/b/snapshot/collections/nope@" + ts, Auth: alice}).Expect(t, 200, 0).Items(); len(got) != 0 {
		t.Errorf("snapshot of a collection that never existed: %v", got)
	}
	s.Do(R{Method: "DELETE", Path: "/v1/buckets/b/snapshot/collections/c@" + ts, Auth: alice}).Expect(t, 405, 115)
}

// TestSnapshotOfACollectionCreatedAgain: the records of a deleted
// collection are not rebuilt in the snapshots of a collection created
// again under its name, whose new readers never could read them (nor by
// a record id used again); Kinto 26.2 rebuilds only the records a
// collection holds, live or deleted, too.
func TestSnapshotOfACollectionCreatedAgain(t *testing.T) {
	s := apitest.New(t, map[string]string{"includes": "history"})
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
	recs := "/v1/buckets/b/collections/c/records"
	s.Do(R{Method: "PUT", Path: recs + "/secret", Auth: alice, Body: `{"data":{"pin":"1234"}}`}).Expect(t, 201, 0)
	mark := s.Do(R{Method: "PUT", Path: recs + "/reused", Auth: alice, Body: `{"data":{"pin":"5678"}}`}).Expect(t, 201, 0)
	ts := fmt.Sprint(num(mark.Data()["last_modified"]))
	snap := func(who string) string {
		var got []string
		for _, it := range s.Do(R{Method: "GET", Path: "/v1/buckets/b/snapshot/collections/c@" + ts, Auth: who}).Expect(t, 200, 0).Items() {
			got = append(got, fmt.Sprintf("%s=%v", it["id"], it["pin"]))
		}
		return strings.Join(got, " ")
	}
	if got := snap(alice); got != "reused=5678 secret=1234" {
		t.Fatalf("snapshot before: %q", got)
	}
	s.Do(R{Method: "DELETE", Path: "/v1/buckets/b/collections/c", Auth: alice}).Expect(t, 200, 0)
	if got := snap(alice); got != "" {
		t.Errorf("snapshot of the deleted collection: %q", got)
	}
	// A list created again starts its timestamps from the clock, as in
	// Kinto (which drops a deleted collection's timestamps too), and the
	// old list may have run ahead of the clock (strictly increasing
	// timestamps, several writes a millisecond): wait for the clock to
	// pass the snapshot's time, or the new record may be stamped at or
	// before it on a fast machine.
	for time.Now().UnixMilli() <= num(mark.Data()["last_modified"]) {
		time.Sleep(time.Millisecond)
	}
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c", Auth: alice, Body: `{"permissions":{"read":["` + uid(s, bob) + `"]}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: recs + "/reused", Auth: alice, Body: `{"data":{"pin":"0000"}}`}).Expect(t, 201, 0)
	for _, who := range []string{alice, bob} {
		if got := snap(who); got != "" {
			t.Errorf("snapshot of the collection created again, before it was: %q", got)
		}
	}
}

func num(v any) int64 {
	n, _ := v.(interface{ Int64() (int64, error) }).Int64()
	return n
}

// TestDeletionEntryReaders pins the readers of a deletion's entry: those
// who could read the object when it was deleted (the spec's "as they were
// at the time of the change"), besides the bucket's. Kinto 26.2 reads the
// object's ACL after removing it, so there only the bucket's (and for a
// record, its collection's) readers see the entry (README, differences).
func TestDeletionEntryReaders(t *testing.T) {
	s := apitest.New(t, map[string]string{"includes": "history"})
	bobID := uid(s, bob)
	uid(s, carol)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c2", Auth: alice, Body: `{"permissions":{"write":["` + bobID + `"]}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c3", Auth: alice, Body: `{}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/b/collections/c3/records/r9", Auth: alice, Body: `{"permissions":{"write":["` + bobID + `"]}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "DELETE", Path: "/v1/buckets/b/collections/c3/records/r9", Auth: bob}).Expect(t, 200, 0)
	s.Do(R{Method: "DELETE", Path: "/v1/buckets/b/collections/c2", Auth: bob}).Expect(t, 200, 0)
	for _, tc := range []struct {
		name   string
		auth   string
		status int
		want   string
	}{
		{"the bucket's writer", alice, 200, "/buckets/b/collections/c2 /buckets/b/collections/c3/records/r9"},
		{"the deleted objects' writer", bob, 200, "/buckets/b/collections/c2 /buckets/b/collections/c3/records/r9"},
		{"someone with no access", carol, 403, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := s.Do(R{Method: "GET", Path: "/v1/buckets/b/history?action=delete&_sort=uri", Auth: tc.auth})
			if tc.status != 200 {
				res.Expect(t, tc.status, 121)
				return
			}
			res.Expect(t, 200, 0)
			var got []string
			for _, e := range res.Items() {
				got = append(got, e["uri"].(string))
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("deletion entries %v, want %s", got, tc.want)
			}
		})
	}
}
