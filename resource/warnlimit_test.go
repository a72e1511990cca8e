package resource

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestWarnLimiter: the first warning goes out, the next ones within the
// period are counted, and the first after it says how many were left out.
func TestWarnLimiter(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	w := &warnLimiter{period: time.Hour}
	for i := 0; i < 5; i++ {
		w.warn(log, "backend unavailable", "error", "down")
	}
	if n := strings.Count(buf.String(), "backend unavailable"); n != 1 || strings.Contains(buf.String(), "left_out") {
		t.Fatalf("within a period, want one line without left_out:\n%s", buf.String())
	}
	w.last = w.last.Add(-2 * time.Hour) // the period is over
	w.warn(log, "backend unavailable", "error", "down")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "left_out=4") {
		t.Fatalf("after the period, want a second line with left_out=4:\n%s", buf.String())
	}
	w.last = w.last.Add(-2 * time.Hour)
	buf.Reset()
	w.warn(log, "backend unavailable", "error", "down")
	if strings.Contains(buf.String(), "left_out") {
		t.Fatalf("nothing was left out since the last line:\n%s", buf.String())
	}
}
