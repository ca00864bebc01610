package auth_test

import (
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/auth"
)

var secretRE = regexp.MustCompile(`^gm_[A-Za-z0-9_-]{43}$`)

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"ci", true},
		{"a", true},
		{"build-bot_1.prod", true},
		{strings.Repeat("x", 64), true},
		{"", false},
		{strings.Repeat("x", 65), false},
		{"has space", false},
		{"slash/name", false},
		{"colon:name", false},
		{"ünicode", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := auth.ValidName(tt.name)
			if (err == nil) != tt.ok {
				t.Errorf("ValidName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
			}
		})
	}
}

func TestTokensRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "tokens.json")
	store := auth.NewTokens(path)

	list, err := store.List()
	if err != nil || len(list) != 0 {
		t.Fatalf("List of a missing file = %v, %v; want empty, nil", list, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("List created the file: %v", err)
	}

	before := time.Now().Add(-time.Second)
	secrets := map[string]string{}
	for _, name := range []string{"ci", "dev"} {
		secret, err := store.Add(name)
		if err != nil {
			t.Fatalf("Add(%q): %v", name, err)
		}
		if !secretRE.MatchString(secret) {
			t.Errorf("Add(%q) secret %q does not look like gm_ + 43 base64url characters", name, secret)
		}
		secrets[name] = secret
	}
	if secrets["ci"] == secrets["dev"] {
		t.Fatal("two tokens got the same secret")
	}

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("tokens file mode = %v, want 0600", mode)
	}

	// A second instance reads what the first wrote.
	list, err = auth.NewTokens(path).List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "ci" || list[1].Name != "dev" {
		t.Fatalf("List = %+v, want ci, dev", list)
	}
	for _, tok := range list {
		if tok.Created.Before(before) || tok.Created.After(time.Now().Add(time.Second)) {
			t.Errorf("token %s created %v, want about now", tok.Name, tok.Created)
		}
	}

	// The file holds hashes only, in the documented format.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, secret := range secrets {
		if strings.Contains(string(data), secret) || strings.Contains(string(data), strings.TrimPrefix(secret, "gm_")) {
			t.Errorf("tokens file contains the secret of %s", name)
		}
	}
	var raw struct {
		Tokens []struct {
			Name    string    `json:"name"`
			Hash    string    `json:"hash"`
			Created time.Time `json:"created"`
		} `json:"tokens"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatalf("tokens file is not the documented JSON: %v\n%s", err, data)
	}
	hashRE := regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	for _, e := range raw.Tokens {
		if !hashRE.MatchString(e.Hash) {
			t.Errorf("token %s hash = %q, want sha256:<64 hex>", e.Name, e.Hash)
		}
	}
}

func TestTokensAddRevoke(t *testing.T) {
	tests := []struct {
		name    string
		ops     func(s *auth.Tokens) error
		wantErr error // errors.Is target; nil means success
		want    []string
	}{
		{
			name: "add twice the same name is ErrExist",
			ops: func(s *auth.Tokens) error {
				s.Add("ci")
				_, err := s.Add("ci")
				return err
			},
			wantErr: fs.ErrExist,
			want:    []string{"ci"},
		},
		{
			name: "revoke unknown name is ErrNotExist",
			ops: func(s *auth.Tokens) error {
				s.Add("ci")
				return s.Revoke("nope")
			},
			wantErr: fs.ErrNotExist,
			want:    []string{"ci"},
		},
		{
			name: "revoke on a missing file is ErrNotExist",
			ops: func(s *auth.Tokens) error {
				return s.Revoke("ci")
			},
			wantErr: fs.ErrNotExist,
		},
		{
			name: "revoke removes only that token",
			ops: func(s *auth.Tokens) error {
				s.Add("a")
				s.Add("b")
				s.Add("c")
				return s.Revoke("b")
			},
			want: []string{"a", "c"},
		},
		{
			name: "revoke the last token leaves an empty store",
			ops: func(s *auth.Tokens) error {
				s.Add("a")
				return s.Revoke("a")
			},
		},
		{
			name: "a revoked name can be added again",
			ops: func(s *auth.Tokens) error {
				s.Add("a")
				s.Revoke("a")
				_, err := s.Add("a")
				return err
			},
			want: []string{"a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := auth.NewTokens(filepath.Join(t.TempDir(), "tokens.json"))
			err := tt.ops(s)
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			list, err := s.List()
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tok := range list {
				names = append(names, tok.Name)
			}
			if strings.Join(names, ",") != strings.Join(tt.want, ",") {
				t.Errorf("tokens = %v, want %v", names, tt.want)
			}
		})
	}
}

func TestTokensAddInvalidName(t *testing.T) {
	s := auth.NewTokens(filepath.Join(t.TempDir(), "tokens.json"))
	for _, name := range []string{"", "a b", strings.Repeat("n", 65)} {
		if _, err := s.Add(name); err == nil {
			t.Errorf("Add(%q) succeeded, want an error", name)
		}
	}
}

func TestTokensAtomicWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tokens.json")
	s := auth.NewTokens(path)
	if _, err := s.Add("first"); err != nil {
		t.Fatal(err)
	}
	// Loosen the mode: the next write must restore 0600.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	old, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	oldData, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	if _, err := s.Add("second"); err != nil {
		t.Fatal(err)
	}

	// The file was replaced, not rewritten in place: a reader that had it
	// open still sees the old, complete content.
	got, err := io.ReadAll(old)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(oldData) {
		t.Errorf("the open old file changed:\n%s\nwant\n%s", got, oldData)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("mode after rewrite = %v, want 0600", mode)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only tokens.json (no temporary files left)", names)
	}
}

func TestTokensFollowsSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.json")
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(real, link); err != nil {
		t.Skip(err)
	}
	if _, err := auth.NewTokens(link).Add("ci"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("link was replaced: %v %v", fi, err)
	}
	if list, err := auth.NewTokens(real).List(); err != nil || len(list) != 1 {
		t.Fatalf("List of the link's target = %v, %v", list, err)
	}
}

func TestTokensBadFile(t *testing.T) {
	tests := []struct {
		name    string
		content string
		wantErr string // substring; "" means no error
	}{
		{"empty file is an empty store", "", ""},
		{"no tokens key", "{}", ""},
		{"not JSON", "tokens: []", "tokens file"},
		{"bad hash prefix", `{"tokens":[{"name":"a","hash":"md5:00"}]}`, "hash"},
		{"short hash", `{"tokens":[{"name":"a","hash":"sha256:abcd"}]}`, "hash"},
		{"bad name", `{"tokens":[{"name":"a b","hash":"sha256:` + strings.Repeat("0", 64) + `"}]}`, "token name"},
		{"duplicate name", `{"tokens":[{"name":"a","hash":"sha256:` + strings.Repeat("0", 64) + `"},{"name":"a","hash":"sha256:` + strings.Repeat("1", 64) + `"}]}`, "twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tokens.json")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := auth.NewTokens(path).List()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("List: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("List error = %v, want one containing %q", err, tt.wantErr)
			}
			// A broken file is never overwritten by a change.
			if _, err := auth.NewTokens(path).Add("new"); err == nil {
				t.Error("Add on a broken file succeeded")
			}
		})
	}
}
