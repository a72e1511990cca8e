package kinto_test

import (
	"context"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/storage"
)

// TestGroupHoldsExactlyItsMembers: every write of a group leaves its
// principal to its listed members alone. A database Kinto 26.2 also
// writes can hold memberships of a group that no longer exists (Kinto
// deletes a bucket's groups without their memberships); a group created
// again at that URI, or changed later, must not hand its grants to them.
func TestGroupHoldsExactlyItsMembers(t *testing.T) {
	t.Run("memory", func(t *testing.T) { groupHoldsExactlyItsMembers(t, apitest.New(t, nil)) })
	onBackends(t, nil, groupHoldsExactlyItsMembers)
}

func groupHoldsExactlyItsMembers(t *testing.T, s *apitest.Server) {
	setup(t, s)
	const group = "/buckets/b/groups/team"
	bobID, carolID := userID(t, s, bob), userID(t, s, carol)
	leftOver := func(user string) {
		t.Helper()
		err := s.Backend.Update(context.Background(), func(tx storage.Tx) error { return tx.AddUserPrincipal(user, group) })
		if err != nil {
			t.Fatal(err)
		}
	}
	s.Do(R{Method: "PUT", Path: recs + "/r", Auth: alice, Body: `{"permissions":{"read":["` + group + `"]}}`}).Expect(t, 201, 0)

	leftOver(carolID) // as Kinto leaves it after deleting the group's bucket
	s.Do(R{Method: "PUT", Path: "/v1" + group, Auth: alice, Body: `{"data":{"members":["` + bobID + `"]}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "GET", Path: recs + "/r", Auth: bob}).Expect(t, 200, 0)
	s.Do(R{Method: "GET", Path: recs + "/r", Auth: carol}).Expect(t, 403, 121)

	leftOver(carolID)
	s.Do(R{Method: "PATCH", Path: "/v1" + group, Auth: alice, Body: `{"data":{"title":"Team"}}`}).Expect(t, 200, 0)
	s.Do(R{Method: "GET", Path: recs + "/r", Auth: bob}).Expect(t, 200, 0)
	s.Do(R{Method: "GET", Path: recs + "/r", Auth: carol}).Expect(t, 403, 121)

	s.Do(R{Method: "PATCH", Path: "/v1" + group, Auth: alice, Body: `{"data":{"members":["` + carolID + `"]}}`}).Expect(t, 200, 0)
	s.Do(R{Method: "GET", Path: recs + "/r", Auth: bob}).Expect(t, 403, 121)
	s.Do(R{Method: "GET", Path: recs + "/r", Auth: carol}).Expect(t, 200, 0)
}
