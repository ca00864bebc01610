package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gomirror/gomirror/auth"
	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/obs"
	"github.com/gomirror/gomirror/upstream"
	"github.com/gomirror/gomirror/vcscred"
)

// Operator endpoints (/metrics, /upstreams, and whatever later serves
// operators: a console, an API) are mounted on one mux, Server.operator.
// The access rule is decided once, here, for all of them:
//
//   - with admin-listen they are served on that listener only, and the main
//     listener answers 404 for them;
//   - they are anonymous if config.Serve.AdminAnonymous says so, and
//     otherwise need an admin token (auth.Authenticator.WrapAdmin).
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
	guarded := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		obs.RequestFrom(r.Context()).Kind = "operator" // a handler may refine it
		guard.ServeHTTP(w, r)
	})
	if anonymous && !config.LoopbackListen(on) {
		s.log.Warn("the operator endpoints (/metrics, /upstreams) are open to anyone who can reach this listener; set admin-auth auto or token, or admin-listen on a loopback address",
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
	return http.NotFoundHandler(), admin
}

// withOperator sends the requests that the operator mux has a route for to
// op, and the others to next.
func (s *Server) withOperator(op, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := s.operator.Handler(r); pattern != "" {
			op.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// netrcCredentials reads the upstream-netrc file: basic-auth credentials by
// host[:port], lower case. nil if the setting is empty.
func netrcCredentials(cfg *config.Serve) (map[string]*url.Userinfo, error) {
	if cfg.UpstreamNetrc == "" {
		return nil, nil
	}
	data, err := config.ReadSecretFile(cfg.UpstreamNetrc)
	if err != nil {
		return nil, &config.Error{Key: "upstream-netrc", Source: cfg.UpstreamNetrc, Err: err}
	}
	creds := map[string]*url.Userinfo{}
	for _, e := range vcscred.ParseNetrc(data) {
		host := strings.ToLower(e.Machine)
		if _, dup := creds[host]; !dup { // the first entry wins, as for the go command
			creds[host] = url.UserPassword(e.Login, e.Password)
		}
	}
	return creds, nil
}

// withCredentials returns rawURL with the credentials that creds has for
// its host[:port], if it is an http(s) URL without userinfo of its own.
// The go command's rule is kept: a machine name with a port matches that
// port only, one without matches the URL only if it has no port either.
func withCredentials(rawURL string, creds map[string]*url.Userinfo) string {
	if len(creds) == 0 {
		return rawURL
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil {
		return rawURL
	}
	ui, ok := creds[strings.ToLower(u.Host)]
	if !ok {
		return rawURL
	}
	u.User = ui
	return u.String()
}

// withCredentialsList is withCredentials for each element of a
// GOPROXY-syntax list.
func withCredentialsList(list string, creds map[string]*url.Userinfo) string {
	if len(creds) == 0 {
		return list
	}
	var b strings.Builder
	elems := upstream.SplitList(list)
	for i, e := range elems {
		if i > 0 {
			// The separator after the previous element.
			if elems[i-1].FallOnAnyErr {
				b.WriteByte('|')
			} else {
				b.WriteByte(',')
			}
		}
		b.WriteString(withCredentials(e.Value, creds))
	}
	return b.String()
}

// logNetrcUse says which upstream hosts got credentials from upstream-netrc
// (never the credentials), so that a machine name that matches nothing is
// noticed.
func logNetrcUse(log *slog.Logger, cfg *config.Serve, creds map[string]*url.Userinfo) {
	if len(creds) == 0 {
		return
	}
	used := map[string]bool{}
	check := func(raw string) {
		if u, err := url.Parse(raw); err == nil && u.User == nil {
			if _, ok := creds[strings.ToLower(u.Host)]; ok {
				used[strings.ToLower(u.Host)] = true
			}
		}
	}
	for _, e := range upstream.SplitList(cfg.Upstream) {
		check(e.Value)
	}
	for _, g := range cfg.UpstreamGroups {
		for _, m := range g.Mirrors {
			check(m)
		}
	}
	var hosts, unused []string
	for h := range creds {
		if used[h] {
			hosts = append(hosts, h)
		} else {
			unused = append(unused, h)
		}
	}
	slices.Sort(hosts)
	slices.Sort(unused)
	log.Info("upstream-netrc: basic auth for upstream hosts", "hosts", strings.Join(hosts, ","), "unused_machines", strings.Join(unused, ","))
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
	srv := &http.Server{
		Handler:           s.admin,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	scheme := "http"
	serve := func() error { return srv.Serve(ln) }
	if s.cfg.TLSCert != "" {
		scheme = "https"
		serve = func() error { return srv.ServeTLS(ln, s.cfg.TLSCert, s.cfg.TLSKey) }
	}
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
