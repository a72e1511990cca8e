package pgtest

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestHelperProcess is not a test: TestNothingLeftBehind runs the test
// binary again with PGTEST_HELPER set, and this starts a server, prints
// its folder, then ends the way the variable says, without calling Stop.
func TestHelperProcess(t *testing.T) {
	how := os.Getenv("PGTEST_HELPER")
	if how == "" {
		t.Skip("helper process of TestNothingLeftBehind")
	}
	s := Start(t)
	os.Stdout.WriteString("DIR " + s.dir + "\n")
	switch how {
	case "panic":
		panic("the test binary panics")
	case "fail":
		t.Fatal("the test fails")
	}
}

// TestNothingLeftBehind: a server a test binary started is stopped and
// its folder removed when the binary ends, whether it exits, fails or
// panics, with no TestMain calling Stop.
func TestNothingLeftBehind(t *testing.T) {
	Start(t) // skips or fails like the other tests when PostgreSQL is missing
	for _, how := range []string{"exit", "fail", "panic"} {
		t.Run(how, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(), "PGTEST_HELPER="+how)
			out, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			dir := ""
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if d, ok := strings.CutPrefix(sc.Text(), "DIR "); ok {
					dir = d
				}
			}
			cmd.Wait()
			if dir == "" {
				t.Fatal("the helper did not start a server")
			}
			deadline := time.Now().Add(20 * time.Second)
			for {
				_, statErr := os.Stat(dir)
				running := serverRunning(dir)
				if os.IsNotExist(statErr) && !running {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("after the binary ended (%s): folder left %v, server running %v", how, statErr == nil, running)
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}

// serverRunning tells whether a postgres process serves from dir.
func serverRunning(dir string) bool {
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		cmdline, err := os.ReadFile("/proc/" + p.Name() + "/cmdline")
		if err == nil && strings.Contains(string(cmdline), "postgres") && strings.Contains(string(cmdline), dir+"/data") {
			return true
		}
	}
	return false
}
