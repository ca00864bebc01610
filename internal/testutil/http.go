package testutil

import (
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
)

// Do sends req with client (http.DefaultClient if nil) and returns the
// answer's status, header and whole body. A request that fails, or a body
// that cannot be read, fails the test.
func Do(t testing.TB, client *http.Client, req *http.Request) (status int, header http.Header, body string) {
	t.Helper()
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// HeaderLog records the values that one header (Name) had in the requests
// a handler received, in order; it is safe for concurrent use. Tests use it
// to see which credentials reached a fake server.
type HeaderLog struct {
	Name string

	mu   sync.Mutex
	seen []string
}

// Handler records each request's header, then lets h answer it.
func (l *HeaderLog) Handler(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.seen = append(l.seen, r.Header.Get(l.Name))
		l.mu.Unlock()
		h(w, r)
	})
}

// Values returns the header's values recorded so far, one per request
// ("" for a request without it).
func (l *HeaderLog) Values() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.seen)
}
