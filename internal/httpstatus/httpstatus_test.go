package httpstatus

import (
	"errors"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"testing"
)

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestCheck(t *testing.T) {
	for _, tt := range []struct {
		name     string
		code     int
		status   string
		body     string
		want     string // Error(); "" for nil
		notFound bool
	}{
		{"ok", 200, "200 OK", "data", "", false},
		{"not found", 404, "404 Not Found", "not found: example.com/m@v1.0.0: invalid version\nmore\n", "404 Not Found: not found: example.com/m@v1.0.0: invalid version", true},
		{"gone", 410, "410 Gone", "", "410 Gone", true},
		{"forbidden", 403, "403 Forbidden", "  \n", "403 Forbidden", false},
		{"server error", 502, "502 Bad Gateway", "upstream down", "502 Bad Gateway: upstream down", false},
		{"no status line", 503, "", "busy", "503 Service Unavailable: busy", false},
		{"terminal escapes", 500, "500 Internal Server Error", "evil\x1b[2J\u202ename", "500 Internal Server Error: evil?[2J?name", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(&http.Response{StatusCode: tt.code, Status: tt.status, Body: io.NopCloser(strings.NewReader(tt.body))})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Check: %v, want nil", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != tt.code || err.Error() != tt.want {
				t.Fatalf("Check: %#v (%v), want code %d and %q", err, err, tt.code, tt.want)
			}
			if string(e.Body) != tt.body {
				t.Errorf("Body %q, want the whole body %q", e.Body, tt.body)
			}
			if got := errors.Is(err, fs.ErrNotExist); got != tt.notFound {
				t.Errorf("errors.Is(err, fs.ErrNotExist) = %v, want %v", got, tt.notFound)
			}
		})
	}
}

// TestCheckBounded: a hostile server's endless body is read only up to
// MaxBody, and the line kept is bounded.
func TestCheckBounded(t *testing.T) {
	body := &countingReader{r: io.MultiReader(strings.NewReader(strings.Repeat("x", 10<<20)), strings.NewReader("\n"))}
	err := Check(&http.Response{StatusCode: 500, Status: "500 Internal Server Error", Body: io.NopCloser(body)})
	if body.n > MaxBody {
		t.Errorf("read %d bytes of the body, more than %d", body.n, MaxBody)
	}
	var e *Error
	if !errors.As(err, &e) || len(e.Line) > maxLine+len("…") || len(e.Body) > MaxBody {
		t.Errorf("line of %d bytes: %v", len(e.Line), err)
	}
}
