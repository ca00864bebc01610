package fakeproxy_test

import (
	"context"
	"testing"

	"github.com/gomirror/gomirror/internal/fakeproxy"
)

func TestLagHidesVersionsFromListAndLatestOnly(t *testing.T) {
	origin := fakeproxy.New(t)
	lagging := fakeproxy.NewMirror(t, origin)
	lagging.Inject(fakeproxy.Mutable, fakeproxy.Lag(func(path, version string) bool {
		return path == "example.com/hello" && version == "v1.2.0"
	}))
	ctx := context.Background()
	tests := []struct {
		srv        *fakeproxy.Server
		path, want string
		code       int
	}{
		{origin, "/example.com/hello/@v/list", "v1.0.0\nv1.1.0\nv1.2.0\n", 200},
		{lagging, "/example.com/hello/@v/list", "v1.0.0\nv1.1.0\n", 200},
		{lagging, "/example.com/hello/@latest", `{"Version":"v1.1.0","Time":"2024-01-02T03:04:05Z"}`, 200},
		{lagging, "/example.com/dep/@v/list", "v1.0.0\n", 200},
		{lagging, "/example.com/hello/@v/v1.2.0.info", `{"Version":"v1.2.0","Time":"2024-01-02T03:04:05Z"}`, 200},
	}
	for _, tt := range tests {
		code, body, err := fetch(ctx, tt.srv.URL+tt.path)
		if err != nil || code != tt.code || string(body) != tt.want {
			t.Errorf("%s%s: got %d %q %v, want %d %q", tt.srv.URL, tt.path, code, body, err, tt.code, tt.want)
		}
	}
	hideAll := fakeproxy.NewMirror(t, origin)
	hideAll.Inject(fakeproxy.Mutable, fakeproxy.Lag(func(path, version string) bool { return true }))
	if code, _, err := fetch(ctx, hideAll.URL+"/example.com/hello/@v/list"); err != nil || code != 404 {
		t.Errorf("a list with every version hidden: got %d %v, want 404", code, err)
	}
}
