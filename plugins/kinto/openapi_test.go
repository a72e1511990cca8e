package kinto_test

import (
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

func TestOpenAPI(t *testing.T) {
	s := apitest.New(t, map[string]string{"includes": "history default_bucket", "object_record_delete_enabled": "false"})
	r := s.Do(R{Method: "GET", Path: "/v1/__api__"}).Expect(t, 200, 0)
	if r.Body["swagger"] != "2.0" || r.Body["basePath"] != "/v1" || r.Body["host"] == "" {
		t.Fatalf("document: %.300s", r.Raw)
	}
	info := r.Body["info"].(map[string]any)
	if info["title"] != "nimbus" || info["version"] != "1.23" {
		t.Errorf("info %v", info)
	}
	if sd := r.Body["securityDefinitions"].(map[string]any); sd["basicauth"].(map[string]any)["type"] != "basic" {
		t.Errorf("security definitions %v", sd)
	}
	paths := r.Body["paths"].(map[string]any)
	for _, p := range []string{"/buckets", "/buckets/{bucket_id}", "/buckets/{bucket_id}/collections/{collection_id}/records",
		"/buckets/{bucket_id}/history", "/batch", "/__heartbeat__", "/buckets/default/{path}"} {
		if paths[p] == nil {
			t.Errorf("path %s missing", p)
		}
	}
	rec := paths["/buckets/{bucket_id}/collections/{collection_id}/records/{record_id}"].(map[string]any)
	if rec["get"] == nil || rec["delete"] != nil {
		t.Errorf("record methods follow the settings: %v", rec)
	}
	if paths["/buckets/{bucket_id}/history/{history_id}"] != nil {
		t.Error("history has no object endpoint")
	}
}
