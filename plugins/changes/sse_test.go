package changes_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

// event is one Server-Sent Event as a client parses it.
type event struct {
	ID   int64
	Name string
	Data map[string]any
}

// client follows one stream; events arrive on Events until the stream
// ends (then Events is closed).
type client struct {
	Status int
	Header http.Header
	Body   map[string]any // the JSON error when the stream was refused
	Events chan event
	cancel context.CancelFunc
}

// follow opens a stream on path with the headers given.
func follow(t testing.TB, s *apitest.Server, path, auth string, headers map[string]string) *client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL+path, nil)
	req.Header.Set("Accept", "text/event-stream")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", path, err)
	}
	c := &client{Status: res.StatusCode, Header: res.Header, Events: make(chan event, 10000), cancel: cancel}
	t.Cleanup(cancel)
	if res.StatusCode != 200 {
		defer res.Body.Close()
		json.NewDecoder(res.Body).Decode(&c.Body)
		close(c.Events)
		return c
	}
	go func() {
		defer res.Body.Close()
		defer close(c.Events)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev event
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.Name != "" {
					c.Events <- ev
				}
				ev = event{}
			case strings.HasPrefix(line, ":"):
			case strings.HasPrefix(line, "id: "):
				ev.ID, _ = strconv.ParseInt(line[4:], 10, 64)
			case strings.HasPrefix(line, "event: "):
				ev.Name = line[7:]
			case strings.HasPrefix(line, "data: "):
				json.Unmarshal([]byte(line[6:]), &ev.Data)
			}
		}
	}()
	return c
}

// next returns the next event, failing after a few seconds.
func (c *client) next(t *testing.T) event {
	t.Helper()
	select {
	case ev, ok := <-c.Events:
		if !ok {
			t.Fatal("the stream ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	return event{}
}

// ended waits for the stream's end and returns the events before it.
func (c *client) ended(t *testing.T) []event {
	t.Helper()
	var out []event
	deadline := time.After(15 * time.Second)
	for {
		select {
		case ev, ok := <-c.Events:
			if !ok {
				return out
			}
			out = append(out, ev)
		case <-deadline:
			t.Fatalf("the stream did not end; events %v", out)
		}
	}
}

// quiet checks that no event comes for a moment.
func (c *client) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case ev, ok := <-c.Events:
		if ok {
			t.Fatalf("unexpected event %s %v", ev.Name, ev.Data)
		}
	case <-time.After(d):
	}
}

// obj returns an event's object.
func (e event) obj() map[string]any { m, _ := e.Data["data"].(map[string]any); return m }

func (e event) String() string { return fmt.Sprintf("%d %s %v", e.ID, e.Name, e.Data) }
