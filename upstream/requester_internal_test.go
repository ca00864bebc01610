package upstream

import (
	"context"
	"testing"
)

// TestRequester checks the requester a Direct counts a fetch against:
// WithRequester's name, or WithRequesterOf's function asked with the
// fetch's own context (derived, detached), or none.
func TestRequester(t *testing.T) {
	type key struct{}
	named := func(ctx context.Context) string { s, _ := ctx.Value(key{}).(string); return "of " + s }
	base := context.WithValue(context.Background(), key{}, "edge")
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want string
	}{
		{"none", context.Background(), ""},
		{"name", WithRequester(base, "token a"), "token a"},
		{"function", WithRequesterOf(base, named), "of edge"},
		{"function, detached and derived", context.WithValue(context.WithoutCancel(WithRequesterOf(base, named)), key{}, "auth"), "of auth"},
	} {
		if got := requester(tc.ctx); got != tc.want {
			t.Errorf("%s: requester %q, want %q", tc.name, got, tc.want)
		}
	}
}
