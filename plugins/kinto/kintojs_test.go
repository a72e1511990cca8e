package kinto_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

const kintoPage = `<!doctype html><meta charset="utf-8"><script src="/kinto.js"></script><script>
window.run = async () => {
  const out = {};
  const remote = location.origin + "/v1";
  const headers = {Authorization: "Basic " + btoa("kjs:kjs-pass")};
  if (location.search.includes("signup=1")) {
    const s = await fetch(remote + "/accounts/kjs", {method: "PUT", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({data: {password: "kjs-pass"}})});
    out.signup = s.status;
  }
  const db = new Kinto.default({remote, headers, bucket: "default"});
  const tasks = db.collection("tasks");
  const a = (await tasks.create({title: "a", done: false})).data;
  await tasks.create({title: "b", done: false});
  let r = await tasks.sync();
  out.firstOk = r.ok; out.published = r.published.length;
  // another client changes a record on the server
  const rec = remote + "/buckets/default/collections/tasks/records/" + a.id;
  const p = await fetch(rec, {method: "PATCH", headers: {...headers, "Content-Type": "application/json"},
    body: JSON.stringify({data: {done: true}})});
  await p.text();
  out.patched = p.status;
  r = await tasks.sync();
  out.secondOk = r.ok; out.updated = r.updated.length;
  out.localDone = (await tasks.get(a.id)).data.done;
  // a local deletion is pushed as a tombstone
  await tasks.delete(a.id);
  r = await tasks.sync();
  out.thirdOk = r.ok; out.deleted = r.published.filter((x) => x.deleted).length;
  const g = await fetch(rec, {headers}); await g.text(); out.serverAfterDelete = g.status;
  // conflict: the same record changed locally and on the server
  const b = (await tasks.list()).data[0];
  await tasks.update({...b, title: "local"});
  const q = await fetch(remote + "/buckets/default/collections/tasks/records/" + b.id, {method: "PATCH",
    headers: {...headers, "Content-Type": "application/json"}, body: JSON.stringify({data: {title: "remote"}})});
  await q.text();
  r = await tasks.sync();
  out.conflicts = r.conflicts.length;
  r = await tasks.sync({strategy: Kinto.default.syncStrategy.SERVER_WINS});
  out.resolvedOk = r.ok;
  out.finalTitle = (await tasks.get(b.id)).data.title;
  return out;
};
</script>`

// TestKintoJS runs the kinto.js sync client in headless Chromium: it needs
// NIMBUS_BROWSER_JS with node_modules/kinto and playwright-core, and
// /usr/bin/chromium (.ci/run installs them).
func TestKintoJS(t *testing.T) {
	dir := os.Getenv("NIMBUS_BROWSER_JS")
	bundle := filepath.Join(dir, "node_modules", "kinto", "dist", "kinto.js")
	if _, err := os.Stat(bundle); dir == "" || err != nil {
		if os.Getenv("NIMBUS_REQUIRE_BROWSER") != "" {
			t.Fatal("kinto.js bundle missing from NIMBUS_BROWSER_JS")
		}
		t.Skip("set NIMBUS_BROWSER_JS to a folder with node_modules/kinto and playwright-core")
	}
	for _, cfg := range jsConfigs {
		t.Run(cfg.name, func(t *testing.T) { runKintoJS(t, bundle, cfg.settings, !cfg.fallback) })
	}
}

// runKintoJS syncs with kinto.js against a server with settings; with
// signup, the page first creates its account.
func runKintoJS(t *testing.T, bundle string, extra map[string]string, signup bool) {
	settings := map[string]string{"account_create_principals": "system.Everyone", "account_bcrypt_cost": "4"}
	for k, v := range extra {
		settings[k] = v
	}
	dir := os.Getenv("NIMBUS_BROWSER_JS")
	onBackends(t, settings, func(t *testing.T, s *apitest.Server) {
		mux := http.NewServeMux()
		mux.HandleFunc("/kinto-page.html", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write([]byte(kintoPage))
		})
		mux.HandleFunc("/kinto.js", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/javascript")
			http.ServeFile(w, r, bundle)
		})
		mux.Handle("/", s.App)
		srv := httptest.NewServer(mux)
		defer srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		script, _ := filepath.Abs("testdata/js/kintojs.js")
		page := srv.URL
		if signup {
			page += "?signup=1"
		}
		cmd := exec.CommandContext(ctx, "node", script, page)
		cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kinto.js run failed: %v\n%s", err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		var rep map[string]any
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
			t.Fatalf("report: %v\n%s", err, out)
		}
		want := map[string]any{"firstOk": true, "published": 2.0, "patched": 200.0, "secondOk": true, "updated": 1.0,
			"localDone": true, "thirdOk": true, "deleted": 1.0, "serverAfterDelete": 404.0, "conflicts": 1.0,
			"resolvedOk": true, "finalTitle": "remote"}
		if signup {
			want["signup"] = 201.0
		}
		for k, v := range want {
			if rep[k] != v {
				t.Errorf("%s = %v, want %v (report %v)", k, rep[k], v, rep)
			}
		}
	})
}
