package accounts_test

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// smtpServer is a minimal in-process SMTP server that records the
// messages it receives, or refuses them when failing is set.
type smtpServer struct {
	ln      net.Listener
	mu      sync.Mutex
	msgs    []mail
	failing bool
	stall   time.Duration // wait before answering DATA
}

type mail struct {
	from, to string
	data     string
}

func (m mail) header(name string) string {
	for _, line := range strings.Split(m.data, "\r\n") {
		if line == "" {
			break
		}
		if k, v, ok := strings.Cut(line, ": "); ok && strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

func (m mail) body() string {
	_, b, _ := strings.Cut(m.data, "\r\n\r\n")
	return strings.TrimSpace(b)
}

func newSMTP(t testing.TB) *smtpServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *smtpServer) port() string { return strings.Split(s.ln.Addr().String(), ":")[1] }

func (s *smtpServer) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	w := func(line string) { c.Write([]byte(line + "\r\n")) }
	w("220 test ESMTP")
	var cur mail
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			w("250 test")
		case strings.HasPrefix(cmd, "MAIL FROM:"):
			cur = mail{from: strings.Trim(strings.TrimSpace(line)[10:], "<>")}
			w("250 ok")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			cur.to = strings.Trim(strings.TrimSpace(line)[8:], "<>")
			w("250 ok")
		case cmd == "DATA":
			w("354 go on")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			cur.data = b.String()
			s.mu.Lock()
			stall := s.stall
			s.mu.Unlock()
			time.Sleep(stall)
			s.mu.Lock()
			failing := s.failing
			if !failing {
				s.msgs = append(s.msgs, cur)
			}
			s.mu.Unlock()
			if failing {
				w("554 refused")
			} else {
				w("250 queued")
			}
		case cmd == "QUIT":
			w("221 bye")
			return
		default:
			w("250 ok")
		}
	}
}

func (s *smtpServer) messages() []mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]mail(nil), s.msgs...)
}

func (s *smtpServer) setFailing(f bool) {
	s.mu.Lock()
	s.failing = f
	s.mu.Unlock()
}
