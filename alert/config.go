package alert

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/gomirror/gomirror/audit"
)

// Kinds of Rule.Kind.
const (
	// KindClientRate: one client (its token name, else its address) sent
	// more than Threshold requests (of RequestKind, if set) within Window.
	KindClientRate = "client-rate"
	// KindChecksumMismatch: at least Threshold (default 1) checksum
	// mismatches were reported (Engine.Mismatch) within Window.
	KindChecksumMismatch = "checksum-mismatch"
	// KindUpstreamDown: an upstream (Upstream names it, or every upstream
	// when empty), or every mirror of the group Upstream names, has been
	// failing for at least Window.
	KindUpstreamDown = "upstream-down"
	// KindUpstreamLag: a mirror of a group (Upstream names it or its
	// group, or every group mirror when empty) keeps lagging: its lag
	// rate (UpstreamState.LagRate, how often its list and @latest answers
	// lacked versions a peer had) has reached Threshold (default 0.5,
	// about four lagged comparisons in a row; at most 1).
	KindUpstreamLag = "upstream-lag"
	// KindSumDBUnreachable: the last Threshold (default 1) checksum-database
	// calls failed, the first of them at least Window ago.
	KindSumDBUnreachable = "sumdb-unreachable"
	// KindStorageUsage: storage is more than Threshold percent full.
	KindStorageUsage = "storage-usage"
	// KindErrorRate: more than Threshold percent of the requests within
	// Window were answered with a 5xx status, out of at least MinRequests.
	KindErrorRate = "error-rate"
)

// Rule is one alert rule, as the `alerts:` YAML setting lists them. Zero
// fields take the defaults of their kind (see Validate and the package
// documentation).
type Rule struct {
	Name string `yaml:"name"` // unique; names the alert in notifications and history
	Kind string `yaml:"kind"` // one of the Kind constants
	// Threshold is what the value must exceed (client-rate: requests;
	// storage-usage, error-rate: percent) or reach (checksum-mismatch:
	// mismatches; sumdb-unreachable: consecutive failures;
	// upstream-lag: the lag rate, 0 to 1).
	Threshold float64 `yaml:"threshold"`
	// Window is the period counted (client-rate, checksum-mismatch,
	// error-rate) or how long the failure must have lasted
	// (upstream-down, sumdb-unreachable). Not for storage-usage and
	// upstream-lag (a state, held for For).
	Window time.Duration `yaml:"window"`
	// For is how long the condition must hold, evaluation after
	// evaluation, before the alert fires (it is "pending" meanwhile). 0
	// fires at the first evaluation that finds it true.
	For time.Duration `yaml:"for"`
	// Repeat re-sends a firing alert every Repeat while it keeps firing;
	// 0 sends it once.
	Repeat time.Duration `yaml:"repeat"`
	// Resolve sends a "resolved" notification when the condition ends;
	// nil means true.
	Resolve *bool `yaml:"resolve"`
	// Notifiers names the notifiers this rule sends to; empty means all.
	Notifiers []string `yaml:"notifiers"`

	// RequestKind (client-rate only) counts only requests of this audit
	// kind (list, latest, info, mod, zip, sumdb); empty counts all.
	RequestKind string `yaml:"request-kind"`
	// Upstream (upstream-down, upstream-lag) names an upstream or a
	// group; empty watches every upstream, each its own alert
	// (upstream-lag: every group mirror, each its own alert).
	Upstream string `yaml:"upstream"`
	// MinRequests (error-rate only) is the fewest requests in the window
	// for the rate to count; 0 means 20.
	MinRequests int `yaml:"min-requests"`
}

// Defaults applied by Validate to zero fields.
const (
	defaultClientRateWindow = time.Hour
	defaultMismatchWindow   = time.Hour
	defaultUpstreamWindow   = 5 * time.Minute
	defaultErrorRateWindow  = 5 * time.Minute
	defaultMinRequests      = 20
	defaultLagRate          = 0.5
)

// resolve reports whether the rule sends "resolved" notifications.
func (r *Rule) resolve() bool { return r.Resolve == nil || *r.Resolve }

// Validate checks r and fills in the defaults of its kind. Errors name
// the rule and the field.
func (r *Rule) Validate() error {
	bad := func(field, format string, args ...any) error {
		name := r.Name
		if name == "" {
			name = "(unnamed)"
		}
		return fmt.Errorf("alert rule %q: %s: %s", name, field, fmt.Sprintf(format, args...))
	}
	if r.Name == "" {
		return bad("name", "is required")
	}
	if strings.ContainsAny(r.Name, "\r\n") {
		return bad("name", "must be one line")
	}
	if r.Threshold < 0 {
		return bad("threshold", "must not be negative")
	}
	if r.Window < 0 || r.For < 0 || r.Repeat < 0 {
		return bad("window/for/repeat", "must not be negative")
	}
	if r.Repeat > 0 && r.Repeat < time.Minute {
		return bad("repeat", "%v is under a minute", r.Repeat)
	}
	if r.RequestKind != "" && r.Kind != KindClientRate {
		return bad("request-kind", "only for kind %s", KindClientRate)
	}
	if r.Upstream != "" && r.Kind != KindUpstreamDown && r.Kind != KindUpstreamLag {
		return bad("upstream", "only for kinds %s and %s", KindUpstreamDown, KindUpstreamLag)
	}
	if r.MinRequests != 0 && r.Kind != KindErrorRate {
		return bad("min-requests", "only for kind %s", KindErrorRate)
	}
	switch r.Kind {
	case KindClientRate:
		if r.Threshold < 1 {
			return bad("threshold", "want the number of requests per window (at least 1)")
		}
		if r.RequestKind != "" && !audit.Audited(r.RequestKind) {
			return bad("request-kind", "%q is not one of list, latest, info, mod, zip, sumdb", r.RequestKind)
		}
		if r.Window == 0 {
			r.Window = defaultClientRateWindow
		}
	case KindChecksumMismatch:
		if r.Threshold == 0 {
			r.Threshold = 1
		}
		if r.Window == 0 {
			r.Window = defaultMismatchWindow
		}
	case KindUpstreamDown:
		if r.Window == 0 {
			r.Window = defaultUpstreamWindow
		}
	case KindUpstreamLag:
		if r.Threshold > 1 {
			return bad("threshold", "want a lag rate between 0 and 1 (default %v)", defaultLagRate)
		}
		if r.Threshold == 0 {
			r.Threshold = defaultLagRate
		}
		if r.Window != 0 {
			return bad("window", "not for kind %s: the lag rate already spans time; hold it with for", KindUpstreamLag)
		}
	case KindSumDBUnreachable:
		if r.Threshold == 0 {
			r.Threshold = 1
		}
	case KindStorageUsage:
		if r.Threshold <= 0 || r.Threshold >= 100 {
			return bad("threshold", "want a percentage between 0 and 100, exclusive")
		}
	case KindErrorRate:
		if r.Threshold <= 0 || r.Threshold >= 100 {
			return bad("threshold", "want a percentage between 0 and 100, exclusive")
		}
		if r.MinRequests < 0 {
			return bad("min-requests", "must not be negative")
		}
		if r.MinRequests == 0 {
			r.MinRequests = defaultMinRequests
		}
		if r.Window == 0 {
			r.Window = defaultErrorRateWindow
		}
	case "":
		return bad("kind", "is required (one of %s)", strings.Join(kinds, ", "))
	default:
		return bad("kind", "%q is not one of %s", r.Kind, strings.Join(kinds, ", "))
	}
	return nil
}

var kinds = []string{KindClientRate, KindChecksumMismatch, KindUpstreamDown, KindUpstreamLag, KindSumDBUnreachable, KindStorageUsage, KindErrorRate}

// Types of Notifier.Type.
const (
	TypeWebhook  = "webhook"  // generic JSON webhook (Payload), optionally signed
	TypeSlack    = "slack"    // Slack incoming webhook
	TypeDingTalk = "dingtalk" // DingTalk custom robot, optionally with its signing secret
	TypeWeCom    = "wecom"    // WeCom group robot
	TypeFeishu   = "feishu"   // Feishu/Lark custom bot, optionally with its signing secret
	TypeEmail    = "email"    // email over SMTP
)

var types = []string{TypeWebhook, TypeSlack, TypeDingTalk, TypeWeCom, TypeFeishu, TypeEmail}

// Notifier is one notification channel, as the `notifiers:` YAML setting
// lists them. Secrets are never part of it: they are read, when the
// Engine is made, from the file or environment variable the *-file and
// *-env fields name (exactly one of the two where a secret is needed).
type Notifier struct {
	Name string `yaml:"name"` // unique; rules name it in their notifiers
	Type string `yaml:"type"` // one of the Type constants

	// URL is the webhook's address, allowed inline for type webhook
	// only: the URLs of the vendors' robots are their credentials
	// (a token in the path or query), so they come from URLFile or
	// URLEnv.
	URL     string `yaml:"url"`
	URLFile string `yaml:"url-file"`
	URLEnv  string `yaml:"url-env"`
	// SecretFile or SecretEnv holds the signing secret: webhook (HMAC-SHA256
	// of the body in the X-Gomirror-Signature header), dingtalk and feishu
	// (the robot's signing secret). Optional.
	SecretFile string `yaml:"secret-file"`
	SecretEnv  string `yaml:"secret-env"`
	// Headers are added to every request of a webhook (type webhook
	// only); HeadersFile names a file of more, one "Name: value" a line
	// (for a header that is a credential, such as Authorization), read
	// when the Engine is made.
	Headers     map[string]string `yaml:"headers"`
	HeadersFile string            `yaml:"headers-file"`

	// Email: SMTP is the server's host:port; TLS is "starttls" (the
	// default: STARTTLS, required when authenticating, used when offered
	// otherwise) or "implicit" (TLS from the first byte, usually port
	// 465). Username with PasswordFile or PasswordEnv authenticates with
	// AUTH PLAIN, only over TLS.
	SMTP         string   `yaml:"smtp"`
	TLS          string   `yaml:"tls"`
	Username     string   `yaml:"username"`
	PasswordFile string   `yaml:"password-file"`
	PasswordEnv  string   `yaml:"password-env"`
	From         string   `yaml:"from"`
	To           []string `yaml:"to"`

	// Timeout bounds one attempt (default 10s); Retries is how many more
	// attempts a failed send gets (default 2, at most 5).
	Timeout time.Duration `yaml:"timeout"`
	Retries *int          `yaml:"retries"`
}

const (
	defaultTimeout = 10 * time.Second
	defaultRetries = 2
	maxRetries     = 5
)

// Validate checks n and fills in defaults. Errors name the notifier and
// the field, never a secret (URLs read from files are checked only when
// the Engine is made).
func (n *Notifier) Validate() error {
	bad := func(field, format string, args ...any) error {
		name := n.Name
		if name == "" {
			name = "(unnamed)"
		}
		return fmt.Errorf("notifier %q: %s: %s", name, field, fmt.Sprintf(format, args...))
	}
	if n.Name == "" {
		return bad("name", "is required")
	}
	if !contains(types, n.Type) {
		return bad("type", "%q is not one of %s", n.Type, strings.Join(types, ", "))
	}
	if n.Timeout < 0 {
		return bad("timeout", "must not be negative")
	}
	if n.Timeout == 0 {
		n.Timeout = defaultTimeout
	}
	if n.Retries == nil {
		r := defaultRetries
		n.Retries = &r
	}
	if *n.Retries < 0 || *n.Retries > maxRetries {
		return bad("retries", "want 0 to %d", maxRetries)
	}
	if n.SecretFile != "" && n.SecretEnv != "" {
		return bad("secret-file", "give one of secret-file and secret-env, not both")
	}
	if (n.SecretFile != "" || n.SecretEnv != "") && n.Type != TypeWebhook && n.Type != TypeDingTalk && n.Type != TypeFeishu {
		return bad("secret-file", "type %s has no signing secret", n.Type)
	}
	if (len(n.Headers) > 0 || n.HeadersFile != "") && n.Type != TypeWebhook {
		return bad("headers", "only for type %s", TypeWebhook)
	}
	for k := range n.Headers {
		if k == "" || strings.ContainsAny(k, ": \r\n") {
			return bad("headers", "%q is not a header name", k)
		}
	}
	if n.Type == TypeEmail {
		return n.validateEmail(bad)
	}
	if n.SMTP != "" || n.From != "" || len(n.To) > 0 || n.Username != "" || n.PasswordFile != "" || n.PasswordEnv != "" || n.TLS != "" {
		return bad("smtp", "smtp, tls, username, password-*, from and to are for type %s", TypeEmail)
	}
	sources := 0
	for _, s := range []string{n.URL, n.URLFile, n.URLEnv} {
		if s != "" {
			sources++
		}
	}
	if sources != 1 {
		return bad("url", "give exactly one of url, url-file and url-env")
	}
	if n.URL != "" {
		if n.Type != TypeWebhook {
			return bad("url", "a %s URL is a credential: give it in url-file or url-env", n.Type)
		}
		if err := checkURL(n.URL); err != nil {
			return bad("url", "%v", err)
		}
	}
	return nil
}

func (n *Notifier) validateEmail(bad func(field, format string, args ...any) error) error {
	if n.URL != "" || n.URLFile != "" || n.URLEnv != "" {
		return bad("url", "not for type %s", TypeEmail)
	}
	if _, port, err := net.SplitHostPort(n.SMTP); err != nil || port == "" {
		return bad("smtp", "want host:port")
	}
	switch n.TLS {
	case "":
		n.TLS = "starttls"
	case "starttls", "implicit":
	default:
		return bad("tls", "%q is not starttls or implicit", n.TLS)
	}
	if n.PasswordFile != "" && n.PasswordEnv != "" {
		return bad("password-file", "give one of password-file and password-env, not both")
	}
	if (n.Username == "") != (n.PasswordFile == "" && n.PasswordEnv == "") {
		return bad("username", "username and password-file (or password-env) go together")
	}
	if !validAddress(n.From) {
		return bad("from", "want one address")
	}
	if len(n.To) == 0 {
		return bad("to", "is required")
	}
	for _, a := range n.To {
		if !validAddress(a) {
			return bad("to", "%q is not an address", a)
		}
	}
	return nil
}

// validAddress accepts a bare address (user@host), which is what goes
// into the SMTP envelope; it rejects anything that could inject commands
// or headers.
func validAddress(a string) bool {
	at := strings.LastIndex(a, "@")
	return at > 0 && at < len(a)-1 && !strings.ContainsAny(a, " <>\r\n\t,;\"")
}

// checkURL accepts an absolute http(s) URL.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an http(s) URL")
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Validate checks a whole configuration: each rule and notifier, unique
// names, and that every notifier a rule names exists.
func Validate(rules []Rule, notifiers []Notifier) error {
	names := map[string]bool{}
	for i := range notifiers {
		if err := notifiers[i].Validate(); err != nil {
			return err
		}
		if names[notifiers[i].Name] {
			return fmt.Errorf("notifier %q: name: given twice", notifiers[i].Name)
		}
		names[notifiers[i].Name] = true
	}
	seen := map[string]bool{}
	for i := range rules {
		r := &rules[i]
		if err := r.Validate(); err != nil {
			return err
		}
		if seen[r.Name] {
			return fmt.Errorf("alert rule %q: name: given twice", r.Name)
		}
		seen[r.Name] = true
		for i, n := range r.Notifiers {
			if !names[n] {
				return fmt.Errorf("alert rule %q: notifiers: no notifier is named %q", r.Name, n)
			}
			if contains(r.Notifiers[:i], n) {
				return fmt.Errorf("alert rule %q: notifiers: %q given twice", r.Name, n)
			}
		}
	}
	return nil
}
