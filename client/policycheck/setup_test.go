package policycheck

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomirror/gomirror/client/golist"
)

// TestCheckerGoToken: the go command that resolves the build list gets
// the token exactly when it resolves through the server the token is for
// (the named mirror, or with a policy file the named proxy), so that a
// mirror with auth all resolves it; never through another proxy or one
// taken from go env GOPROXY.
func TestCheckerGoToken(t *testing.T) {
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(pol, []byte("rules:\n  - module: example.com/x\n    action: deny\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const mirror, other = "https://mirror.test:8443", "https://other.test"
	env := append(os.Environ(), "GOPROXY="+mirror+",direct", "GOENV=off")
	for _, tt := range []struct {
		name string
		opts Options
		want string
	}{
		{"named mirror", Options{Mirror: mirror}, "tok"},
		{"named mirror, another proxy", Options{Mirror: mirror, Proxy: other}, ""},
		{"mirror from GOPROXY", Options{}, ""},
		{"policy, named proxy", Options{PolicyFile: pol, Proxy: mirror}, "tok"},
		{"policy, proxy from GOPROXY", Options{PolicyFile: pol}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Token = "tok"
			tt.opts.Go = golist.GoCommand{Env: env}
			c, err := NewChecker(context.Background(), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if got := c.Resolver.(GoList).Go.Token; got != tt.want {
				t.Errorf("the go command's token %q, want %q", got, tt.want)
			}
		})
	}
}

// TestURLsRedacted: a mirror URL that carries credentials (a password, or
// a token as the user name) is named in policy check's notes and errors
// without its userinfo.
func TestURLsRedacted(t *testing.T) {
	for name, userinfo := range map[string]string{"password": "alice:s3cretpw", "token": "ghp_t0kenAsUserName"} {
		t.Run(name, func(t *testing.T) {
			secret := userinfo[strings.LastIndexByte(userinfo, ':')+1:]
			plain := "http://" + userinfo + "@mirror.test/"
			_, _, err := tokenFor("tok", plain, plain, "--mirror")
			_, notes, _ := tokenFor("tok", "", plain, "--mirror")
			uerr := checkURL("--vulndb", "ftp://"+userinfo+"@mirror.test/")
			if err == nil || len(notes) != 1 || uerr == nil {
				t.Fatalf("tokenFor: %v, %v; checkURL: %v", err, notes, uerr)
			}
			for _, s := range []string{err.Error(), notes[0].String(), uerr.Error()} {
				if strings.Contains(s, secret) || !strings.Contains(s, "mirror.test") {
					t.Errorf("%q shows the credential or not the host", s)
				}
			}
		})
	}
}
