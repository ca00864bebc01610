package policy_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomirror/gomirror/policy"
	"golang.org/x/mod/module"
)

// rules500 is a policy of 500 rules none of which but the last matches
// example.com/m.
func rules500() string {
	var sb strings.Builder
	sb.WriteString("rules:\n")
	for i := range 499 {
		fmt.Fprintf(&sb, "  - module: github.com/org%d/*\n    versions: \"<1.%d.0\"\n    action: deny\n", i, i)
	}
	sb.WriteString("  - module: \"*\"\n    deny-pseudo-versions: true\n")
	return sb.String()
}

// BenchmarkDecide500: a decision with 500 rules, walked (uncached) and
// from Live's cache.
func BenchmarkDecide500(b *testing.B) {
	path := filepath.Join(b.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte(rules500()), 0o644); err != nil {
		b.Fatal(err)
	}
	l, err := policy.Open(policy.LiveOptions{Path: path, Log: quiet})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	m := module.Version{Path: "example.com/m", Version: "v1.2.3"}
	b.Run("uncached", func(b *testing.B) {
		p := l.Policy()
		b.ReportAllocs()
		for b.Loop() {
			if d, _ := p.Decide(ctx, policy.Subject{}, m, policy.KindInfo, nil); !d.Allowed {
				b.Fatal(d)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		l.Decide(ctx, policy.Subject{}, m, policy.KindInfo, nil)
		b.ReportAllocs()
		for b.Loop() {
			if d, ok := l.Cached(policy.Subject{}, m, policy.KindInfo); !ok || !d.Allowed {
				b.Fatal(d)
			}
		}
	})
}
