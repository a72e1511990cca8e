package pgtest

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// ProxyOptions shape a Proxy.
type ProxyOptions struct {
	// Delay is how long the proxy's port stays closed: a server that
	// starts after its clients do.
	Delay time.Duration
	// Pooler changes the process id of the server's BackendKeyData on its
	// way to the client, as a pooler (pgbouncer) announces a server
	// process of its own.
	Pooler bool
}

// Proxy forwards TCP connections from a free local port to target (a
// server's host:port) and returns that port's address at once; stop
// closes it and its connections (the test's end does too).
func Proxy(t testing.TB, target string, opts ProxyOptions) (addr string, stop func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = l.Addr().String()
	if opts.Delay > 0 {
		l.Close()
	}
	var mu sync.Mutex
	var conns []net.Conn
	var ln net.Listener
	closed := false
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		if opts.Delay > 0 {
			select {
			case <-time.After(opts.Delay):
			case <-quit:
				return
			}
			if l, err = net.Listen("tcp", addr); err != nil {
				t.Errorf("pgtest: proxy: %v", err)
				return
			}
		}
		mu.Lock()
		if closed {
			mu.Unlock()
			l.Close()
			return
		}
		ln = l
		mu.Unlock()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, up)
			mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() {
				defer c.Close()
				if opts.Pooler {
					rewritePID(c, up)
				} else {
					io.Copy(c, up)
				}
			}()
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			close(quit)
			mu.Lock()
			closed = true
			if ln != nil {
				ln.Close()
			}
			for _, c := range conns {
				c.Close()
			}
			mu.Unlock()
			<-done
		})
	}
	t.Cleanup(stop)
	return addr, stop
}

// rewritePID copies the server's messages (a type byte, then a length
// that counts itself) to the client, with another process id in
// BackendKeyData.
func rewritePID(client io.Writer, server io.Reader) {
	r := bufio.NewReader(server)
	head := make([]byte, 5)
	for {
		if _, err := io.ReadFull(r, head); err != nil {
			return
		}
		body := make([]byte, binary.BigEndian.Uint32(head[1:])-4)
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		if head[0] == 'K' && len(body) >= 4 {
			binary.BigEndian.PutUint32(body, binary.BigEndian.Uint32(body)+7919)
		}
		if _, err := client.Write(append(head, body...)); err != nil {
			return
		}
	}
}
