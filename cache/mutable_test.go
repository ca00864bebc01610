package cache

import (
	"slices"
	"testing"

	"github.com/gomirror/gomirror/storage"
)

// TestFreshAnswerIsStoredOnlyIfChanged: a fresh list or @latest answer is
// written only when it differs from what storage held (or held nothing).
func TestFreshAnswerIsStoredOnlyIfChanged(t *testing.T) {
	latest := func(v string) string { return `{"Version":"` + v + `","Time":"2024-01-01T00:00:00Z"}` }
	tests := []struct {
		name      string
		op        string // list or latest
		stored    *string
		upstream  string
		wantWrite bool
	}{
		{"list unchanged", "list", ptr("v1.0.0\n"), "v1.0.0\n", false},
		{"list changed", "list", ptr("v1.0.0\n"), "v1.0.0\nv1.1.0\n", true},
		{"list new", "list", nil, "v1.0.0\n", true},
		{"empty list new", "list", nil, "", true},
		{"latest unchanged", "latest", ptr(latest("v1.0.0")), latest("v1.0.0"), false},
		{"latest changed", "latest", ptr(latest("v1.0.0")), latest("v1.1.0"), true},
		{"latest new", "latest", nil, latest("v1.0.0"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeUpstream(map[string]fakeAnswer{tt.op + " " + fakePath: {b: []byte(tt.upstream)}})
			m, shared, mine := newReplica(t, f, nil)
			ctx := t.Context()
			key := fakePath + "/@v/list"
			get := m.List
			if tt.op == "latest" {
				key, get = fakePath+"/@latest", m.Latest
			}
			if tt.stored != nil {
				if err := storage.PutBytes(ctx, shared, key, []byte(*tt.stored)); err != nil {
					t.Fatal(err)
				}
			}
			b, src, err := get(ctx, escaped(fakePath, ""))
			if err != nil || src.Outcome != Fresh || string(b) != tt.upstream {
				t.Fatalf("%s = %q, %+v, %v; want the upstream's %q, fresh", tt.op, b, src, err, tt.upstream)
			}
			if wrote := slices.Contains(mine.written(), key); wrote != tt.wantWrite {
				t.Errorf("wrote %s: %v, want %v", key, wrote, tt.wantWrite)
			}
			if got, err := storage.ReadAll(ctx, shared, key); err != nil || string(got) != tt.upstream {
				t.Errorf("stored %q, %v; want %q", got, err, tt.upstream)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
