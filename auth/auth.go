// Package auth authenticates gomirror's clients with tokens.
//
// A token is a named, random secret that `gomirror token add` generates and
// keeps only as a SHA-256 hash in a tokens file (see Tokens). The go command
// sends it to a GOPROXY over HTTPS either from .netrc,
//
//	machine mirror.example.com login NAME password TOKEN
//
// which arrives as HTTP Basic authentication with the token name as user, or
// from a GOAUTH command printing a header such as
//
//	Authorization: Bearer TOKEN
//
// An Authenticator decides, from its Options, which requests need a token
// (none, those for private modules, or all) and which tokens may read which
// modules, and its Wrap method is the HTTP middleware that enforces it:
// 401 for missing or wrong credentials, 403 for a valid token that a rule
// does not allow, and 429 for a client address that has sent too many wrong
// credentials. Secrets never appear in logs, responses or errors.
package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gomirror/gomirror/internal/clientaddr"
	"github.com/gomirror/gomirror/modpattern"
)

// Mode says which requests need a token when no Rule matches.
type Mode string

const (
	// ModeOff authenticates nothing: Wrap returns its handler unchanged.
	ModeOff Mode = "off"
	// ModePrivate asks a token for modules matching Options.Private; all
	// other requests are anonymous.
	ModePrivate Mode = "private"
	// ModeAll asks a token for every request that Wrap guards.
	ModeAll Mode = "all"
)

// ParseMode parses a mode name (case-insensitive; "" is ModeOff).
func ParseMode(s string) (Mode, error) {
	return parseName("auth mode", s, ModeOff, ModePrivate, ModeAll)
}

// parseName returns the name s, without surrounding space and in lower
// case, if it is one of names; "" is names[0]. Its error names what was
// parsed and lists names.
func parseName[T ~string](what, s string, names ...T) (T, error) {
	n := T(strings.ToLower(strings.TrimSpace(s)))
	if n == "" {
		return names[0], nil
	}
	if slices.Contains(names, n) {
		return n, nil
	}
	want := make([]string, len(names))
	for i, n := range names {
		want[i] = string(n)
	}
	last := len(want) - 1
	return "", fmt.Errorf("unknown %s %q (want %s or %s)", what, s, strings.Join(want[:last], ", "), want[last])
}

// Rule restricts modules to some tokens.
type Rule struct {
	// Modules is a comma-separated list of module path patterns in
	// GOPRIVATE syntax (glob patterns matching path prefixes), matched
	// ignoring case as modpattern.List.Match does: a case variant of a
	// guarded path is guarded too.
	Modules string
	// Tokens names the tokens that may read these modules.
	Tokens []string
}

// Options configures an Authenticator.
type Options struct {
	// Mode says which requests need a token when no rule matches; "" is
	// ModeOff.
	Mode Mode
	// Private lists the private module path patterns, GOPRIVATE syntax
	// (gomirror passes private and noproxy: every module it fetches with
	// its VCS credentials), for ModePrivate, matched ignoring case (modpattern.List.Match). Other
	// modes ignore it.
	Private string
	// Rules are checked in order before Mode; the first whose Modules
	// match a request's module decides which tokens may read it. Rules
	// need a mode other than ModeOff.
	Rules []Rule
	// TokensFile is the tokens file (see Tokens); required unless Mode is
	// ModeOff. With ModeOff it is loaded only with Admin, for the admin
	// tokens that WrapAdmin checks. Changes to it take effect within about
	// a second.
	TokensFile string
	// Admin says that the operator endpoints are guarded by WrapAdmin. It
	// only adds warnings at New when no admin token can pass.
	Admin bool
	// Logger receives failed attempts and reload errors; nil discards.
	Logger *slog.Logger
	// FailureBurst is how many wrong credentials one client address may
	// send before it is answered 429; 0 means DefaultFailureBurst.
	FailureBurst int
	// FailureRefill is how long it takes for one failure to be forgiven;
	// 0 means DefaultFailureRefill.
	FailureRefill time.Duration
}

// OptionError is a wrong setting in Options.
type OptionError struct {
	Option string // the Options field, such as "Mode" or "Rules[1].Modules"
	Value  string // the value set
	Err    error
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("auth: %s %q: %v", e.Option, e.Value, e.Err)
}

func (e *OptionError) Unwrap() error { return e.Err }

// reloadInterval is how often, at most, the tokens file is checked for
// changes.
const reloadInterval = time.Second

// Authenticator checks client credentials. Its methods are safe for
// concurrent use.
type Authenticator struct {
	mode    Mode
	private modpattern.List
	rules   []rule
	path    string
	log     *slog.Logger
	limiter *failureLimiter
	signIns *failureLimiter  // console sign-ins with a right token, per address
	now     func() time.Time // the clock; tests replace it

	mu      sync.Mutex
	set     *tokenSet
	fi      fs.FileInfo // of the file set was loaded from; nil if missing
	checked time.Time   // when the file was last looked at
}

type rule struct {
	modules modpattern.List
	allowed map[string]bool
}

// New checks opts and returns an Authenticator. Errors are *OptionError.
// The tokens file is loaded now: a file that cannot be read or parsed is
// an error, a missing one is an empty store. A rule naming a token that is
// not (yet) in the file is only logged as a warning.
func New(opts Options) (*Authenticator, error) {
	mode, err := ParseMode(string(opts.Mode))
	if err != nil {
		return nil, &OptionError{Option: "Mode", Value: string(opts.Mode), Err: err}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Authenticator{mode: mode, path: opts.TokensFile, log: log, now: time.Now}
	if mode == ModeOff && len(opts.Rules) > 0 {
		return nil, &OptionError{Option: "Mode", Value: string(opts.Mode), Err: errors.New("auth rules need mode private or all; mode off authenticates nothing")}
	}

	if a.private, err = modpattern.Parse(opts.Private); err != nil {
		return nil, &OptionError{Option: "Private", Value: opts.Private, Err: err}
	}
	for i, r := range opts.Rules {
		field := fmt.Sprintf("Rules[%d]", i)
		if strings.Trim(r.Modules, ", ") == "" {
			return nil, &OptionError{Option: field + ".Modules", Value: r.Modules, Err: errors.New("a rule needs module patterns")}
		}
		pats, err := modpattern.Parse(r.Modules)
		if err != nil {
			return nil, &OptionError{Option: field + ".Modules", Value: r.Modules, Err: err}
		}
		if len(r.Tokens) == 0 {
			return nil, &OptionError{Option: field + ".Tokens", Value: "", Err: fmt.Errorf("rule for %s names no token", r.Modules)}
		}
		allowed := make(map[string]bool, len(r.Tokens))
		for _, name := range r.Tokens {
			if err := ValidName(name); err != nil {
				return nil, &OptionError{Option: field + ".Tokens", Value: strings.Join(r.Tokens, ","), Err: err}
			}
			allowed[name] = true
		}
		a.rules = append(a.rules, rule{modules: pats, allowed: allowed})
	}

	burst, refill := opts.FailureBurst, opts.FailureRefill
	if burst == 0 {
		burst = DefaultFailureBurst
	}
	if refill == 0 {
		refill = DefaultFailureRefill
	}
	if burst < 0 {
		return nil, &OptionError{Option: "FailureBurst", Value: strconv.Itoa(burst), Err: errors.New("must not be negative")}
	}
	if refill < 0 {
		return nil, &OptionError{Option: "FailureRefill", Value: refill.String(), Err: errors.New("must not be negative")}
	}
	a.limiter = newFailureLimiter(burst, refill)
	a.signIns = newFailureLimiter(SignInBurst, SignInRefill)

	if opts.TokensFile == "" || mode == ModeOff && !opts.Admin {
		if mode != ModeOff {
			return nil, &OptionError{Option: "TokensFile", Value: "", Err: fmt.Errorf("auth mode %s needs a tokens file", mode)}
		}
		a.set, a.path = &tokenSet{byName: map[string]int{}}, ""
		if opts.Admin {
			log.Warn("auth: the operator endpoints need an admin token, but there is no tokens file: they refuse everyone; set tokens-file and add one with gomirror token add --role admin NAME")
		}
		return a, nil
	}
	if err := a.load(); err != nil {
		return nil, &OptionError{Option: "TokensFile", Value: opts.TokensFile, Err: err}
	}
	a.checked = a.now()

	if mode != ModeOff && a.set.count(RoleClient) == 0 {
		log.Warn("auth: no client tokens yet; add one with gomirror token add", "tokens_file", a.path)
	}
	if opts.Admin && a.set.count(RoleAdmin) == 0 {
		log.Warn("auth: no admin tokens yet, so the operator endpoints refuse everyone; add one with gomirror token add --role admin NAME", "tokens_file", a.path)
	}
	for i, r := range opts.Rules {
		for _, name := range r.Tokens {
			if !a.set.has(name) {
				log.Warn("auth: rule names a token that is not in the tokens file (yet)", "rule", i, "token", name, "tokens_file", a.path)
			}
		}
	}
	if mode == ModePrivate && a.private.Empty() && len(a.rules) == 0 {
		log.Warn("auth: mode private without private patterns or rules: no request needs a token")
	}
	return a, nil
}

// Mode returns the mode in effect.
func (a *Authenticator) Mode() Mode { return a.mode }

// load reads the tokens file into a.set. A missing file is empty.
func (a *Authenticator) load() error {
	f, err := os.Open(a.path)
	if errors.Is(err, fs.ErrNotExist) {
		a.set, a.fi = &tokenSet{byName: map[string]int{}}, nil
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	_, set, err := decodeTokenFile(f, a.path)
	if err != nil {
		// Remember the file all the same, so that a broken file is
		// reported once, not at every check until it is fixed.
		a.fi = fi
		return err
	}
	a.set, a.fi = set, fi
	return nil
}

// tokens returns the current tokens, first reloading the file if it was
// last checked at least reloadInterval ago and has changed since.
func (a *Authenticator) tokens() *tokenSet {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.path == "" {
		return a.set
	}
	if d := now.Sub(a.checked); d >= 0 && d < reloadInterval {
		return a.set
	}
	a.checked = now
	fi, err := os.Stat(a.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if a.fi == nil {
			return a.set
		}
	case err != nil:
		a.log.Error("auth: cannot check tokens file; keeping the loaded tokens", "tokens_file", a.path, "err", err)
		return a.set
	case a.fi != nil && os.SameFile(a.fi, fi) && a.fi.ModTime().Equal(fi.ModTime()) && a.fi.Size() == fi.Size():
		return a.set
	}
	if err := a.load(); err != nil {
		a.log.Error("auth: cannot reload tokens file; keeping the previous tokens", "tokens_file", a.path, "err", err)
		return a.set
	}
	a.log.Info("auth: tokens file reloaded", "tokens_file", a.path, "tokens", len(a.set.entries))
	return a.set
}

// need says what a request needs: nothing (anonymous), any valid token, or
// a token named in allowed.
type need struct {
	token   bool
	allowed map[string]bool // nil: any valid token
}

func (a *Authenticator) needFor(mod string, isModule bool) need {
	if isModule {
		for _, r := range a.rules {
			if r.modules.Match(mod) {
				return need{token: true, allowed: r.allowed}
			}
		}
		if a.mode == ModePrivate && a.private.Match(mod) {
			return need{token: true}
		}
	}
	return need{token: a.mode == ModeAll}
}

// Allows reports whether Wrap lets a request for module mod through with
// the valid token named name, or with none if name is "": unlike MayRead
// (the console's question for a signed-in token), it asks for a token where
// the mode or the private patterns do, and for a client token (ModeOff and
// a nil a let everyone through). An API that answers about modules (the
// policy check endpoint) asks it for each module it names, so that a
// requester learns nothing of a module it may not read.
func (a *Authenticator) Allows(name, mod string) bool {
	if a == nil || a.mode == ModeOff {
		return true
	}
	n := a.needFor(mod, true)
	if !n.token {
		return true
	}
	if name == "" || a.tokens().role(name) != RoleClient {
		return false
	}
	return n.allowed == nil || n.allowed[name]
}

type identityKey struct{}

// Identity returns the name of the token that authenticated the request
// with context ctx, or "" if the request is anonymous.
func Identity(ctx context.Context) string {
	name, _ := ctx.Value(identityKey{}).(string)
	return name
}

// credentials are what a request's Authorization header holds.
type credentials struct {
	scheme string // "basic" or "bearer"; "" if none
	name   string // Basic user name
	secret string
}

func credentialsOf(r *http.Request) credentials {
	if name, secret, ok := r.BasicAuth(); ok {
		return credentials{scheme: "basic", name: name, secret: secret}
	}
	h := r.Header.Get("Authorization")
	if scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " "); ok && strings.EqualFold(scheme, "Bearer") {
		if tok = strings.TrimSpace(tok); tok != "" {
			return credentials{scheme: "bearer", secret: tok}
		}
	}
	return credentials{}
}

// check returns the token name that c authenticates.
func (s *tokenSet) check(c credentials) (string, bool) {
	switch c.scheme {
	case "basic":
		return c.name, s.checkBasic(c.name, c.secret)
	case "bearer":
		return s.checkBearer(c.secret)
	}
	return "", false
}

// Wrap returns next guarded by a. moduleOf returns the module path that a
// request names, if any (a nil moduleOf means no request names one). Module
// paths are matched against patterns case-insensitively, so that a case
// variant of a private path is private too.
//
// A request that needs no token is passed on as it is; if it carries valid
// credentials anyway, Identity reports their token, and invalid ones are
// ignored. A request that needs a token is answered, without calling next:
//   - 429 with Retry-After if its client address has used up its allowance
//     of wrong credentials (checked before the credentials);
//   - 401 with WWW-Authenticate if it has no credentials or wrong ones
//     (wrong ones count against the client address);
//   - 403 if its token is valid but not allowed by the matching rule.
//
// Otherwise next serves it with Identity set, and "public" in its
// Cache-Control turned into "private", so that no shared cache hands an
// authenticated response to someone else. With ModeOff, or a nil a, Wrap
// returns next itself.
func (a *Authenticator) Wrap(next http.Handler, moduleOf func(*http.Request) (module string, ok bool)) http.Handler {
	if a == nil || a.mode == ModeOff {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var (
			mod      string
			isModule bool
		)
		if moduleOf != nil {
			mod, isModule = moduleOf(r)
		}
		n := a.needFor(mod, isModule)
		if !n.token {
			if creds := credentialsOf(r); creds.scheme != "" {
				if name, ok := a.tokens().check(creds); ok {
					r = r.WithContext(context.WithValue(r.Context(), identityKey{}, name))
				}
			}
			next.ServeHTTP(w, r)
			return
		}

		name, role, ok := a.authenticate(w, r, mod, func() { unauthorized(w, r, mod, isModule) })
		if !ok {
			return
		}
		if role != RoleClient {
			a.log.Warn("auth: token of another role used to read a module", "remote", clientaddr.From(r), "token", name, "role", role, "module", mod, "path", r.URL.Path)
			deny(w, http.StatusForbidden, fmt.Sprintf("gomirror: token %q is an %s token; it may not read modules", name, role))
			return
		}
		if n.allowed != nil && !n.allowed[name] {
			a.log.Warn("auth: token not allowed for module", "remote", clientaddr.From(r), "token", name, "module", mod, "path", r.URL.Path)
			deny(w, http.StatusForbidden, fmt.Sprintf("gomirror: token %q may not read module %q", name, mod))
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), identityKey{}, name))
		next.ServeHTTP(&privateWriter{ResponseWriter: w}, r)
	})
}

// authenticate checks the credentials of a request that needs a token and
// returns the token's name and role. If they do not authenticate, it has answered
// the request: 429 when the client address (clientaddr.From) has no
// failures left, else unauthorized's answer (wrong credentials count
// against the address).
func (a *Authenticator) authenticate(w http.ResponseWriter, r *http.Request, mod string, unauthorized func()) (string, Role, bool) {
	now := a.now()
	remote := clientaddr.From(r)
	key := clientaddr.Key(remote)
	if wait, blocked := a.limiter.blocked(key, now); blocked {
		a.log.Debug("auth: too many failed attempts", "remote", remote, "module", mod, "path", r.URL.Path)
		w.Header().Set("Retry-After", strconv.FormatInt(int64((wait+time.Second-1)/time.Second), 10))
		deny(w, http.StatusTooManyRequests, "gomirror: too many failed authentication attempts; try again later")
		return "", "", false
	}
	creds := credentialsOf(r)
	if creds.scheme == "" {
		a.log.Debug("auth: no credentials", "remote", remote, "module", mod, "path", r.URL.Path)
		unauthorized()
		return "", "", false
	}
	set := a.tokens()
	name, ok := set.check(creds)
	if !ok {
		a.limiter.fail(key, now)
		attrs := []any{"remote", remote, "scheme", creds.scheme, "module", mod, "path", r.URL.Path}
		if creds.scheme == "basic" {
			attrs = append(attrs, "token", loggableName(set, creds.name))
		}
		a.log.Warn("auth: wrong credentials", attrs...)
		unauthorized()
		return "", "", false
	}
	return name, set.role(name), true
}

// WrapAdmin returns next, an operator endpoint, guarded by a: every request
// needs an admin token (RoleAdmin), whatever the mode, and is answered
// without calling next
//   - 429 with Retry-After if its client address has used up its allowance
//     of wrong credentials (shared with Wrap);
//   - 401 with WWW-Authenticate if it has no credentials or wrong ones;
//   - 403 if its token is valid but not an admin token.
//
// A nil a refuses every request with 401.
func (a *Authenticator) WrapAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		adminUnauthorized := func() {
			w.Header().Set("WWW-Authenticate", `Basic realm="gomirror operator"`)
			deny(w, http.StatusUnauthorized, "gomirror: this operator endpoint needs an admin token (gomirror token add --role admin NAME): send \"Authorization: Bearer TOKEN\" or Basic NAME:TOKEN")
		}
		if a == nil {
			adminUnauthorized()
			return
		}
		name, role, ok := a.authenticate(w, r, "", adminUnauthorized)
		if !ok {
			return
		}
		if role != RoleAdmin {
			a.log.Warn("auth: non-admin token used on an operator endpoint", "remote", clientaddr.From(r), "token", name, "role", role, "path", r.URL.Path)
			deny(w, http.StatusForbidden, fmt.Sprintf("gomirror: token %q is not an admin token", name))
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), identityKey{}, name))
		next.ServeHTTP(&privateWriter{ResponseWriter: w}, r)
	})
}

// loggableName returns a Basic user name fit for the log: a known token
// name, or any valid name that does not look like a secret (a user who put
// the secret in the login field must not find it in the log).
func loggableName(set *tokenSet, name string) string {
	if set.has(name) || ValidName(name) == nil && !strings.HasPrefix(name, SecretPrefix) {
		return name
	}
	return "(not shown)"
}

func unauthorized(w http.ResponseWriter, r *http.Request, mod string, isModule bool) {
	what := "this request"
	if isModule {
		what = fmt.Sprintf("module %q", mod)
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="gomirror"`)
	deny(w, http.StatusUnauthorized, fmt.Sprintf(
		"gomirror: a token is required for %s: add \"machine %s login NAME password TOKEN\" to .netrc, or have GOAUTH send \"Authorization: Bearer TOKEN\"",
		what, hostForHint(r.Host)))
}

// hostForHint returns host for the .netrc hint if it looks like a
// host[:port], else a placeholder.
func hostForHint(host string) string {
	if host == "" || len(host) > 255 {
		return "HOST"
	}
	for _, c := range []byte(host) {
		if !nameChar(c) && c != ':' && c != '[' && c != ']' {
			return "HOST"
		}
	}
	return host
}

// deny writes an error response with a one-line text body.
func deny(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	io.WriteString(w, msg+"\n")
}

// privateWriter turns a "public" Cache-Control into "private" (and drops
// s-maxage) before the header goes out.
type privateWriter struct {
	http.ResponseWriter
	done bool
}

var (
	_ http.ResponseWriter = (*privateWriter)(nil)
	_ http.Flusher        = (*privateWriter)(nil)
	_ io.ReaderFrom       = (*privateWriter)(nil)
)

func (w *privateWriter) fix() {
	if w.done {
		return
	}
	w.done = true
	h := w.Header()
	vals := h.Values("Cache-Control")
	if len(vals) == 0 {
		return
	}
	var out []string
	private := false
	for _, v := range vals {
		for d := range strings.SplitSeq(v, ",") {
			d = strings.TrimSpace(d)
			name, _, _ := strings.Cut(d, "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "":
				continue
			case "public", "s-maxage":
				continue
			case "private", "no-store":
				private = true
			}
			out = append(out, d)
		}
	}
	if !private {
		out = append([]string{"private"}, out...)
	}
	h.Set("Cache-Control", strings.Join(out, ", "))
}

func (w *privateWriter) WriteHeader(code int) {
	w.fix()
	w.ResponseWriter.WriteHeader(code)
}

func (w *privateWriter) Write(b []byte) (int, error) {
	w.fix()
	return w.ResponseWriter.Write(b)
}

// ReadFrom keeps the underlying writer's io.ReaderFrom (sendfile).
func (w *privateWriter) ReadFrom(r io.Reader) (int64, error) {
	w.fix()
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{w.ResponseWriter}, r)
}

func (w *privateWriter) Flush() {
	w.fix()
	http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *privateWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
