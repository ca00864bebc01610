package alert

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"strings"
	"time"
)

// emailSender sends a plain-text email (UTF-8, quoted-printable) over
// SMTP (RFC 5321): with tls "starttls", STARTTLS (RFC 3207) when the
// server offers it, and required before AUTH; with "implicit", TLS from
// the first byte (RFC 8314). AUTH PLAIN (RFC 4616) only ever over TLS:
// net/smtp's PlainAuth refuses an unencrypted connection to anything but
// localhost, and this sender refuses it to localhost too.
type emailSender struct {
	n        Notifier
	password string
	rootCAs  *x509.CertPool
}

func (s *emailSender) Send(ctx context.Context, m Message) error {
	host, _, _ := net.SplitHostPort(s.n.SMTP)
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.n.SMTP)
	if err != nil {
		return err
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	conf := &tls.Config{ServerName: host, RootCAs: s.rootCAs, MinVersion: tls.VersionTLS12}
	if s.n.TLS == "implicit" {
		conn = tls.Client(conn, conf)
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	defer c.Close()
	if s.n.TLS != "implicit" {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(conf); err != nil {
				return fmt.Errorf("smtp STARTTLS: %w", err)
			}
		} else if s.n.Username != "" {
			return permanent("smtp: the server does not offer STARTTLS: not sending the password in clear")
		}
	}
	if s.n.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.n.Username, s.password, host)); err != nil {
			return fmt.Errorf("smtp AUTH: %w", err)
		}
	}
	if err := c.Mail(s.n.From); err != nil {
		return fmt.Errorf("smtp MAIL: %w", err)
	}
	for _, to := range s.n.To {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("smtp RCPT %s: %w", to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp DATA: %w", err)
	}
	if _, err := w.Write(s.mail(m)); err != nil {
		return fmt.Errorf("smtp DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp DATA: %w", err)
	}
	if err := c.Quit(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("smtp QUIT: %w", err)
	}
	return nil
}

// mail is the message in Internet Message Format (RFC 5322) with CRLF
// line ends: the subject encoded per RFC 2047, the body UTF-8 plain text
// in quoted-printable.
func (s *emailSender) mail(m Message) []byte {
	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", s.n.From)
	header("To", strings.Join(s.n.To, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", strings.NewReplacer("\r", " ", "\n", " ").Replace(m.Title())))
	header("Date", m.Time.Format(time.RFC1123Z))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	body := m.plain() + "\n\n" + fmt.Sprintf("rule: %s\nkind: %s\nstate: %s\nvalue: %v\nthreshold: %v\n", m.Rule, m.Kind, m.State, m.Value, m.Threshold)
	if m.Key != "" {
		body += "key: " + m.Key + "\n"
	}
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(strings.ReplaceAll(body, "\n", "\r\n")))
	qp.Close()
	return b.Bytes()
}
