// Package httpstatus turns another server's answer other than 200 OK into
// an error, the same way for every client in gomirror that asks a mirror,
// the checksum database through a proxy or a gomirror endpoint: the status
// line and the first line of the body, read bounded. (The server's own
// upstream client keeps its upstream.StatusError, whose text it passes on
// to the go command.)
package httpstatus

import (
	"bytes"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"unicode"
)

// MaxBody bounds how much of an answer's body is read for its first line.
const MaxBody = 4 << 10

// maxLine bounds the first line kept in the error.
const maxLine = 512

// Error is an answer other than 200 OK.
type Error struct {
	Code   int    // its status code
	Status string // its status line, e.g. "404 Not Found"
	Line   string // the first line of its body, trimmed, printable; "" if none
	// Body is what was read of the body (at most MaxBody bytes), for a
	// caller that knows the server's error format (e.g. JSON).
	Body []byte
}

// Check returns nil for a 200 OK answer. For any other it reads at most
// MaxBody bytes of resp.Body and returns an *Error; it never closes the
// body.
func Check(resp *http.Response) error {
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	line, _, _ := bytes.Cut(bytes.TrimSpace(b), []byte("\n"))
	status := resp.Status
	if status == "" { // a response not read from the wire
		status = strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode)
	}
	return &Error{Code: resp.StatusCode, Status: status, Line: Printable(string(line)), Body: b}
}

// Error is "<status line>: <first line of the body>", or the status line
// alone.
func (e *Error) Error() string {
	if e.Line == "" {
		return e.Status
	}
	return e.Status + ": " + e.Line
}

// Is makes 404 and 410, the GOPROXY protocol's "not found", an
// fs.ErrNotExist.
func (e *Error) Is(target error) bool {
	return target == fs.ErrNotExist && NotFound(e.Code)
}

// NotFound reports whether code is the GOPROXY protocol's "not found":
// 404 or 410.
func NotFound(code int) bool { return code == http.StatusNotFound || code == http.StatusGone }

// Printable is s as Check keeps a line of another server's answer:
// trimmed, at most 512 bytes, with control and bidirectional formatting
// characters (a hostile server's terminal escapes) replaced. For callers
// that take the text from the answer's own format (e.g. a JSON "error").
func Printable(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > maxLine {
		s = strings.ToValidUTF8(s[:maxLine], "") + "…"
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return '?'
		}
		return r
	}, s)
}
