package defaultbucket_test

import (
	"fmt"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

// TestAliasPaths checks that a path through the alias is served as the
// same path on the real bucket, percent-encoding included: an encoded
// "/" stays inside its id, a path no route serves is a 404 (it used to
// send the request back to the alias, which rerouted it again with the
// bucket's id prefixed, without end), and an escaped letter names the
// alias as Kinto, which routes the decoded path, does.
func TestAliasPaths(t *testing.T) {
	s := apitest.New(t, map[string]string{"includes": "default_bucket", "default_bucket_hmac_secret": "s3"})
	id := s.Do(R{Method: "GET", Path: "/v1/", Auth: alice}).Expect(t, 200, 0).Body["user"].(map[string]any)["bucket"].(string)
	s.Do(R{Method: "PUT", Path: "/v1/buckets/default/collections/tasks/records/r1", Auth: alice, Body: `{"data":{"n":1}}`}).Expect(t, 201, 0)
	cases := []struct {
		name, method, path string
		status, errno      int
		// realPath, when set, must answer as the alias did.
		realPath string
		// dataID is the id the answer's data must have.
		dataID string
	}{
		{"an encoded slash in a record id", "GET", "/v1/buckets/default/collections/tasks/records/r%2F1", 404, 111, "/v1/buckets/" + id + "/collections/tasks/records/r%2F1", ""},
		{"an encoded slash in a collection id", "GET", "/v1/buckets/default/collections/ta%2Fsks/records", 400, 107, "", ""},
		{"a sub-path no route serves", "GET", "/v1/buckets/default/collections/tasks/changeset", 404, 111, "/v1/buckets/" + id + "/collections/tasks/changeset", ""},
		{"a deeper unknown path", "DELETE", "/v1/buckets/default/collections/tasks/records/r1/x/y", 404, 111, "", ""},
		{"a method the real route lacks", "POST", "/v1/buckets/default/collections/tasks/records/r1", 405, 115, "", ""},
		{"an escaped letter in the alias", "GET", "/v1/buckets/defaul%74", 200, 0, "", id},
		{"an escaped letter before it", "GET", "/v1/%62uckets/default/collections/tasks/records/r1", 200, 0, "", "r1"},
		{"escaped letters in the ids", "GET", "/v1/buckets/default/collections/t%61sks/records/%721", 200, 0, "", "r1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := s.Do(R{Method: c.method, Path: c.path, Auth: alice}).Expect(t, c.status, c.errno)
			if c.realPath != "" {
				real := s.Do(R{Method: c.method, Path: c.realPath, Auth: alice})
				if real.Status != got.Status || real.Body["errno"] != got.Body["errno"] {
					t.Errorf("the alias answered %d %s, the real path %d %s", got.Status, got.Raw, real.Status, real.Raw)
				}
			}
			if c.dataID != "" && got.Data()["id"] != c.dataID {
				t.Errorf("data.id %v, want %s: %s", got.Data()["id"], c.dataID, got.Raw)
			}
		})
	}
	// No bucket named "default" can be made through an escaped name:
	// the alias answers, with the personal bucket.
	put := s.Do(R{Method: "PUT", Path: "/v1/buckets/defaul%74", Auth: bob, Body: `{"data":{"title":"mine"}}`}).Expect(t, 201, 0)
	if put.Data()["id"] == "default" {
		t.Errorf("a bucket named default was created: %s", put.Raw)
	}
	list := s.Do(R{Method: "GET", Path: "/v1/buckets", Auth: bob}).Expect(t, 200, 0)
	for _, b := range list.IDs() {
		if b == "default" {
			t.Errorf("buckets: %s", list.Raw)
		}
	}
}

// TestAliasCreatesNothingForWhatTheRealURLRefuses checks that a request
// through the alias that the real URL answers 404 (no route) or 405 (a
// method its route lacks) leaves no personal bucket or collection behind,
// as in Kinto: it once made them before the real URL refused the request.
// A request the real route serves creates them, whatever it answers.
func TestAliasCreatesNothingForWhatTheRealURLRefuses(t *testing.T) {
	s := apitest.New(t, map[string]string{"includes": "default_bucket", "default_bucket_hmac_secret": "s3"})
	cases := []struct {
		method, path  string
		status, errno int
		created       bool
	}{
		{"PUT", "/v1/buckets/default/collections/tasks/records", 405, 115, false},
		{"PATCH", "/v1/buckets/default/collections", 405, 115, false},
		{"POST", "/v1/buckets/default", 405, 115, false},
		{"POST", "/v1/buckets/default/collections/tasks/records/r1", 405, 115, false},
		{"GET", "/v1/buckets/default/nothing", 404, 111, false},
		{"GET", "/v1/buckets/default/collections/tasks/records/r1/attachment", 404, 111, false},
		{"DELETE", "/v1/buckets/default/collections/tasks/x/y", 404, 111, false},
		{"GET", "/v1/buckets/default/collections/tasks/records/r1", 404, 110, true},
		{"PUT", "/v1/buckets/default/collections/tasks/records/r1", 400, 107, true},
	}
	for i, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			user := apitest.Basic(fmt.Sprintf("user%d", i), "pw")
			body := ""
			if c.method != "GET" && c.method != "DELETE" {
				body = `{"data":5}`
				if c.status != 400 {
					body = `{}`
				}
			}
			s.Do(R{Method: c.method, Path: c.path, Auth: user, Body: body}).Expect(t, c.status, c.errno)
			id := s.Do(R{Method: "GET", Path: "/v1/", Auth: user}).Expect(t, 200, 0).Body["user"].(map[string]any)["bucket"].(string)
			want, errno := 403, 121
			if c.created {
				want, errno = 200, 0
			}
			s.Do(R{Method: "GET", Path: "/v1/buckets/" + id + "/collections/tasks", Auth: user}).Expect(t, want, errno)
		})
	}
}
