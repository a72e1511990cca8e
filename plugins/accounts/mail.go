package accounts

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"mime"
	"net"
	"net/smtp"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-server/nimbus/config"
)

// Message is one plain-text e-mail.
type Message struct {
	From, To, Subject, Body string
}

// Mailer delivers messages.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// newMailer builds the mailer chosen by mail.mailer.
func newMailer(s *config.Settings) (Mailer, error) {
	switch kind := s.String("mail.mailer"); kind {
	case "", "smtp":
		return &smtpMailer{host: s.String("mail.host"), port: s.IntDefault("mail.port"), user: s.String("mail.username"),
			pass: s.String("mail.password"), starttls: s.Bool("mail.tls"), implicitTLS: s.Bool("mail.ssl")}, nil
	case "debug":
		return &debugMailer{dir: s.String("mail.debug_directory")}, nil
	case "testing":
		return &MemoryMailer{}, nil
	default:
		return nil, fmt.Errorf("config: setting mail.mailer: %q is not one of smtp, debug, testing", kind)
	}
}

// render builds the RFC 5322 text of a message.
func render(m Message) []byte {
	var b bytes.Buffer
	id := make([]byte, 12)
	rand.Read(id)
	domain := "nimbus.local"
	if i := strings.LastIndexByte(m.From, '@'); i >= 0 {
		domain = m.From[i+1:]
	}
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s@%s>\r\n",
		m.From, m.To, mime.QEncoding.Encode("utf-8", m.Subject), time.Now().UTC().Format(time.RFC1123Z), hex.EncodeToString(id), domain)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	b.WriteString(strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n"))
	b.WriteString("\r\n")
	return b.Bytes()
}

type smtpMailer struct {
	host                  string
	port                  int
	user, pass            string
	starttls, implicitTLS bool
}

func (s *smtpMailer) Send(ctx context.Context, m Message) error {
	addr := net.JoinHostPort(s.host, strconv.Itoa(s.port))
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	d := net.Dialer{}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("mail: cannot reach %s: %w", addr, err)
	}
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	if s.implicitTLS {
		conn = tls.Client(conn, &tls.Config{ServerName: s.host})
	}
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("mail: %s: %w", addr, err)
	}
	defer c.Close()
	if s.starttls {
		if err := c.StartTLS(&tls.Config{ServerName: s.host}); err != nil {
			return fmt.Errorf("mail: STARTTLS with %s: %w", addr, err)
		}
	}
	if s.user != "" {
		if err := c.Auth(smtp.PlainAuth("", s.user, s.pass, s.host)); err != nil {
			return fmt.Errorf("mail: authentication with %s: %w", addr, err)
		}
	}
	if err := c.Mail(m.From); err != nil {
		return fmt.Errorf("mail: sender refused: %w", err)
	}
	if err := c.Rcpt(m.To); err != nil {
		return fmt.Errorf("mail: recipient refused: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	if _, err := w.Write(render(m)); err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("mail: message refused: %w", err)
	}
	return c.Quit()
}

type debugMailer struct{ dir string }

func (d *debugMailer) Send(_ context.Context, m Message) error {
	if err := os.MkdirAll(d.dir, 0o750); err != nil {
		return err
	}
	id := make([]byte, 6)
	rand.Read(id)
	name := fmt.Sprintf("%s-%s.eml", time.Now().UTC().Format("20060102T150405.000000"), hex.EncodeToString(id))
	return os.WriteFile(filepath.Join(d.dir, name), render(m), 0o640)
}

// MemoryMailer keeps messages in memory (mail.mailer = testing).
type MemoryMailer struct {
	mu   sync.Mutex
	Sent []Message
}

// Send implements Mailer.
func (t *MemoryMailer) Send(_ context.Context, m Message) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.Sent = append(t.Sent, m)
	return nil
}

var placeholder = regexp.MustCompile(`\{([^{}]+)\}`)

// fill replaces {name} placeholders; unknown ones are left as written.
func fill(tmpl string, values map[string]any) string {
	return placeholder.ReplaceAllStringFunc(tmpl, func(m string) string {
		v, ok := values[m[1:len(m)-1]]
		if !ok {
			return m
		}
		if s, ok := v.(string); ok {
			return s
		}
		return fmt.Sprint(v)
	})
}
