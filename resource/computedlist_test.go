package resource_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/memory"
)

// confirmedList serves GET /confirmed: n computed objects (id o00000...,
// n, kind a|b|c by n), of which confirm keeps those whose n is not a
// multiple of 3, counting the objects it was asked about.
type confirmedList struct {
	n     int
	asked *atomic.Int64
}

func (confirmedList) Name() string { return "confirmedlist" }

func (c confirmedList) Register(r *resource.Registry) error {
	return r.AddRoute(resource.Route{Method: http.MethodGet, Path: "/confirmed", Summary: "A computed list with a costly check.",
		Handler: func(req *resource.Request) error {
			objs := make([]storage.Object, c.n)
			for i := range objs {
				objs[i] = storage.Object{"id": fmt.Sprintf("o%05d", i), "n": json.Number(fmt.Sprint(i)), "kind": string(rune('a' + i%3))}
			}
			return req.ServeListConfirmed([]string{"id", "n", "kind"}, []storage.Sort{{Field: "id", Desc: true}}, objs,
				func(part []storage.Object) ([]storage.Object, error) {
					c.asked.Add(int64(len(part)))
					var kept []storage.Object
					for _, o := range part {
						if n, _ := o["n"].(json.Number).Int64(); n%3 != 0 {
							kept = append(kept, o)
						}
					}
					return kept, nil
				})
		}})
}

// TestServeListConfirmed: a computed list whose objects need a costly
// check (/permissions: is the object still stored?) answers as if only
// the kept objects were there (pages, Next-Page, filters, sorts, HEAD
// counts), and a page asks about a bounded number of objects, not all of
// them; HEAD, which counts, asks about every one that passes the filters.
func TestServeListConfirmed(t *testing.T) {
	const n = 3000
	asked := &atomic.Int64{}
	srv := serveOn(t, memory.New(), nil, map[string]string{"userid_hmac_secret": "s"}, confirmedList{n: n, asked: asked})
	get := func(t *testing.T, method, path string) (*http.Response, []string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s %s: %d", method, path, resp.StatusCode)
		}
		var body struct {
			Data []map[string]any `json:"data"`
		}
		if method == "GET" {
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
		}
		var ids []string
		for _, o := range body.Data {
			ids = append(ids, o["id"].(string))
		}
		return resp, ids
	}
	// want lists the kept objects matching keep, in the order of less.
	want := func(keep func(i int) bool, desc bool) []string {
		var out []string
		for i := 0; i < n; i++ {
			j := i
			if desc {
				j = n - 1 - i
			}
			if j%3 != 0 && keep(j) {
				out = append(out, fmt.Sprintf("o%05d", j))
			}
		}
		return out
	}
	all := func(int) bool { return true }
	cases := []struct {
		name      string
		query     string
		limit     int
		want      []string
		maxAsked  int64 // by the first page
		wantTotal int   // HEAD
	}{
		{"default order", "", 10, want(all, true), 100, 2000},
		{"sorted by n, ascending", "_sort=n", 25, want(all, false), 100, 2000},
		{"a filter", "kind=b", 40, want(func(i int) bool { return i%3 == 1 }, true), 100, 1000},
		{"pages larger than a chunk", "_sort=-n", 500, want(all, true), 900, 2000},
		{"a filter nothing passes", "kind=z", 10, nil, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := "?_limit=" + fmt.Sprint(tc.limit)
			if tc.query != "" {
				q += "&" + tc.query
			}
			asked.Store(0)
			resp, got := get(t, "GET", "/v1/confirmed"+q)
			if a := asked.Load(); a > tc.maxAsked {
				t.Errorf("the first page asked about %d objects, at most %d expected", a, tc.maxAsked)
			}
			pages := 1
			for next := resp.Header.Get("Next-Page"); next != ""; pages++ {
				var more []string
				resp, more = get(t, "GET", strings.TrimPrefix(next, srv.URL))
				if len(more) == 0 {
					t.Fatalf("an empty page behind Next-Page %s", next)
				}
				got = append(got, more...)
				next = resp.Header.Get("Next-Page")
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("pages gave %d objects, want %d (first %v)", len(got), len(tc.want), got[:min(5, len(got))])
			}
			if wantPages := max(1, (len(tc.want)+tc.limit-1)/tc.limit); pages != wantPages {
				t.Errorf("%d pages, want %d", pages, wantPages)
			}
			asked.Store(0)
			head, _ := get(t, "HEAD", "/v1/confirmed"+q)
			if total := head.Header.Get("Total-Records"); total != fmt.Sprint(tc.wantTotal) {
				t.Errorf("HEAD Total-Records %s, want %d", total, tc.wantTotal)
			}
		})
	}
}
