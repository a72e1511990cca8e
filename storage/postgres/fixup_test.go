package postgres_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/postgres"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

// TestMigrateRemovesMembershipsOfMissingGroups: "nimbus migrate" removes
// the memberships Kinto 26.2 leaves when it deletes a bucket (the groups
// go, their rows in user_principals stay), and keeps every other one.
func TestMigrateRemovesMembershipsOfMissingGroups(t *testing.T) {
	url := pgtest.Start(t).NewDatabase(t)
	b := open(t, url)
	groups := storage.Ref{Resource: "group", Parent: "/buckets/b"}
	update(t, b, func(tx storage.Tx) error {
		for _, id := range []string{"live", "deleted"} {
			if _, err := tx.Create(groups, storage.Object{"id": id}); err != nil {
				return err
			}
		}
		if _, err := tx.Delete(groups, "deleted", 0); err != nil {
			return err
		}
		for _, m := range [][2]string{
			{"account:alice", "/buckets/b/groups/live"},
			{"system.Authenticated", "/buckets/b/groups/live"},
			{"account:bob", "/buckets/b/groups/deleted"},       // its group is a tombstone
			{"system.Authenticated", "/buckets/gone/groups/g"}, // its bucket is gone
			{"account:carol", "/buckets/b/groups/live-not"},    // no such group
			{"account:carol", "role:editors"},                  // not a group's principal
		} {
			if err := tx.AddUserPrincipal(m[0], m[1]); err != nil {
				return err
			}
		}
		return nil
	})
	msg, err := postgres.Migrate(context.Background(), url)
	if err != nil || !strings.Contains(msg, "; 3 memberships of groups that no longer exist removed") {
		t.Fatalf("migrate: %q, %v", msg, err)
	}
	conn := connect(t, url)
	rows, err := conn.Query(context.Background(), `SELECT user_id || ' ' || principal FROM user_principals ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{"account:alice /buckets/b/groups/live", "account:carol role:editors", "system.Authenticated /buckets/b/groups/live"}
	if !slices.Equal(got, want) {
		t.Errorf("memberships after migrate:\n got %q\nwant %q", got, want)
	}
	if msg, err := postgres.Migrate(context.Background(), url); err != nil || strings.Contains(msg, "removed") {
		t.Errorf("migrate again: %q, %v", msg, err)
	}
}
