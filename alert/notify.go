package alert

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomirror/gomirror/db"
)

// Message is one notification: an alert that fired (again, when Repeat)
// or resolved.
type Message struct {
	Rule      string
	Kind      string
	Key       string // the client, upstream or group; "" for the whole mirror
	State     string // firing or resolved
	Repeat    bool   // a reminder of an alert still firing
	Value     float64
	Threshold float64
	Since     time.Time // when it fired
	Time      time.Time // when this message was made
	Text      string    // English, one line
	TextZH    string    // Chinese, one line; may be empty
	Instance  string    // which gomirror; may be empty
}

// Title is the message's one-line summary, such as
// "[FIRING] gomirror alert latest-abuse: 10.0.0.7".
func (m Message) Title() string {
	s := "[" + strings.ToUpper(m.State) + "] gomirror alert " + m.Rule
	if m.Repeat {
		s = "[FIRING, REPEAT] gomirror alert " + m.Rule
	}
	if m.Key != "" {
		s += ": " + m.Key
	}
	return s
}

// titleZH is the Title in Chinese.
func (m Message) titleZH() string {
	state := "告警"
	if m.State == StateResolved {
		state = "恢复"
	}
	s := "【" + state + "】gomirror " + m.Rule
	if m.Key != "" {
		s += "：" + m.Key
	}
	return s
}

// footer names the instance and the time.
func (m Message) footer() string {
	s := m.Time.UTC().Format(time.RFC3339)
	if m.Instance != "" {
		s = m.Instance + " · " + s
	}
	return s
}

// plain is the message as plain text: title, English, Chinese, footer.
func (m Message) plain() string {
	var b strings.Builder
	b.WriteString(m.Title() + "\n" + m.Text + "\n")
	if m.TextZH != "" {
		b.WriteString(m.titleZH() + "\n" + m.TextZH + "\n")
	}
	b.WriteString(m.footer())
	return b.String()
}

// Sender sends one message to one channel. Send must return within ctx's
// deadline, must not retry (the caller does), and its errors must contain
// no secret (no webhook URL, which holds the robot's token): a
// *permanentError marks a failure that retrying cannot mend.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// permanentError is a failure not worth retrying: the receiver rejected
// the message (4xx but 429, or a vendor's error code).
type permanentError struct{ err error }

func (p *permanentError) Error() string { return p.err.Error() }
func (p *permanentError) Unwrap() error { return p.err }

func permanent(format string, args ...any) error {
	return &permanentError{fmt.Errorf(format, args...)}
}

// noURL strips the URL from an error of net/http (a *url.Error names the
// URL, which holds the robot's token) and keeps the rest.
func noURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return fmt.Errorf("%s: timeout", ue.Op)
		}
		var ne *net.OpError
		if errors.As(ue.Err, &ne) {
			return fmt.Errorf("%s: %v", ue.Op, ne)
		}
		return fmt.Errorf("%s: %v", ue.Op, ue.Err)
	}
	return err
}

// readSecret returns the secret held by file or the environment variable
// env (one of them is set; "" when neither). Errors name the file or
// variable, never the contents.
func readSecret(file, env string, lookupEnv func(string) (string, bool)) (string, error) {
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("reading the secret: %w", err)
		}
		s := strings.TrimRight(string(b), "\r\n")
		if s == "" {
			return "", fmt.Errorf("%s is empty", file)
		}
		return s, nil
	case env != "":
		s, ok := lookupEnv(env)
		if !ok || s == "" {
			return "", fmt.Errorf("environment variable %s is not set", env)
		}
		return s, nil
	}
	return "", nil
}

// readHeaders adds the "Name: value" lines of file to h. Errors name the
// file and line, never a value.
func readHeaders(file string, h http.Header) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || k == "" || strings.ContainsAny(k, " \t") || strings.ContainsAny(v, "\r\n") {
			return fmt.Errorf("%s:%d: want Name: value", file, i+1)
		}
		h.Set(k, strings.TrimSpace(v))
	}
	return nil
}

// newSender makes the Sender of a validated Notifier, reading its secrets.
func newSender(n Notifier, opts *Options) (Sender, error) {
	bad := func(field string, err error) error {
		return fmt.Errorf("notifier %q: %s: %v", n.Name, field, err)
	}
	secret, err := readSecret(n.SecretFile, n.SecretEnv, opts.LookupEnv)
	if err != nil {
		return nil, bad("secret", err)
	}
	if n.Type == TypeEmail {
		password, err := readSecret(n.PasswordFile, n.PasswordEnv, opts.LookupEnv)
		if err != nil {
			return nil, bad("password", err)
		}
		return &emailSender{n: n, password: password, rootCAs: opts.RootCAs}, nil
	}
	u := n.URL
	if u == "" {
		if u, err = readSecret(n.URLFile, n.URLEnv, opts.LookupEnv); err != nil {
			return nil, bad("url", err)
		}
		if err := checkURL(u); err != nil {
			return nil, bad("url", fmt.Errorf("the URL read: %v", err)) // checkURL's errors quote nothing
		}
	}
	h := httpSender{client: opts.HTTPClient, url: u}
	switch n.Type {
	case TypeWebhook:
		headers := http.Header{}
		for k, v := range n.Headers {
			headers.Set(k, v)
		}
		if n.HeadersFile != "" {
			if err := readHeaders(n.HeadersFile, headers); err != nil {
				return nil, bad("headers-file", err)
			}
		}
		return &webhookSender{httpSender: h, secret: secret, headers: headers}, nil
	case TypeSlack:
		return &slackSender{h}, nil
	case TypeDingTalk:
		return &dingTalkSender{httpSender: h, secret: secret, now: opts.Now}, nil
	case TypeWeCom:
		return &weComSender{h}, nil
	case TypeFeishu:
		return &feishuSender{httpSender: h, secret: secret, now: opts.Now}, nil
	}
	return nil, bad("type", fmt.Errorf("%q is not supported", n.Type))
}

// historySender writes alert events to the History.
type historySender struct{ h History }

func (s historySender) Send(ctx context.Context, m Message) error {
	text := m.Text
	if m.TextZH != "" {
		text += "\n" + m.TextZH
	}
	ev := db.AlertEvent{Time: m.Time, Rule: m.Rule, State: m.State, Key: m.Key, Value: m.Value, Text: text,
		Labels: map[string]string{"kind": m.Kind}}
	if m.Instance != "" {
		ev.Labels["instance"] = m.Instance
	}
	return s.h.AddAlertEvent(ctx, ev)
}

// job is a message to send, or (done set) a mark that Flush waits for.
type job struct {
	m    Message
	done chan struct{}
}

// worker sends one channel's messages in order, with a timeout per
// attempt and a bounded number of retries.
type worker struct {
	name    string
	s       Sender
	timeout time.Duration
	retries int
	backoff time.Duration
	log     interface {
		Warn(msg string, args ...any)
	}

	mu      sync.Mutex // guards closed against sends on q
	closed  bool
	q       chan job
	stop    chan struct{} // closed by abort: give up waiting
	stopped sync.Once
	dropped *atomic.Uint64
}

func (e *Engine) newWorker(name string, s Sender, timeout time.Duration, retries int) *worker {
	return &worker{name: name, s: s, timeout: timeout, retries: retries, backoff: e.opts.RetryBackoff,
		log: e.log, q: make(chan job, e.opts.Queue), stop: make(chan struct{}), dropped: &e.droppedMessages}
}

// enqueue queues j without waiting: a full queue drops it (logged).
func (w *worker) enqueue(j job) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	select {
	case w.q <- j:
	default:
		w.dropped.Add(1)
		w.log.Warn("alert: notification dropped: queue full", "to", w.name, "rule", j.m.Rule, "key", j.m.Key, "state", j.m.State)
	}
}

// enqueueWait queues j, waiting for room until ctx is done.
func (w *worker) enqueueWait(ctx context.Context, j job) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		close(j.done)
		return nil
	}
	select {
	case w.q <- j:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *worker) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.closed = true
		close(w.q)
	}
}

func (w *worker) abort() { w.stopped.Do(func() { close(w.stop) }) }

func (w *worker) run(wg *sync.WaitGroup) {
	defer wg.Done()
	for j := range w.q {
		if j.done != nil {
			close(j.done)
			continue
		}
		w.send(j.m)
	}
}

func (w *worker) send(m Message) {
	wait := w.backoff
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), w.timeout)
		go func() {
			select {
			case <-w.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		err := w.s.Send(ctx, m)
		cancel()
		if err == nil {
			return
		}
		var perm *permanentError
		if attempt >= w.retries || errors.As(err, &perm) {
			w.log.Warn("alert: notification failed", "to", w.name, "rule", m.Rule, "key", m.Key, "state", m.State, "attempts", attempt+1, "err", err)
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-w.stop:
			t.Stop()
			w.log.Warn("alert: notification abandoned at shutdown", "to", w.name, "rule", m.Rule, "key", m.Key, "err", err)
			return
		}
		wait *= 2
	}
}
