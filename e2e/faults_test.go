package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/internal/fakeproxy"
)

// TestFaultFirstZipAttemptBroken runs `go mod download` through the gomirror
// binary while the upstream breaks its first answer for every zip (a reset
// connection or a body cut short). gomirror asks again (a bounded number of
// times), so the go command, which does not retry and checks every hash
// itself, succeeds on its first run with the right modules, and gomirror's
// storage holds only good artifacts. A zip that keeps breaking ends in a
// clear 502 after those attempts.
func TestFaultFirstZipAttemptBroken(t *testing.T) {
	mods := []module.Version{
		{Path: "example.com/hello", Version: "v1.1.0"},
		{Path: "example.com/dep", Version: "v1.0.0"},
		{Path: "example.com/hello/v2", Version: "v2.0.0"},
		{Path: "example.com/MixedCase", Version: "v1.0.0"},
		{Path: "example.com/legacy", Version: "v2.1.0+incompatible"},
	}
	// resetOrTruncate resets the connection for hello's zips and cuts the
	// others short.
	resetOrTruncate := func(c *fakeproxy.Call) {
		if strings.Contains(c.R.URL.Path, "/hello/") {
			fakeproxy.Reset(100)(c)
		} else {
			fakeproxy.Truncate(-1)(c)
		}
	}
	tests := []struct {
		name     string
		fault    fakeproxy.Fault
		prefetch string
	}{
		{"connection reset, prefetch off", fakeproxy.Reset(100), "0"},
		{"truncated body, prefetch off", fakeproxy.Truncate(-1), "0"},
		{"reset or truncated, prefetch on", resetOrTruncate, "16"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			up := fakeproxy.New(t)
			up.InjectFirst(fakeproxy.Suffix(".zip"), tc.fault)
			store := t.TempDir()
			m := startMirror(t, "--storage-dir", store, "--upstream", up.URL, "--sumdb", up.DBKey, "--prefetch", tc.prefetch)
			env := goEnv(t, m.URL, up.DBKey)
			args := []string{"mod", "download", "-json"}
			for _, mv := range mods {
				args = append(args, mv.String())
			}
			out := mustGo(ctx, t, t.TempDir(), env, args...)

			// The go command's result: every module, zip bytes as the
			// checksum database records them.
			dec := json.NewDecoder(strings.NewReader(out))
			got := map[string]bool{}
			for {
				var d struct{ Path, Version, Zip, Error string }
				if err := dec.Decode(&d); errors.Is(err, io.EOF) {
					break
				} else if err != nil {
					t.Fatalf("go mod download -json: %v\n%s", err, out)
				}
				want := up.Module(d.Path, d.Version)
				if d.Error != "" || want == nil {
					t.Errorf("%s@%s: %q", d.Path, d.Version, d.Error)
					continue
				}
				zip, err := os.ReadFile(d.Zip)
				if err != nil || !bytes.Equal(zip, want.Zip) {
					t.Errorf("%s@%s: the go command's zip is not the recorded one (%d bytes, %v)", d.Path, d.Version, len(zip), err)
				}
				got[d.Path+"@"+d.Version] = true
			}
			for _, mv := range mods {
				if !got[mv.String()] {
					t.Errorf("%s not downloaded", mv)
				}
				// The fault met every zip exactly once.
				if n := up.Injected(zipURLPath(t, mv)); n != 1 {
					t.Errorf("%s: the upstream broke %d answers for its zip, want 1", mv, n)
				}
			}
			if n := strings.Count(m.logs.String(), "zip transfer broke off; asking again"); n != len(mods) {
				t.Errorf("gomirror logged %d repeated zip requests, want %d", n, len(mods))
			}

			m.stop(t) // finishes every fill and background write
			checkStoredArtifacts(t, store, up, mods)
		})
	}

	t.Run("a zip that keeps breaking", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		up := fakeproxy.New(t)
		mv := mods[0]
		up.Inject(fakeproxy.Paths(zipURLPath(t, mv)), fakeproxy.Reset(100))
		store := t.TempDir()
		m := startMirror(t, "--storage-dir", store, "--upstream", up.URL, "--sumdb", up.DBKey, "--prefetch", "0")
		out, err := goCmd(ctx, t, t.TempDir(), goEnv(t, m.URL, up.DBKey), "mod", "download", mv.String())
		if err == nil || !strings.Contains(out, "502 Bad Gateway") || !strings.Contains(out, "connection reset by peer") {
			t.Errorf("go mod download of a zip that always breaks: err %v, output %q; want a 502 naming the reset", err, tail(out, 10))
		}
		if n := up.Injected(zipURLPath(t, mv)); n != 3 {
			t.Errorf("the upstream was asked %d times for the zip, want 3 (1 + 2 more)", n)
		}
		m.stop(t)
		zipFile := filepath.Join(store, filepath.FromSlash(strings.TrimPrefix(zipURLPath(t, mv), "/")))
		for _, f := range []string{zipFile, zipFile + "hash"} {
			if _, err := os.Stat(f); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s is in storage after every transfer broke: %v", f, err)
			}
		}
		// Each process writes in its own directory under .gomirror/tmp:
		// no file may be left in any.
		left := 0
		filepath.WalkDir(filepath.Join(store, ".gomirror", "tmp"), func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				left++
			}
			return nil
		})
		if left > 0 {
			t.Errorf("temporary files left: %d", left)
		}
	})
}

func zipURLPath(t *testing.T, mv module.Version) string {
	t.Helper()
	p, err := module.EscapePath(mv.Path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := module.EscapeVersion(mv.Version)
	if err != nil {
		t.Fatal(err)
	}
	return "/" + p + "/@v/" + v + ".zip"
}

// checkStoredArtifacts checks that gomirror's storage holds each module's
// zip and go.mod exactly as the checksum database records them, nothing
// else in the module tree but lists, .info files and recorded hashes, and
// no temporary files.
func checkStoredArtifacts(t *testing.T, store string, up *fakeproxy.Server, mods []module.Version) {
	t.Helper()
	for _, mv := range mods {
		want := up.Module(mv.Path, mv.Version)
		key := strings.TrimSuffix(zipURLPath(t, mv), ".zip")
		for ext, data := range map[string][]byte{".zip": want.Zip, ".mod": want.Mod} {
			b, err := os.ReadFile(filepath.Join(store, filepath.FromSlash(key+ext)))
			if err != nil || !bytes.Equal(b, data) {
				t.Errorf("stored %s%s: %d bytes, %v; want the %d recorded bytes", key, ext, len(b), err, len(data))
			}
		}
	}
	filepath.WalkDir(store, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(store, p)
		key := filepath.ToSlash(rel)
		switch {
		case strings.HasPrefix(key, ".gomirror/tmp/"):
			t.Errorf("temporary file left in storage: %s", key)
		case strings.HasPrefix(key, ".gomirror/"), strings.HasPrefix(key, "sumdb/"):
		case strings.HasSuffix(key, "/@v/list"), strings.HasSuffix(key, "/@latest"):
		default:
			_, file, ok := strings.Cut(key, "/@v/")
			ext := filepath.Ext(file)
			if !ok || (ext != ".info" && ext != ".mod" && ext != ".zip" && ext != ".ziphash" && ext != ".modhash") {
				t.Errorf("stray file in storage: %s", key)
			}
			if ext == ".zip" || ext == ".mod" {
				found := false
				for _, mv := range mods {
					found = found || strings.HasPrefix("/"+key, strings.TrimSuffix(zipURLPath(t, mv), ".zip"))
				}
				if !found {
					t.Errorf("unexpected artifact in storage: %s", key)
				}
			}
		}
		return nil
	})
}
