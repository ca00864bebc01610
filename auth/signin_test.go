package auth_test

import (
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gomirror/gomirror/auth"
)

// TestSignIn checks the console's sign-in: a right secret gives the
// token's name, role and fingerprint; wrong ones count against the client
// address until it is refused before its secret is looked at; the
// fingerprint changes when the token is replaced.
func TestSignIn(t *testing.T) {
	e := newEnv(t, auth.Options{Mode: auth.ModeAll, FailureBurst: 2, FailureRefill: time.Minute}, "dev")
	r := httptest.NewRequest("POST", "/ui/signin", nil)
	name, role, fp, err := e.auth.SignIn(r, e.secrets["dev"])
	if err != nil || name != "dev" || role != auth.RoleClient || fp == "" {
		t.Fatalf("SignIn = %q %q %q %v", name, role, fp, err)
	}
	if _, cfp, ok := e.auth.Current("dev"); !ok || cfp != fp {
		t.Errorf("Current fingerprint %q, sign-in's %q", cfp, fp)
	}
	for range 2 {
		if _, _, _, err := e.auth.SignIn(r, "gm_wrong"); !errors.Is(err, auth.ErrWrongToken) {
			t.Fatalf("wrong secret: %v", err)
		}
	}
	var limited *auth.LimitedError
	if _, _, _, err := e.auth.SignIn(r, e.secrets["dev"]); !errors.As(err, &limited) || limited.Wait <= 0 {
		t.Fatalf("after the allowance of failures, a right secret: %v; want a LimitedError", err)
	}
	// Replaced: another secret under the same name, another fingerprint.
	store := auth.NewTokens(e.path)
	if err := store.Revoke("dev"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Add("dev"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Second) // past the reload interval
	if _, nfp, ok := e.auth.Current("dev"); !ok || nfp == fp {
		t.Errorf("replaced token: fingerprint %q, was %q", nfp, fp)
	}
	if err := store.Revoke("dev"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Second)
	if _, _, ok := e.auth.Current("dev"); ok {
		t.Error("revoked token is still current")
	}
}

// TestMayRead checks which modules a client token may read: those of the
// rules that name it, and those of no rule.
func TestMayRead(t *testing.T) {
	e := newEnv(t, auth.Options{Mode: auth.ModeAll, Rules: []auth.Rule{{Modules: "corp.example/secret", Tokens: []string{"alice"}}}}, "alice", "bob")
	for _, tt := range []struct {
		name, mod string
		want      bool
	}{
		{"alice", "corp.example/secret/x", true},
		{"bob", "corp.example/secret/x", false},
		{"bob", "CORP.example/secret", false},
		{"bob", "example.com/open", true},
	} {
		if got := e.auth.MayRead(tt.name, tt.mod); got != tt.want {
			t.Errorf("MayRead(%q, %q) = %v, want %v", tt.name, tt.mod, got, tt.want)
		}
	}
}
