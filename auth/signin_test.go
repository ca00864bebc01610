package auth_test

import (
	"errors"
	"net/http"
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

// TestSignInRate: successful sign-ins (each opens a session) are limited
// per client address too: a valid token, replayed, cannot open sessions
// without end from one address; others are not affected, and the
// allowance comes back with time.
func TestSignInRate(t *testing.T) {
	e := newEnv(t, auth.Options{Mode: auth.ModeAll}, "dev")
	r := httptest.NewRequest("POST", "/ui/signin", nil)
	r.RemoteAddr = "192.0.2.7:1234"
	for i := range auth.SignInBurst {
		if _, _, _, err := e.auth.SignIn(r, e.secrets["dev"]); err != nil {
			t.Fatalf("sign-in %d: %v", i, err)
		}
	}
	var limited *auth.LimitedError
	if _, _, _, err := e.auth.SignIn(r, e.secrets["dev"]); !errors.As(err, &limited) || limited.Wait <= 0 || limited.Wait > auth.SignInRefill {
		t.Fatalf("sign-in %d from one address: %v; want a LimitedError", auth.SignInBurst+1, err)
	}
	other := httptest.NewRequest("POST", "/ui/signin", nil)
	other.RemoteAddr = "192.0.2.8:1234"
	if _, _, _, err := e.auth.SignIn(other, e.secrets["dev"]); err != nil {
		t.Errorf("another address: %v", err)
	}
	e.clock.Advance(auth.SignInRefill)
	if _, _, _, err := e.auth.SignIn(r, e.secrets["dev"]); err != nil {
		t.Errorf("after %v: %v", auth.SignInRefill, err)
	}
	if _, _, _, err := e.auth.SignIn(r, e.secrets["dev"]); !errors.As(err, &limited) {
		t.Errorf("one more at once: %v; want a LimitedError", err)
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

// TestAllows checks that Allows answers what Wrap does for a request for
// the module with the token (or none), in each mode.
func TestAllows(t *testing.T) {
	for _, mode := range []auth.Mode{auth.ModeOff, auth.ModePrivate, auth.ModeAll} {
		opts := auth.Options{Mode: mode, Private: "corp.example/*"}
		if mode != auth.ModeOff {
			opts.Rules = []auth.Rule{{Modules: "corp.example/secret", Tokens: []string{"alice"}}}
		}
		e := newEnv(t, opts, "alice", "bob")
		secret, err := auth.NewTokens(e.path).AddRole("root", auth.RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		e.secrets["root"] = secret
		e.clock.Advance(time.Hour) // reload the tokens file
		for _, name := range []string{"", "alice", "bob", "root"} {
			for _, mod := range []string{"corp.example/secret/x", "CORP.example/Secret", "corp.example/other", "example.com/open"} {
				var c cred
				if name != "" {
					c = basic(name, name)
				}
				w := e.do("/"+mod+"/@v/list", "", c)
				want := w.Code == http.StatusOK
				if got := e.auth.Allows(name, mod); got != want {
					t.Errorf("mode %s: Allows(%q, %q) = %v, Wrap answered %d", mode, name, mod, got, w.Code)
				}
			}
		}
	}
}
