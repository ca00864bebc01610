package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/gomirror/gomirror/auth"
	"github.com/gomirror/gomirror/db"
	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/obs"
)

// Sessions keeps the sign-in sessions: *db.DB. It is given the hash of a
// session's ID only.
type Sessions interface {
	PutSession(ctx context.Context, s db.Session) error
	Session(ctx context.Context, idHash string, now time.Time) (db.Session, error)
	DeleteSession(ctx context.Context, idHash string) error
	// TrimSessions deletes the sessions of a token but its keep newest.
	TrimSessions(ctx context.Context, tokenName string, keep int) (int64, error)
}

// MaxSessionsPerToken is how many sessions one token may have at once: a
// sign-in beyond them ends the token's oldest, so that a token (a client
// token too) cannot fill the database with sessions.
const MaxSessionsPerToken = 10

var _ Sessions = (*db.DB)(nil)

// Cookie names. The session cookie is HttpOnly, SameSite=Strict, and
// Secure over HTTPS; so is the sign-in form's CSRF cookie.
const (
	sessionCookie = "gomirror_session"
	signInCookie  = "gomirror_signin"
)

// viewer is who looks at a page.
type viewer struct {
	Name   string // the token's name; "" when the console is open
	Admin  bool   // sees every page and every client
	Open   bool   // the console is open: no sign-in, no sign-out
	CSRF   string // the token every POST of the session carries
	idHash string
}

// viewer returns who makes r. Without a session (and with the console not
// open) it has answered r: a redirect to the sign-in page for a page, 401
// for anything else.
func (c *Console) viewer(w http.ResponseWriter, r *http.Request) (*viewer, bool) {
	if c.opts.Open {
		return &viewer{Admin: true, Open: true}, true
	}
	v, err := c.session(r)
	if err == nil {
		// The access log names who viewed or exported what.
		obs.RequestFrom(r.Context()).Client = v.Name
		return v, true
	}
	if !errors.Is(err, fs.ErrNotExist) {
		c.opts.Log.Warn("console: cannot read the session", "err", err)
		c.fail(w, r, nil, err)
		return nil, false
	}
	if r.Method == http.MethodGet && !strings.HasSuffix(r.URL.Path, ".csv") {
		http.Redirect(w, r, "/ui/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return nil, false
	}
	http.Error(w, "gomirror: sign in first", http.StatusUnauthorized)
	return nil, false
}

// session returns the viewer of r's session cookie; an error wrapping
// fs.ErrNotExist if there is none, it expired, or its token was removed,
// replaced or changed role since (then the session is deleted).
func (c *Console) session(r *http.Request) (*viewer, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || len(ck.Value) != 64 {
		return nil, fs.ErrNotExist
	}
	store, err := c.opts.Sessions()
	if err != nil {
		return nil, err
	}
	id := ck.Value
	hash := hashOf("session", id)
	s, err := store.Session(r.Context(), hash, c.opts.Now())
	if err != nil {
		return nil, err
	}
	role, fp, ok := c.opts.Auth.Current(s.TokenName)
	if !ok || string(role) != s.Role || subtle.ConstantTimeCompare([]byte(fp), []byte(s.TokenFP)) != 1 {
		c.opts.Log.Info("console: session ended: its token was removed or changed", "token", s.TokenName)
		store.DeleteSession(r.Context(), hash)
		return nil, fs.ErrNotExist
	}
	return &viewer{Name: s.TokenName, Admin: role == auth.RoleAdmin, CSRF: hashOf("csrf", id), idHash: hash}, nil
}

// hashOf returns the hex SHA-256 of purpose and secret.
func hashOf(purpose, secret string) string {
	sum := sha256.Sum256([]byte("gomirror console " + purpose + "\x00" + secret))
	return hex.EncodeToString(sum[:])
}

// random returns 32 random bytes in hex.
func random() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// sameOrigin reports whether a state-changing request comes from a page
// of this origin: Sec-Fetch-Site same-origin when the browser sends it,
// and an Origin header naming this host when it sends one. (The form's
// CSRF token is checked as well.)
func sameOrigin(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host || o == "null" {
			return false
		}
	}
	return true
}

// equal compares secrets in constant time; empty ones never match.
func equal(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func (c *Console) cookie(r *http.Request, name, value string, maxAge time.Duration) *http.Cookie {
	ck := &http.Cookie{Name: name, Value: value, Path: "/ui/", HttpOnly: true, Secure: c.opts.HTTPS(r), SameSite: http.SameSiteStrictMode}
	switch {
	case maxAge < 0:
		ck.MaxAge = -1
	case maxAge > 0:
		ck.MaxAge = int(maxAge / time.Second)
	}
	return ck
}

// signInData is the sign-in page's.
type signInData struct {
	Next string
	CSRF string
}

// signInPage answers GET /ui/signin: the form that takes a token.
func (c *Console) signInPage(w http.ResponseWriter, r *http.Request) {
	if c.opts.Open {
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
		return
	}
	c.showSignIn(w, r, http.StatusOK, "")
}

func (c *Console) showSignIn(w http.ResponseWriter, r *http.Request, code int, errText string) {
	token := random()
	http.SetCookie(w, c.cookie(r, signInCookie, token, time.Hour))
	c.render(w, r, code, nil, "signin", "Sign in", signInData{Next: localPath(r.FormValue("next")), CSRF: token}, errText)
}

// localPath returns next if it is a console page, else the overview: a
// sign-in must not send the browser elsewhere. A console page is a path
// (no scheme, no host) under /ui/ once its dot segments are resolved and
// its escapes decoded, without a backslash or control byte (which
// browsers drop or read as a slash) anywhere.
func localPath(next string) string {
	const overview = "/ui/"
	if !strings.HasPrefix(next, "/ui/") || strings.HasPrefix(next, "/ui//") || hasControlOrBackslash(next) {
		return overview
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || u.User != nil || hasControlOrBackslash(u.Path) {
		return overview
	}
	if p := path.Clean(u.Path); p != "/ui" && !strings.HasPrefix(p, "/ui/") || strings.Contains(u.Path, "//") {
		return overview
	}
	return next
}

// hasControlOrBackslash reports whether s has a byte below 0x20, DEL or a
// backslash.
func hasControlOrBackslash(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' })
}

// maxForm bounds the body of the console's forms.
const maxForm = 4 << 10

// signIn answers POST /ui/signin: a token given to the form opens a
// session. The form must come from this origin and carry the sign-in
// cookie's CSRF token; wrong tokens count against the client address
// (auth's failure limiter), and too many are answered 429.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	if c.opts.Open {
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	ck, err := r.Cookie(signInCookie)
	if err != nil || !sameOrigin(r) || !equal(r.PostFormValue("csrf"), ck.Value) {
		c.opts.Log.Warn("console: sign-in refused: cross-site or without its CSRF token", "origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
		c.showSignIn(w, r, http.StatusForbidden, "The form has expired or came from another site; please try again.")
		return
	}
	store, err := c.opts.Sessions()
	if err != nil {
		c.showSignIn(w, r, http.StatusServiceUnavailable, "Signing in needs the database, which is not available.")
		return
	}
	name, role, fp, err := c.opts.Auth.SignIn(r, strings.TrimSpace(r.PostFormValue("token")))
	var limited *auth.LimitedError
	switch {
	case errors.As(err, &limited):
		w.Header().Set("Retry-After", strconv.Itoa(int((limited.Wait+time.Second-1)/time.Second)))
		c.showSignIn(w, r, http.StatusTooManyRequests, "Too many failed attempts; try again later.")
		return
	case err != nil:
		c.showSignIn(w, r, http.StatusUnauthorized, "This is not a valid token.")
		return
	}
	// The browser's previous session (of this token or another) ends:
	// one browser, one session.
	if old, err := r.Cookie(sessionCookie); err == nil && len(old.Value) == 64 {
		if err := store.DeleteSession(r.Context(), hashOf("session", old.Value)); err != nil {
			c.opts.Log.Error("console: cannot end the previous session at a sign-in", "err", err)
			c.showSignIn(w, r, http.StatusServiceUnavailable, "Signing in needs the database, which is not available.")
			return
		}
	}
	id := random()
	now := c.opts.Now()
	s := db.Session{IDHash: hashOf("session", id), TokenName: name, Role: string(role), TokenFP: fp, Created: now, Expires: now.Add(c.opts.SessionTTL)}
	if err := store.PutSession(r.Context(), s); err != nil {
		c.opts.Log.Error("console: cannot store a session", "err", err)
		c.showSignIn(w, r, http.StatusServiceUnavailable, "Signing in needs the database, which is not available.")
		return
	}
	if n, err := store.TrimSessions(r.Context(), name, MaxSessionsPerToken); err != nil {
		c.opts.Log.Error("console: cannot end a token's oldest sessions", "token", name, "err", err)
	} else if n > 0 {
		c.opts.Log.Info("console: a token's oldest sessions ended: it has too many", "token", name, "ended", n)
	}
	obs.RequestFrom(r.Context()).Client = name
	c.opts.Log.Info("console: signed in", "token", name, "role", role)
	http.SetCookie(w, c.cookie(r, sessionCookie, id, c.opts.SessionTTL))
	http.SetCookie(w, c.cookie(r, signInCookie, "", -1))
	http.Redirect(w, r, localPath(r.PostFormValue("next")), http.StatusSeeOther)
}

// signOut answers POST /ui/signout: the session ends (deleted from the
// database). It needs the session's CSRF token and this origin. If the
// session cannot be deleted, the answer is 503 and the cookie is kept:
// the session is still valid, and the person must know it.
func (c *Console) signOut(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	v, ok := c.viewer(w, r)
	if !ok {
		return
	}
	if !c.checkPost(w, r, v) {
		return
	}
	if !v.Open {
		store, err := c.opts.Sessions()
		if err == nil {
			err = store.DeleteSession(r.Context(), v.idHash)
		}
		if err != nil {
			c.opts.Log.Error("console: cannot end a session at sign-out", "token", v.Name, "err", err)
			w.Header().Set("Retry-After", "30")
			c.render(w, r, http.StatusServiceUnavailable, v, "error", "Error", http.StatusServiceUnavailable,
				"The session could not be ended (the database is not available): it is still valid. Please try again.")
			return
		}
		http.SetCookie(w, c.cookie(r, sessionCookie, "", -1))
	}
	http.Redirect(w, r, "/ui/signin", http.StatusSeeOther)
}

// checkPost checks a state-changing request of a session: this origin,
// and the session's CSRF token in the form. If not, it has answered 403.
func (c *Console) checkPost(w http.ResponseWriter, r *http.Request, v *viewer) bool {
	if !sameOrigin(r) || !v.Open && !equal(r.PostFormValue("csrf"), v.CSRF) {
		c.opts.Log.Warn("console: POST refused: cross-site or without its CSRF token", "path", r.URL.Path, "token", v.Name)
		http.Error(w, "gomirror: cross-site request refused", http.StatusForbidden)
		return false
	}
	return true
}

// lang answers GET /ui/lang?to=zh&back=/ui/...: the language cookie is set
// (a preference, not a permission: no CSRF token needed) and the browser
// goes back to the page it came from.
func (c *Console) lang(w http.ResponseWriter, r *http.Request) {
	tag := c.cat.Match(r.URL.Query().Get("to"), "")
	http.SetCookie(w, &http.Cookie{Name: i18n.CookieName, Value: i18n.Code(tag), Path: "/ui/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, Secure: c.opts.HTTPS(r), SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, localPath(r.URL.Query().Get("back")), http.StatusSeeOther)
}
