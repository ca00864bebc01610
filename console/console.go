// Package console is gomirror's web console: server-rendered pages at /ui/
// for the operator (is the mirror healthy, what is stored, who uses it,
// what is alerting) and the developer (which versions are here, why was my
// download refused).
//
// Every figure it shows comes from the JSON API: the pages call the same
// api.Service methods as /api/v1/ does, in the same process. The pages are
// html/template, in English or Simplified Chinese (i18n), with their CSS,
// a small script and the charts (SVG drawn here) served from the binary:
// the browser loads nothing from elsewhere, which a strict
// Content-Security-Policy enforces (no inline script or style).
//
// Access follows the operator endpoints' rule (server/edge.go): where
// they are anonymous (Options.Open), so is the console, and everyone is
// an operator. Otherwise a person signs in with a token (session.go); an
// admin token sees every page, a client token only the modules it may
// download and its own activity.
package console

import (
	"context"
	"crypto/cipher"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/gomirror/gomirror/api"
	"github.com/gomirror/gomirror/auth"
	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/vulndb"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Authenticator is what the console needs of the tokens: *auth.Authenticator.
type Authenticator interface {
	SignIn(r *http.Request, secret string) (name string, role auth.Role, fp string, err error)
	Current(name string) (role auth.Role, fp string, ok bool)
	MayRead(name, module string) bool
}

var _ Authenticator = (*auth.Authenticator)(nil)

// Options configure the console.
type Options struct {
	// API answers every question the pages ask.
	API *api.Service
	// Open says that the operator endpoints are anonymous here: every
	// page is shown to everyone, as to an operator, without signing in.
	Open bool
	// Auth checks the tokens people sign in with; required unless Open.
	Auth Authenticator
	// Sessions returns where the sign-in sessions are kept (the
	// database), or an error while there is none.
	Sessions func() (Sessions, error)
	// HTTPS reports whether a request reached gomirror over HTTPS (TLS,
	// or a trusted proxy's X-Forwarded-Proto), for the session cookie's
	// Secure attribute; nil means r.TLS != nil.
	HTTPS func(*http.Request) bool
	// SessionTTL is how long a session lasts; 0 means 12 hours.
	SessionTTL time.Duration
	// Log receives sign-ins and errors; nil discards.
	Log *slog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Vulns answers the advisories that module and version pages show
	// (the vulnerability database); nil shows none.
	Vulns Vulns
}

// Vulns is what the pages ask the vulnerability database (a *vulndb.DB).
type Vulns interface {
	// Vulns returns the advisories affecting a module version.
	Vulns(ctx context.Context, m module.Version) ([]vulndb.Advisory, error)
	// Module returns the advisories naming a module, whatever the version.
	Module(ctx context.Context, path string) ([]vulndb.Advisory, error)
}

var _ Vulns = (*vulndb.DB)(nil)

// Console serves the web console.
type Console struct {
	opts   Options
	cat    *i18n.Catalogue
	pages  map[string]*template.Template
	mux    *http.ServeMux
	sealer cipher.AEAD // of the module list's sealed cursors (cursor.go), with this process's key
	// The module list's page, and a client token's database pages and
	// scan budget (cursor.go); tests make them small.
	listLimit, scanPage, scanBudget int
}

// Routes are the patterns Console serves, for the mux the server mounts it
// on.
var Routes = []string{
	"GET /ui",
	"GET /ui/",
	"GET /ui/modules",
	"GET /ui/modules/{module...}",
	"GET /ui/activity",
	"GET /ui/activity.csv",
	"GET /ui/alerts",
	"GET /ui/upstreams",
	"GET /ui/signin",
	"POST /ui/signin",
	"POST /ui/signout",
	"GET /ui/lang",
	"GET /ui/static/",
}

// New returns the console of opts.
func New(opts Options) (*Console, error) {
	if opts.API == nil {
		return nil, errors.New("console: no API")
	}
	if !opts.Open && (opts.Auth == nil || opts.Sessions == nil) {
		return nil, errors.New("console: signing in needs Auth and Sessions")
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 12 * time.Hour
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HTTPS == nil {
		opts.HTTPS = func(r *http.Request) bool { return r.TLS != nil }
	}
	sealer, err := newSealer()
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	c := &Console{opts: opts, cat: i18n.Default(), pages: map[string]*template.Template{}, mux: http.NewServeMux(), sealer: sealer,
		listLimit: modulesLimit, scanPage: scanPage, scanBudget: scanBudget}
	if err := c.parse(); err != nil {
		return nil, err
	}
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/ui/static/", http.FileServerFS(static))
	handlers := []http.HandlerFunc{
		func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ui/", http.StatusMovedPermanently) },
		c.root, c.modules, c.module, c.activity, c.activityCSV, c.alerts, c.upstreamsPage,
		c.signInPage, c.signIn, c.signOut, c.lang,
		func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/") { // no listings
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Cache-Control", "private, max-age=3600")
			files.ServeHTTP(w, r)
		},
	}
	for i, p := range Routes {
		c.mux.Handle(p, handlers[i])
	}
	return c, nil
}

// ServeHTTP serves the console, every answer with its security headers.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	c.mux.ServeHTTP(w, r)
}

// WantsHTML reports whether r is a browser's navigation, which GET /
// redirects to the console: a GET whose Accept names text/html.
func WantsHTML(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.Contains(r.Header.Get("Accept"), "text/html")
}

// funcs are the templates' functions that need no request.
var funcs = template.FuncMap{
	"bytes":     formatBytes,
	"pct":       func(f float64) string { return fmt.Sprintf("%.1f %%", 100*f) },
	"time":      func(t time.Time) string { return formatTime(t) },
	"dur":       func(d time.Duration) string { return d.Round(time.Millisecond).String() },
	"escape":    url.PathEscape,
	"query":     url.QueryEscape,
	"dash":      dash,
	"hasPrefix": strings.HasPrefix,
	"scaled":    scaled,
	"secs": func(s float64) string {
		return time.Duration(s * float64(time.Second)).Round(time.Millisecond).String()
	},
}

// parse parses each page with the layout.
func (c *Console) parse() error {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return fmt.Errorf("console: %w", err)
		}
		c.pages[base] = t
	}
	return nil
}

// page is what every template gets: the viewer, the language, the page's
// own data and the navigation.
type page struct {
	Name   string // the page's template, and its entry in the navigation
	Title  string
	Lang   string // en, zh
	Path   string // the request's path and query, for the language links
	Viewer *viewer
	Data   any
	Error  string // shown above the page's content
	p      *message.Printer
}

// T translates key (a format) with args.
func (p *page) T(key string, args ...any) string { return p.p.Sprintf(key, args...) }

// Msg translates s if it is a message of the catalogue, and shows it as
// it is otherwise (an error's text).
func (p *page) Msg(s string) string {
	if i18n.Default().Has(s) {
		return p.p.Sprintf(s)
	}
	return s
}

// Num formats n with the language's digit grouping.
func (p *page) Num(n any) string { return p.p.Sprint(n) }

// language returns the language of r and its printer.
func (c *Console) language(r *http.Request) (language.Tag, *message.Printer) {
	cookie := ""
	if ck, err := r.Cookie(i18n.CookieName); err == nil {
		cookie = ck.Value
	}
	tag := c.cat.Match(cookie, r.Header.Get("Accept-Language"))
	return tag, c.cat.Printer(tag)
}

// render writes the page name with data, status code.
func (c *Console) render(w http.ResponseWriter, r *http.Request, code int, v *viewer, name, title string, data any, errText string) {
	tag, p := c.language(r)
	pg := &page{Name: name, Lang: i18n.Code(tag), Path: r.URL.RequestURI(), Viewer: v, Data: data, Error: errText, p: p}
	pg.Title = pg.T(title)
	t := c.pages[name]
	var b strings.Builder
	if err := t.Execute(&b, pg); err != nil {
		c.opts.Log.Error("console: rendering a page", "page", name, "err", err)
		http.Error(w, "console: cannot render the page", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Language", pg.Lang)
	h.Add("Vary", "Accept-Language, Cookie")
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		w.Write([]byte(b.String()))
	}
}

// fail renders the error page for err, with its API status (api.StatusOf)
// and a translated text of its kind (errorText); the detail of a 5xx goes
// to the log, never to the page.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, v *viewer, err error) {
	code := api.StatusOf(err)
	if code >= 500 {
		c.opts.Log.Error("console: request failed", "path", r.URL.Path, "status", code, "err", err)
	}
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "30")
	}
	_, p := c.language(r)
	key, args := errorText(err, code)
	c.render(w, r, code, v, "error", "Error", code, p.Sprintf(key, args...))
}

// errorText returns the catalogue key (and its arguments) of the text an
// error page shows for err, answered with code: one per kind of error,
// naming at most the malformed parameter (a name the request itself
// gave, which the test of the catalogue checks against a list) or an
// error whose own text is a key (expiredCursorError). The English text of
// an error (a database's, x/mod's) is not shown: it would be untranslated
// and may tell what a client should not see.
func errorText(err error, code int) (string, []any) {
	if err != nil && i18n.Default().Has(err.Error()) {
		return err.Error(), nil
	}
	switch code {
	case http.StatusBadRequest:
		if name, ok := paramOf(err); ok {
			return "The parameter %s of this request is not valid.", []any{name}
		}
		return "This request is not valid.", nil
	case http.StatusNotFound:
		return "This is not stored here.", nil
	case http.StatusForbidden:
		return "Your token may not see this.", nil
	case http.StatusTooManyRequests:
		return "Too many requests; try again later.", nil
	case http.StatusServiceUnavailable:
		return "The database is not available; try again later.", nil
	case http.StatusGatewayTimeout:
		return "The database did not answer in time; try again later.", nil
	}
	return "Something went wrong on the server; the log has the details.", nil
}

// paramOf returns the name of the parameter err says is malformed: an
// api parameter error, or a badParam ("parameter NAME: ...").
func paramOf(err error) (string, bool) {
	if name, ok := api.Param(err); ok {
		return name, true
	}
	var bp badParam
	if errors.As(err, &bp) {
		if rest, ok := strings.CutPrefix(string(bp), "parameter "); ok {
			if name, _, ok := strings.Cut(rest, ":"); ok && name != "" && !strings.ContainsAny(name, " <>&\"'") {
				return name, true
			}
		}
	}
	return "", false
}
