package alert

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"testing"

	"github.com/gomirror/gomirror/internal/testcert"
)

// smtpServer is a loopback SMTP server for tests, speaking enough real
// SMTP for net/smtp: EHLO, STARTTLS (when offered), AUTH PLAIN, MAIL,
// RCPT, DATA, QUIT.
type smtpServer struct {
	addr       string
	implicit   bool // TLS from the first byte
	starttls   bool // offer STARTTLS
	conf       *tls.Config
	user, pass string
	mails      chan smtpMail
	errs       chan string
}

type smtpMail struct {
	from   string
	to     []string
	data   string
	authed bool // AUTH PLAIN succeeded
	tls    bool // the mail was sent over TLS
}

func newSMTPServer(t *testing.T, cert *testcert.Cert, implicit, starttls bool) *smtpServer {
	kp, err := tls.LoadX509KeyPair(cert.CertFile, cert.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	s := &smtpServer{addr: l.Addr().String(), implicit: implicit, starttls: starttls,
		conf: &tls.Config{Certificates: []tls.Certificate{kp}}, user: "alerts@corp.example", pass: "smtp-pa55",
		mails: make(chan smtpMail, 4), errs: make(chan string, 4)}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *smtpServer) serve(c net.Conn) {
	defer func() { c.Close() }()
	var m smtpMail
	if s.implicit {
		c = tls.Server(c, s.conf)
		m.tls = true
	}
	r := bufio.NewReader(c)
	reply := func(lines ...string) { io.WriteString(c, strings.Join(lines, "\r\n")+"\r\n") }
	reply("220 test ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			ext := []string{"250-test"}
			if s.starttls && !m.tls {
				ext = append(ext, "250-STARTTLS")
			}
			reply(append(ext, "250 AUTH PLAIN")...)
		case "STARTTLS":
			reply("220 go ahead")
			tc := tls.Server(c, s.conf)
			if err := tc.Handshake(); err != nil {
				s.errs <- "handshake: " + err.Error()
				return
			}
			c, r, m.tls = tc, bufio.NewReader(tc), true
		case "AUTH":
			mech, resp, _ := strings.Cut(arg, " ")
			b, _ := base64.StdEncoding.DecodeString(resp)
			if mech != "PLAIN" || string(b) != "\x00"+s.user+"\x00"+s.pass {
				reply("535 bad credentials")
				continue
			}
			m.authed = true
			reply("235 ok")
		case "MAIL":
			m.from = strings.Trim(strings.TrimPrefix(arg, "FROM:"), "<>")
			reply("250 ok")
		case "RCPT":
			m.to = append(m.to, strings.Trim(strings.TrimPrefix(arg, "TO:"), "<>"))
			reply("250 ok")
		case "DATA":
			reply("354 go on")
			var data strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				data.WriteString(strings.TrimPrefix(l, "."))
			}
			m.data = data.String()
			reply("250 queued")
			s.mails <- m
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("502 not implemented")
		}
	}
}

func (s *smtpServer) notifier(tlsMode string) Notifier {
	return Notifier{Name: "mail", Type: TypeEmail, SMTP: s.addr, TLS: tlsMode, Username: s.user, PasswordEnv: "SMTP_PASSWORD",
		From: "gomirror@corp.example", To: []string{"ops@corp.example", "oncall@corp.example"}}
}

func emailSenderFor(t *testing.T, n Notifier, cert *testcert.Cert, password string) Sender {
	t.Helper()
	if err := n.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := newSender(n, &Options{RootCAs: cert.Pool, LookupEnv: func(k string) (string, bool) { return password, k == "SMTP_PASSWORD" }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestEmail(t *testing.T) {
	cert := testcert.New(t)
	for _, tc := range []struct {
		name     string
		implicit bool
		mode     string
	}{
		{"STARTTLS", false, "starttls"},
		{"implicit TLS", true, "implicit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newSMTPServer(t, cert, tc.implicit, !tc.implicit)
			s := emailSenderFor(t, srv.notifier(tc.mode), cert, srv.pass)
			if err := send(t, s, testMessage); err != nil {
				t.Fatal(err)
			}
			var m smtpMail
			select {
			case m = <-srv.mails:
			case e := <-srv.errs:
				t.Fatal(e)
			}
			if !m.tls || !m.authed || m.from != "gomirror@corp.example" || strings.Join(m.to, ",") != "ops@corp.example,oncall@corp.example" {
				t.Errorf("mail envelope %+v", m)
			}
			msg, err := mail.ReadMessage(strings.NewReader(m.data))
			if err != nil {
				t.Fatal(err)
			}
			subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
			if err != nil || subject != testMessage.Title() {
				t.Errorf("Subject %q (%v), want %q", subject, err, testMessage.Title())
			}
			if msg.Header.Get("Content-Type") != "text/plain; charset=utf-8" || msg.Header.Get("To") != "ops@corp.example, oncall@corp.example" {
				t.Errorf("headers %v", msg.Header)
			}
			body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{testMessage.Text, testMessage.TextZH, "threshold: 200", "mirror-1"} {
				if !strings.Contains(string(body), want) {
					t.Errorf("body %q lacks %q", body, want)
				}
			}
		})
	}
}

// TestEmailRefusesPlaintextAuth: a server that does not offer STARTTLS
// never sees the password.
func TestEmailRefusesPlaintextAuth(t *testing.T) {
	cert := testcert.New(t)
	srv := newSMTPServer(t, cert, false, false)
	err := send(t, emailSenderFor(t, srv.notifier("starttls"), cert, srv.pass), testMessage)
	var perm *permanentError
	if err == nil || !errors.As(err, &perm) || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("err %v, want a permanent refusal naming STARTTLS", err)
	}
	if err != nil && strings.Contains(err.Error(), srv.pass) {
		t.Errorf("error %q shows the password", err)
	}
}

func TestEmailWrongPassword(t *testing.T) {
	cert := testcert.New(t)
	srv := newSMTPServer(t, cert, false, true)
	err := send(t, emailSenderFor(t, srv.notifier("starttls"), cert, "wrong-password"), testMessage)
	if err == nil || strings.Contains(err.Error(), "wrong-password") {
		t.Errorf("err %v, want an AUTH failure without the password", err)
	}
}
