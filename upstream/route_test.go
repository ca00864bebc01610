package upstream_test

import (
	"context"
	"testing"

	"github.com/gomirror/gomirror/modpattern"
	"github.com/gomirror/gomirror/upstream"
)

func TestRouteSendsPrivateModulesOnlyToPrivate(t *testing.T) {
	tests := []struct {
		name        string
		patterns    string
		module      string
		wantPrivate bool
	}{
		{"exact prefix", "corp.example", "corp.example/team/lib", true},
		{"glob element", "*.corp.example", "git.corp.example/lib", true},
		{"second pattern of a list", "other.example,corp.example/team", "corp.example/team/lib", true},
		{"prefix stops at element boundary", "corp.example/team", "corp.example/teamwork/lib", false},
		{"public module", "corp.example", "example.com/public", false},
		{"no patterns", "", "corp.example/team/lib", false},
		// A case variant of a private path is private: it must not be
		// named to the public side (issue 11).
		{"case variant of the path", "github.com/mycorp", "github.com/MyCorp/x", true},
		{"case variant of the pattern", "corp.example/Team", "corp.example/team/lib", true},
		{"case variant under a glob", "corp.example/*/lib", "corp.example/team/LIB", true},
	}
	ops := []struct {
		name string
		call func(f upstream.Fetcher, ctx context.Context, path string) (upstream.Answer, error)
	}{
		{"list", func(f upstream.Fetcher, ctx context.Context, p string) (upstream.Answer, error) {
			_, a, err := f.List(ctx, p)
			return a, err
		}},
		{"latest", func(f upstream.Fetcher, ctx context.Context, p string) (upstream.Answer, error) {
			_, a, err := f.Latest(ctx, p)
			return a, err
		}},
		{"info", func(f upstream.Fetcher, ctx context.Context, p string) (upstream.Answer, error) {
			_, a, err := f.Info(ctx, p, "main")
			return a, err
		}},
		{"mod", func(f upstream.Fetcher, ctx context.Context, p string) (upstream.Answer, error) {
			_, a, err := f.GoMod(ctx, p, chainVer)
			return a, err
		}},
		{"zip", func(f upstream.Fetcher, ctx context.Context, p string) (upstream.Answer, error) {
			rc, _, a, err := f.Zip(ctx, p, chainVer)
			if err == nil {
				rc.Close()
			}
			return a, err
		}},
	}
	for _, tt := range tests {
		for _, op := range ops {
			t.Run(tt.name+"/"+op.name, func(t *testing.T) {
				private, public := &fakeDirect{}, &fakeDirect{}
				patterns, err := modpattern.Parse(tt.patterns)
				if err != nil {
					t.Fatal(err)
				}
				r := &upstream.Route{Patterns: patterns, Private: private, Public: public}
				answered, err := op.call(r, t.Context(), tt.module)
				if err != nil {
					t.Fatal(err)
				}
				wantPriv, wantPub := 0, 1
				if tt.wantPrivate {
					wantPriv, wantPub = 1, 0
				}
				if private.Calls() != wantPriv || public.Calls() != wantPub {
					t.Errorf("calls: private %d, public %d; want %d, %d", private.Calls(), public.Calls(), wantPriv, wantPub)
				}
				if tt.wantPrivate && (answered.Upstream != "direct" || !answered.Direct) {
					t.Errorf("answered = %+v, want direct", answered)
				}
			})
		}
	}
}
