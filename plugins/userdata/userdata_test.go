package userdata_test

import (
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

type R = apitest.Req

func TestUserDataAndFlush(t *testing.T) {
	alice, bob, op := apitest.Basic("alice", "pw"), apitest.Basic("bob", "pw"), apitest.Basic("op", "pw")
	s := apitest.New(t, nil)
	id := func(a string) string {
		return s.Do(R{Method: "GET", Path: "/v1/", Auth: a}).Body["user"].(map[string]any)["id"].(string)
	}
	opID, bobID := id(op), id(bob)
	s2 := apitest.New(t, map[string]string{"user-data_delete_principals": opID, "includes": "flush"})
	s = s2
	s.Do(R{Method: "PUT", Path: "/v1/buckets/bobs", Auth: bob, Body: `{}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/bobs/collections/c", Auth: bob, Body: `{}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/shared", Auth: alice, Body: `{"permissions":{"write":["` + bobID + `"]}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/shared/groups/g", Auth: alice, Body: `{"data":{"members":["` + bobID + `","x"]}}`}).Expect(t, 201, 0)
	s.Do(R{Method: "DELETE", Path: "/v1/__user_data__/" + bobID, Auth: alice}).Expect(t, 403, 121)
	s.Do(R{Method: "DELETE", Path: "/v1/__user_data__/" + bobID}).Expect(t, 401, 104)
	r := s.Do(R{Method: "DELETE", Path: "/v1/__user_data__/" + bobID, Auth: op}).Expect(t, 200, 0)
	if r.Data()["principal"] != bobID {
		t.Errorf("answer %s", r.Raw)
	}
	s.Do(R{Method: "GET", Path: "/v1/buckets/bobs", Auth: alice}).Expect(t, 403, 121)
	sh := s.Do(R{Method: "GET", Path: "/v1/buckets/shared", Auth: alice}).Expect(t, 200, 0)
	if strings.Contains(string(sh.Raw), bobID) {
		t.Errorf("bob must leave the shared ACL: %s", sh.Raw)
	}
	g := s.Do(R{Method: "GET", Path: "/v1/buckets/shared/groups/g", Auth: alice}).Expect(t, 200, 0)
	if strings.Contains(string(g.Raw), bobID) || !strings.Contains(string(g.Raw), `"x"`) {
		t.Errorf("bob must leave the group: %s", g.Raw)
	}
	if strings.Contains(string(s.Do(R{Method: "GET", Path: "/v1/", Auth: bob}).Raw), "/groups/g") {
		t.Error("bob must lose the group principal")
	}
	// flush
	if s.Do(R{Method: "GET", Path: "/v1/"}).Body["capabilities"].(map[string]any)["flush_endpoint"] == nil {
		t.Error("flush capability")
	}
	s.Do(R{Method: "POST", Path: "/v1/__flush__"}).Expect(t, 202, 0)
	l := s.Do(R{Method: "GET", Path: "/v1/buckets", Auth: alice}).Expect(t, 200, 0)
	if len(l.IDs()) != 0 {
		t.Errorf("after flush: %s", l.Raw)
	}
	apitest.New(t, nil).Do(R{Method: "POST", Path: "/v1/__flush__"}).Expect(t, 404, 111)
}
