package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestThirdPartyPlugin runs the tests of docs/plugin-example, a separate
// Go module that builds a custom nimbus with its own plugin (through
// Main) and tests it over HTTP, so that "go test ./..." covers the plugin
// API as a third party uses it. It needs the go command on PATH.
func TestThirdPartyPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a second module")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the example module: %v", err)
	}
	cmd := exec.Command(goCmd, "test", "-count=1", "./...")
	cmd.Dir = filepath.Join("..", "..", "..", "docs", "plugin-example")
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the example plugin's module failed: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
