package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/fakeproxy"
)

// TestBadSettingExitsWithOneLine runs the binary with bad settings from
// each source and checks that it exits non-zero with one line on stderr
// naming the setting.
func TestBadSettingExitsWithOneLine(t *testing.T) {
	badFile := filepath.Join(t.TempDir(), "gomirror.yaml")
	if err := os.WriteFile(badFile, []byte("listen: 127.0.0.1:0\nupstreams: http://127.0.0.1:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		env   []string
		wants []string // substrings of the one line
	}{
		{"bad flag value", []string{"--fetch-timeout", "soon"}, nil, []string{"fetch-timeout", "soon"}},
		{"bad env value", nil, []string{"GOMIRROR_LOG_FORMAT=xml"}, []string{"log-format", "GOMIRROR_LOG_FORMAT", "xml"}},
		{"unknown key in the file", []string{"--config", badFile}, nil, []string{"upstreams", badFile, "unknown setting"}},
		{"missing config file", []string{"--config", badFile + ".missing"}, nil, []string{"config", "no such file"}},
		{"bad upstream syntax", []string{"--upstream", "ftp://127.0.0.1:1"}, nil, []string{"upstream", "scheme"}},
		{"bad sumdb", []string{"--sumdb", "nosuchdb.example.test"}, nil, []string{"sumdb", "no known key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			args := append([]string{"serve", "--listen", "127.0.0.1:0", "--storage-dir", t.TempDir()}, tt.args...)
			cmd := exec.CommandContext(ctx, gomirrorBin, args...)
			cmd.Env = append(os.Environ(), tt.env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if err == nil {
				t.Fatalf("gomirror serve %v exited 0", tt.args)
			}
			out := strings.TrimRight(stderr.String(), "\n")
			if strings.Count(out, "\n") != 0 {
				t.Errorf("stderr has more than one line:\n%s", out)
			}
			for _, w := range tt.wants {
				if !strings.Contains(out, w) {
					t.Errorf("stderr %q does not name %q", out, w)
				}
			}
		})
	}
}

// TestConfigFileAndEnvironment starts the binary from a YAML file, with an
// environment variable overriding one of its settings, and uses it.
func TestConfigFileAndEnvironment(t *testing.T) {
	up := fakeproxy.New(t)
	store := t.TempDir()
	file := filepath.Join(t.TempDir(), "gomirror.yaml")
	yaml := "upstream: http://127.0.0.1:1\n" + // overridden by the environment below
		"sumdb: " + up.DBKey + "\n" +
		"storage-dir: " + store + "\n" +
		"log-format: json\n"
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOMIRROR_UPSTREAM", up.URL)
	t.Setenv("GOMIRROR_CONFIG", file)
	m := startMirror(t)
	if !strings.Contains(m.logs.String(), `"msg":"gomirror listening"`) {
		t.Errorf("log-format json from the file not applied:\n%s", m.logs)
	}
	r, err := httpGet(m.URL + "/example.com/hello/@v/v1.0.0.mod")
	if err != nil || r != string(up.Module("example.com/hello", "v1.0.0").Mod) {
		t.Fatalf("GET .mod through the configured mirror: %q, %v", r, err)
	}
	m.stop(t) // SIGTERM: background writes finish before the process exits
	if _, err := os.Stat(filepath.Join(store, "example.com", "hello", "@v", "v1.0.0.mod")); err != nil {
		t.Errorf("not stored in the configured storage dir: %v", err)
	}
}
