package bolt_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/bolt"
)

var crashRef = storage.Ref{Resource: "record", Parent: "/buckets/b/collections/c"}

// TestCrashChild is the child process of TestSurvivesKill: it writes from
// several goroutines and prints each id once its Update has returned.
func TestCrashChild(t *testing.T) {
	path := os.Getenv("NIMBUS_CRASH_CHILD_DB")
	if path == "" {
		t.Skip("only run as the child of TestSurvivesKill")
	}
	b, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				id := fmt.Sprintf("%s-w%d-%06d", os.Getenv("NIMBUS_CRASH_ROUND"), w, i)
				err := b.Update(context.Background(), func(tx storage.Tx) error {
					if _, err := tx.Create(crashRef, storage.Object{"id": id, "pad": strings.Repeat("x", 150)}); err != nil {
						return err
					}
					return tx.SetACL(crashRef.Parent+"/records/"+id, storage.ACL{"write": {"u"}})
				})
				if err != nil {
					fmt.Println("ERR", err)
					os.Exit(1)
				}
				mu.Lock()
				fmt.Fprintln(out, "ACK", id)
				out.Flush()
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
}

func TestSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	for round := 0; round < 3; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
		cmd.Env = append(os.Environ(), "NIMBUS_CRASH_CHILD_DB="+path, fmt.Sprintf("NIMBUS_CRASH_ROUND=%d", round))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acked := map[string]bool{}
		sc := bufio.NewScanner(stdout)
		deadline := time.Now().Add(20 * time.Second)
		for sc.Scan() && len(acked) < 300+round*100 && time.Now().Before(deadline) {
			line := sc.Text()
			if strings.HasPrefix(line, "ERR") {
				t.Fatalf("child: %s", line)
			}
			if id, ok := strings.CutPrefix(line, "ACK "); ok {
				acked[id] = true
			}
		}
		cmd.Process.Signal(syscall.SIGKILL)
		// Acknowledgements already written to the pipe count too.
		go func() {
			for sc.Scan() {
			}
		}()
		cmd.Wait()
		if len(acked) == 0 {
			t.Fatal("child acknowledged nothing")
		}

		db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 5 * time.Second})
		if err != nil {
			t.Fatalf("reopen after kill: %v", err)
		}
		err = db.View(func(tx *bbolt.Tx) error {
			for err := range tx.Check() {
				return fmt.Errorf("corruption: %w", err)
			}
			return nil
		})
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		b, err := bolt.Open(path, bolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		err = b.View(context.Background(), func(tx storage.Tx) error {
			for id := range acked {
				if _, err := tx.Get(crashRef, id); err != nil {
					return fmt.Errorf("acknowledged %s lost: %v", id, err)
				}
				acl, _ := tx.GetACL(crashRef.Parent + "/records/" + id)
				if len(acl["write"]) != 1 {
					return fmt.Errorf("ACL of acknowledged %s lost", id)
				}
			}
			n, err := tx.Count(crashRef, nil, false)
			if err == nil && n < len(acked) {
				err = fmt.Errorf("count %d below %d acknowledged", n, len(acked))
			}
			return err
		})
		b.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
}
