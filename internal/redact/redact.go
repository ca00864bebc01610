// Package redact removes credentials from URLs and from text that may
// contain URLs, before they are shown anywhere: logs, error messages,
// HTTP answers, metrics labels or --help output. It is the one place that
// decides what a URL looks like once its credentials are gone: the userinfo
// (user name and password alike, since a user name is often a token) is
// dropped entirely.
package redact

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
)

// URL returns raw without its userinfo. It never fails: a string that does
// not parse as a URL loses everything between its scheme's "://" (or its
// start) and its last '@', and a string without '@' is returned as it is
// (so "direct", "off" and group names pass through).
func URL(raw string) string {
	if strings.Contains(raw, "password=") {
		raw = dropSecretParams(raw)
	}
	if !strings.Contains(raw, "@") {
		return raw
	}
	if u, err := url.Parse(raw); err == nil && u.Opaque == "" && u.Scheme != "" {
		if u.User == nil {
			return raw
		}
		u.User = nil
		return u.String()
	}
	start := 0
	if i := strings.Index(raw, "://"); i >= 0 {
		start = i + len("://")
	}
	at := strings.LastIndex(raw, "@")
	if at < start {
		return raw
	}
	return raw[:start] + raw[at+1:]
}

// secretParams are the query parameters that carry a password in the URLs
// gomirror is given: libpq's (and pgx's) connection URLs take
// ?password= and ?sslpassword=.
var secretParams = []string{"password", "sslpassword"}

// dropSecretParams returns raw without its secretParams query parameters;
// a raw that does not parse as a URL loses its whole query.
func dropSecretParams(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.IndexByte(raw, '?'); i >= 0 {
			return raw[:i]
		}
		return raw
	}
	q := u.Query()
	for _, p := range secretParams {
		q.Del(p)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// List is URL for each element of a GOPROXY-syntax list (elements joined by
// ',' or '|'), keeping the separators.
func List(list string) string {
	if !strings.Contains(list, "@") {
		return list
	}
	var b strings.Builder
	for list != "" {
		i := strings.IndexAny(list, ",|")
		if i < 0 {
			b.WriteString(URL(list))
			break
		}
		b.WriteString(URL(list[:i]))
		b.WriteByte(list[i])
		list = list[i+1:]
	}
	return b.String()
}

// inText matches the userinfo of a URL in free text: a scheme, "://", then
// everything up to the last '@' before the authority ends (at '/', '?',
// '#', white space or a quote), so that an unescaped '@' in a password
// does not leave part of it behind.
var inText = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.\-]*://)[^/?#\s"'<>]*@`)

// Text returns s with the userinfo of every URL in it removed.
func Text(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	return inText.ReplaceAllString(s, "$1")
}

// Err returns err with the userinfo of every URL in its text removed. The
// result unwraps to err, so errors.Is and errors.As still see the original
// chain; a *url.Error in it also has its URL redacted in place, so that
// code which prints that error by itself shows no credentials either.
// A nil err stays nil.
func Err(err error) error {
	if err == nil {
		return nil
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = URL(ue.URL)
	}
	msg := err.Error()
	if red := Text(msg); red != msg {
		return &redacted{msg: red, err: err}
	}
	return err
}

type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }
