package sumdb_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/sumdb"
)

func TestProxyClientAsksWhatTheGoCommandAsks(t *testing.T) {
	up := fakeproxy.New(t)
	c := sumdb.NewProxyClient(context.Background(), nil, up.URL+"/sumdb/"+fakeproxy.DBName, up.DBKey, 5*time.Second)
	lines, err := c.Lookup("example.com/hello", "v1.1.0")
	if err != nil || len(lines) == 0 {
		t.Fatalf("Lookup: %v %q", err, lines)
	}
	reqs := c.Requests()
	if len(reqs) < 2 || !strings.HasPrefix(reqs[0].Path, "/lookup/example.com/hello@v1.1.0") {
		t.Fatalf("requests %+v: want the lookup first, then tiles", reqs)
	}
	for _, r := range reqs[1:] {
		if !strings.HasPrefix(r.Path, "/tile/") || r.Code != http.StatusOK || r.Bytes == 0 {
			t.Errorf("request %+v: want a tile, 200, with a body", r)
		}
	}
	for _, r := range up.Requests() {
		if strings.HasSuffix(r, "/latest") {
			t.Errorf("asked %s: the go command never asks latest", r)
		}
	}
}

func TestProxyClientBoundsAnswers(t *testing.T) {
	up := fakeproxy.New(t)
	up.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/latest") {
			w.Write(make([]byte, sumdb.MaxProxyFile+10))
			return true
		}
		return false
	})
	c := sumdb.NewProxyClient(context.Background(), nil, up.URL+"/sumdb/"+fakeproxy.DBName, up.DBKey, 5*time.Second)
	_, err := c.Get("/latest")
	var tl *sumdb.TooLargeError
	if !errors.As(err, &tl) {
		t.Fatalf("error %v, want a TooLargeError", err)
	}
	if r := c.Requests(); len(r) != 1 || r[0].Err == nil {
		t.Errorf("requests %+v: want the failed one recorded", r)
	}
}
