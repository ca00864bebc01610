package main

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomirror/gomirror/auth"
	"github.com/gomirror/gomirror/internal/testutil"
)

// runToken runs `gomirror token args...` and returns its stdout, stderr and
// error.
func runToken(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return testutil.RunCommand(t, newToken(), nil, args...)
}

func TestTokenAddAuthenticates(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens.json")
	stdout, stderr, err := runToken(t, "add", "ci", "--tokens-file", file)
	if err != nil {
		t.Fatalf("token add: %v", err)
	}
	secret := strings.TrimSuffix(stdout, "\n")
	if strings.Contains(secret, "\n") || !strings.HasPrefix(secret, auth.SecretPrefix) {
		t.Fatalf("stdout = %q, want one line holding the token", stdout)
	}
	if strings.Contains(stderr, secret) {
		t.Error("stderr repeats the secret")
	}
	if !strings.Contains(stderr, "machine <mirror host[:port]> login ci password <token>") {
		t.Errorf("stderr lacks the .netrc template:\n%s", stderr)
	}

	a, err := auth.New(auth.Options{Mode: auth.ModeAll, TokensFile: file})
	if err != nil {
		t.Fatal(err)
	}
	h := a.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(auth.Identity(r.Context())))
	}), nil)
	for _, set := range []func(r *http.Request){
		func(r *http.Request) { r.SetBasicAuth("ci", secret) },
		func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+secret) },
	} {
		r := httptest.NewRequest("GET", "/example.com/m/@v/list", nil)
		set(r)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 || w.Body.String() != "ci" {
			t.Errorf("request with the new token: %d %q, want 200 ci", w.Code, w.Body.String())
		}
	}
}

func TestTokenCommands(t *testing.T) {
	tests := []struct {
		name       string
		setup      [][]string
		args       []string
		wantErr    string // substring of the error; "" means success
		wantStdout []string
	}{
		{
			name:       "list shows names under a header",
			setup:      [][]string{{"add", "ci"}, {"add", "dev"}},
			args:       []string{"list"},
			wantStdout: []string{"NAME", "CREATED", "ci ", "dev "},
		},
		{
			name:       "list of a missing file shows only the header",
			args:       []string{"list"},
			wantStdout: []string{"NAME"},
		},
		{
			name:    "revoke unknown name fails",
			setup:   [][]string{{"add", "ci"}},
			args:    []string{"revoke", "nope"},
			wantErr: `token "nope" not found`,
		},
		{
			name:    "add an existing name fails",
			setup:   [][]string{{"add", "ci"}},
			args:    []string{"add", "ci"},
			wantErr: `token "ci" already exists`,
		},
		{
			name:    "add an invalid name fails",
			args:    []string{"add", "a/b"},
			wantErr: "only letters",
		},
		{
			name:  "revoke then list",
			setup: [][]string{{"add", "ci"}, {"add", "dev"}, {"revoke", "ci"}},
			args:  []string{"list"},
			// checked below: ci is gone
			wantStdout: []string{"dev "},
		},
		{
			name:       "list shows roles",
			setup:      [][]string{{"add", "ci"}, {"add", "--role", "admin", "prom"}},
			args:       []string{"list"},
			wantStdout: []string{"ROLE", "ci   ", "client", "prom ", "admin"},
		},
		{
			name:    "add with an unknown role fails",
			args:    []string{"add", "--role", "root", "x"},
			wantErr: `unknown token role "root"`,
		},
		{
			name:    "add needs exactly one name",
			args:    []string{"add"},
			wantErr: "accepts 1 arg",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GOMIRROR_TOKENS_FILE", "")
			file := filepath.Join(t.TempDir(), "tokens.json")
			for _, args := range tt.setup {
				if _, _, err := runToken(t, append(args, "--tokens-file", file)...); err != nil {
					t.Fatalf("setup %v: %v", args, err)
				}
			}
			stdout, _, err := runToken(t, append(tt.args, "--tokens-file", file)...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range tt.wantStdout {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
			if tt.name == "revoke then list" && strings.Contains(stdout, "ci ") {
				t.Errorf("revoked token still listed:\n%s", stdout)
			}
		})
	}
}

func TestTokenFileFromEnv(t *testing.T) {
	t.Setenv("GOMIRROR_TOKENS_FILE", "")
	if _, _, err := runToken(t, "list"); err == nil || !strings.Contains(err.Error(), "--tokens-file") {
		t.Fatalf("without a tokens file: error = %v, want one naming --tokens-file", err)
	}
	file := filepath.Join(t.TempDir(), "tokens.json")
	t.Setenv("GOMIRROR_TOKENS_FILE", file)
	if _, _, err := runToken(t, "add", "ci"); err != nil {
		t.Fatal(err)
	}
	if list, err := auth.NewTokens(file).List(); err != nil || len(list) != 1 || list[0].Name != "ci" {
		t.Fatalf("tokens file from the environment holds %v, %v", list, err)
	}
}
