package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

// TestReimportKeepsTombstones (through the built binary): an export
// (tombstones are in it by default) imported twice into bolt and into PostgreSQL: the second run
// writes nothing, and every list answers with the source's ETag, _since
// results and Total-Records (operator traps, row 10; PostgreSQL issue,
// item 5).
func TestReimportKeepsTombstones(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	bin, srcDir := buildNimbus(t), t.TempDir()
	env := accountAndBasic
	src, stop := zeroServer(t, bin, srcDir, env)
	ann := "ann:ann-pw"
	ask(t, "PUT", src+"/buckets/b", ann, `{}`)
	ask(t, "PUT", src+"/buckets/b/collections/c", ann, `{}`)
	for _, id := range []string{"r1", "r2", "r3", "r4"} {
		ask(t, "PUT", src+"/buckets/b/collections/c/records/"+id, ann, `{"data":{}}`)
	}
	ask(t, "DELETE", src+"/buckets/b/collections/c/records/r2", ann, "")
	ask(t, "DELETE", src+"/buckets/b/collections/c/records/r4", ann, "")
	paths := []string{"/buckets/b/collections/c/records", "/buckets/b/collections/c/records?_since=0", "/buckets/b/collections", "/buckets"}
	want := map[string]string{}
	for _, p := range paths {
		want[p] = answer(t, src+p, ann)
	}
	stop()
	export := filepath.Join(t.TempDir(), "export.jsonl")
	if out, err := runIn(srcDir, bin, "export", "-o", export); err != nil {
		t.Fatalf("export: %v %s", err, out)
	}
	targets := map[string][]string{"bolt": nil}
	targets["postgresql"] = []string{"NIMBUS_STORAGE_BACKEND=postgresql", "NIMBUS_STORAGE_URL=" + pgtest.Start(t).NewDatabase(t)}
	for name, tenv := range targets {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			tenv := append(append([]string{}, env...), tenv...)
			for run := 1; run <= 2; run++ {
				cmd := exec.Command(bin, "import", export)
				cmd.Dir, cmd.Env = dir, append(os.Environ(), tenv...)
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("import %d: %v %s", run, err, out)
				}
				if run == 2 && !strings.HasPrefix(string(out), "0 objects and 0 tombstones written") {
					t.Errorf("the second import wrote: %s", out)
				}
			}
			dst, _ := zeroServer(t, bin, dir, tenv)
			for _, p := range paths {
				if got := answer(t, dst+p, ann); got != want[p] {
					t.Errorf("%s: %s\n want %s", p, got, want[p])
				}
			}
		})
	}
}

// answer is a list's status, ETag, Total-Records and ids.
func answer(t *testing.T, url, user string) string {
	t.Helper()
	res, raw := send(t, "GET", url, user, "")
	var body map[string]any
	json.Unmarshal(raw, &body)
	var ids []string
	if items, ok := body["data"].([]any); ok {
		for _, it := range items {
			m := it.(map[string]any)
			ids = append(ids, fmt.Sprint(m["id"], m["deleted"], m["last_modified"]))
		}
	}
	return fmt.Sprintf("%d %s %s %v", res.StatusCode, res.Header.Get("ETag"), res.Header.Get("Total-Records"), ids)
}
