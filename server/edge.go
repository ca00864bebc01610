package server

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/gomirror/gomirror/auth"
	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/console"
	"github.com/gomirror/gomirror/obs"
)

// Operator endpoints (/metrics, /upstreams, /debug/pprof/, and whatever later serves
// operators: a console, an API) are mounted on one mux, Server.operator.
// The access rule is decided once, here, for all of them:
//
//   - with admin-listen they are served on that listener only, and the main
//     listener answers 404 for them;
//   - they are anonymous if config.Serve.AdminAnonymous says so, and
//     otherwise need an admin token (auth.Authenticator.WrapAdmin);
//   - anonymous on a loopback listener, they answer only requests whose
//     Host is an IP address, localhost, or the host of their listener
//     (anonymousHost): a web page that rebinds its own DNS name to a
//     loopback address must not read them from a browser on the
//     operator's machine. (Anonymous on another listener, with admin-auth
//     off, they are open to whoever reaches it, by any name: a scraper on
//     a container network asks for gomirror-1:3001.)
//
// /healthz and /readyz are not operator endpoints: they stay anonymous on
// both listeners.

// operatorHandlers returns the handlers that serve the operator mux on the
// main listener and on the admin listener (nil without admin-listen), and
// logs a warning when the operator endpoints are open to anyone who can
// reach a listener that is not loopback.
func (s *Server) operatorHandlers(authn *auth.Authenticator, health http.Handler) (onMain, onAdmin http.Handler) {
	anonymous, on := s.cfg.AdminAnonymous()
	guard := http.Handler(s.operator)
	if !anonymous {
		guard = authn.WrapAdmin(s.operator)
	}
	listenHost, _, _ := net.SplitHostPort(on)
	checkHost := anonymous && config.LoopbackListen(on)
	guarded := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if checkHost && !anonymousHost(r.Host, listenHost) {
			obs.RequestFrom(r.Context()).Kind = "operator"
			s.log.Warn("operator endpoints: request for another host name refused (DNS rebinding?)", "host", r.Host, "path", r.URL.Path)
			http.Error(w, "gomirror: the operator endpoints are anonymous on this loopback listener, so they answer only to an IP address, localhost or the listener's host name; use one of those, or set admin-auth token", http.StatusMisdirectedRequest)
			return
		}
		if s.operator.open(r) {
			// The console decides access itself, by the same rule
			// (anonymous, or else a session of a token).
			obs.RequestFrom(r.Context()).Kind = "console"
			s.operator.ServeHTTP(w, r)
			return
		}
		obs.RequestFrom(r.Context()).Kind = "operator" // a handler may refine it
		guard.ServeHTTP(w, r)
	})
	if anonymous && !config.LoopbackListen(on) {
		s.log.Warn("the operator endpoints (/metrics, /upstreams, /debug/pprof/) are open to anyone who can reach this listener; set admin-auth auto or token, or admin-listen on a loopback address",
			"listener", on, "admin_auth", s.cfg.AdminAuth)
	}
	if !anonymous && s.cfg.TLSCert == "" && !config.LoopbackListen(on) {
		s.log.Warn("the operator endpoints need an admin token, which travels in clear over plain HTTP to this listener; set tls-cert and tls-key, or admin-listen on a loopback address",
			"listener", on)
	}
	if s.cfg.AdminListen == "" {
		return guarded, nil
	}
	admin := http.NewServeMux()
	admin.Handle("GET /healthz", health)
	admin.HandleFunc("GET /readyz", s.readyz)
	admin.Handle("/", guarded)
	if s.vulnAPI != nil {
		admin.Handle(vulnPrefix, s.vulnAPI) // the console's advisory links
	}
	admin.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if console.WantsHTML(r) {
			http.Redirect(w, r, "/ui/", http.StatusSeeOther)
			return
		}
		http.NotFound(w, r)
	})
	return http.NotFoundHandler(), admin
}

// anonymousHost reports whether an anonymous operator endpoint may answer
// a request whose Host header is host: an IP address, localhost, or
// listenHost (the listener's host, when it is a name), with any port; or
// none (HTTP/1.0, which no browser sends). A name that a web page chose
// (DNS rebinding) is none of these.
func anonymousHost(host, listenHost string) bool {
	if host == "" {
		return true
	}
	h := host
	if sh, _, err := net.SplitHostPort(host); err == nil {
		h = sh
	} else if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	if i := strings.IndexByte(h, '%'); i >= 0 && strings.Contains(h, ":") {
		h = h[:i] // an IPv6 zone
	}
	if net.ParseIP(h) != nil {
		return true
	}
	h = strings.TrimSuffix(h, ".")
	return strings.EqualFold(h, "localhost") ||
		listenHost != "" && net.ParseIP(listenHost) == nil && strings.EqualFold(h, strings.TrimSuffix(listenHost, "."))
}

// handlePprof mounts net/http/pprof's handlers under /debug/pprof/ on the
// operator mux, so that they have the operator endpoints' access rule
// (an admin token, or admin-listen). A CPU profile holds its request for
// the seconds it is asked for (the admin listener's write timeout, one
// minute, bounds it there). Importing net/http/pprof also registers them on
// http.DefaultServeMux, which gomirror never serves. pprof.Cmdline is left
// out: the command line can hold a secret given as a flag (a visible one,
// to ps, but not to the network); /debug/pprof/cmdline answers 404
// (pprof.Index knows no profile of that name).
func handlePprof(m *operatorMux) {
	m.HandleFunc("GET /debug/pprof/", pprof.Index) // and the named profiles: heap, goroutine, allocs, ...
	m.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	m.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	m.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
	m.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}

// withOperator sends the requests that the operator mux has a route for to
// op, and the others to next. A browser's GET / (console.WantsHTML) is
// redirected to the console when the main listener serves it (no
// admin-listen); module requests and any other GET / are next's.
func (s *Server) withOperator(op, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" && s.cfg.AdminListen == "" && console.WantsHTML(r) {
			http.Redirect(w, r, "/ui/", http.StatusSeeOther)
			return
		}
		if s.operator.routes(r) {
			op.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// withModules sends a request straight to modules, the handler that mux
// routes "/" to, when mux would do the same: its path is clean and none of
// mux's other routes (own, exact paths; ownPrefixes, subtrees such as
// /vuln/, which no module path starts: a module path's first element has
// a dot). Others (health checks, paths that
// mux redirects to their clean form, CONNECT) go through mux. So a module
// request costs a path check, not a mux match (a few allocations and about
// 3% of the CPU time of a cached .info).
func withModules(mux, modules http.Handler, ownPrefixes []string, own ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if r.Method == http.MethodConnect || !isClean(p) || slices.Contains(own, p) || hasAnyPrefix(p, ownPrefixes) {
			mux.ServeHTTP(w, r)
			return
		}
		modules.ServeHTTP(w, r)
	})
}

// hasAnyPrefix reports whether p starts with one of prefixes.
func hasAnyPrefix(p string, prefixes []string) bool {
	for _, pre := range prefixes {
		if strings.HasPrefix(p, pre) {
			return true
		}
	}
	return false
}

// isClean reports whether p is rooted and path.Clean(p) == p, without
// cleaning it when it has none of what cleaning changes: "//", "/." (a "."
// or ".." element, or a name starting with a dot: cleaned to be sure) and
// a trailing slash.
func isClean(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	if p == "/" || !strings.Contains(p, "//") && !strings.Contains(p, "/.") && p[len(p)-1] != '/' {
		return true
	}
	return path.Clean(p) == p
}

// operatorMux is the mux of the operator endpoints. It keeps the literal
// start of each route's path, so that the edge asks the mux about a request
// only if it could match a route: a module request costs a path check, not
// a second mux match.
type operatorMux struct {
	*http.ServeMux
	prefixes []string        // of the routes' paths, up to a wildcard, without a trailing slash
	opens    map[string]bool // patterns registered with HandleOpen
}

func newOperatorMux() *operatorMux { return &operatorMux{ServeMux: http.NewServeMux()} }

// Handle registers h for pattern, as http.ServeMux.Handle does.
func (m *operatorMux) Handle(pattern string, h http.Handler) {
	m.ServeMux.Handle(pattern, h)
	// "[METHOD ][HOST]/[PATH]" (the mux panicked if not): the literal
	// part of the path, from the first slash.
	p := pattern[strings.IndexByte(pattern, '/'):]
	if i := strings.IndexAny(p, "{%"); i >= 0 {
		p = p[:i]
	}
	m.prefixes = append(m.prefixes, strings.TrimSuffix(p, "/"))
}

// HandleOpen registers h for pattern, as Handle does, as a handler that
// decides access itself: the operator endpoints' guard lets its requests
// through (the console, with its sessions).
func (m *operatorMux) HandleOpen(pattern string, h http.Handler) {
	m.Handle(pattern, h)
	if m.opens == nil {
		m.opens = map[string]bool{}
	}
	m.opens[pattern] = true
}

// open reports whether r goes to a handler registered with HandleOpen.
func (m *operatorMux) open(r *http.Request) bool {
	if len(m.opens) == 0 {
		return false
	}
	_, pattern := m.Handler(r)
	return m.opens[pattern]
}

// HandleFunc registers f for pattern, as http.ServeMux.HandleFunc does.
func (m *operatorMux) HandleFunc(pattern string, f func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(f))
}

// routes reports whether m has a route for r: one that serves it, or that
// the mux redirects it to (a path that is not clean).
func (m *operatorMux) routes(r *http.Request) bool {
	if !m.mayRoute(r.URL.Path) {
		return false
	}
	_, pattern := m.Handler(r)
	return pattern != ""
}

// mayRoute is false only if no route can match a request for the path p:
// neither p nor p cleaned, as the mux cleans it, starts with a route's
// literal prefix. Cleaning a clean path allocates nothing.
func (m *operatorMux) mayRoute(p string) bool {
	if p == "" || p[0] != '/' {
		return true // let the mux decide
	}
	// Cleaning p only drops its trailing slash, unless it has "//" or
	// "/.": then clean is a prefix of p, and p has every prefix it has.
	clean := p
	if strings.Contains(p, "//") || strings.Contains(p, "/.") {
		clean = path.Clean(p)
	}
	for _, pre := range m.prefixes {
		if strings.HasPrefix(p, pre) || strings.HasPrefix(clean, pre) {
			return true
		}
	}
	return false
}

// serveAdmin starts serving the operator endpoints on admin-listen, if set,
// with HTTPS when the main listener has it. A serving error goes to errc.
// stop closes the admin server; it does not wait for its requests, which
// are short reads of in-memory state.
func (s *Server) serveAdmin(errc chan<- error) (stop func(), err error) {
	if s.admin == nil {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", s.cfg.AdminListen)
	if err != nil {
		return nil, &config.Error{Key: "admin-listen", Source: s.cfg.AdminListen, Err: err}
	}
	addr := ln.Addr()
	s.adminAddr.Store(&addr)
	// The same connection bounds as the main listener, on their own count;
	// its answers are short reads of in-memory state.
	srv, serve, scheme := s.httpServer(ln, s.admin)
	srv.WriteTimeout = time.Minute
	go func() {
		if err := serve(); !errors.Is(err, http.ErrServerClosed) {
			select {
			case errc <- fmt.Errorf("admin-listen: %w", err):
			default:
			}
		}
	}()
	s.log.Info("gomirror operator endpoints listening", "addr", addr.String(), "url", scheme+"://"+addr.String())
	return func() { srv.Close() }, nil
}

// AdminAddr returns the address the operator endpoints listen on with
// admin-listen, once Serve has bound it; nil otherwise.
func (s *Server) AdminAddr() net.Addr {
	if p := s.adminAddr.Load(); p != nil {
		return *p
	}
	return nil
}

// AdminHandler returns the handler of the admin-listen listener, or nil
// without admin-listen.
func (s *Server) AdminHandler() http.Handler { return s.admin }

// https reports whether r reached gomirror over HTTPS: its own TLS, or a
// trusted proxy's X-Forwarded-Proto (for the console's Secure cookies).
func (s *Server) https(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return s.clients.Trusted(r.RemoteAddr) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}
