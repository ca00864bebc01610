package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// gomirrorCmd runs a gomirror command with the environment of the test
// process (so its settings default from go env, as serve's do) and returns
// its combined output.
func gomirrorCmd(ctx context.Context, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, gomirrorBin, args...)
	cmd.Env = append(append(os.Environ(), "GOFLAGS=", "GOMIRROR_VULNDB=off"), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// artifactFiles lists the files of a store outside gomirror's own state.
func artifactFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".gomirror" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// TestBundleAirGap: a real project's modules exported from a mirror in
// front of the real upstream (go env GOPROXY, GOSUMDB) into a bundle,
// imported into an empty store, and served with the upstream off and no
// outbound network: the real go command with the default checksum
// database, an empty go.sum and an empty module cache downloads and builds
// the project. A bundle with one flipped byte is refused whole.
func TestBundleAirGap(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real upstream; skipped in -short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sumdbName := goEnvValue(t, "GOSUMDB")
	src, err := os.ReadFile("testdata/bundleproject/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	main, err := os.ReadFile("testdata/bundleproject/main.go.txt")
	if err != nil {
		t.Fatal(err)
	}
	project := t.TempDir()
	writeFiles(t, project, map[string]string{"go.mod": string(src), "main.go": string(main)})

	// Export from a mirror with network access.
	online := t.TempDir()
	bundleFile := filepath.Join(t.TempDir(), "app.bundle")
	out, err := gomirrorCmd(ctx, nil, "bundle", "export", "--storage-dir", online, "--from", project, "-o", bundleFile)
	if err != nil {
		t.Fatalf("bundle export: %v\n%s", err, out)
	}
	t.Logf("export: %s", out)

	// No network from here on: a proxy for anything not loopback at a
	// closed port, for the mirror and for the go command.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	noNet := []string{"HTTPS_PROXY=" + dead, "HTTP_PROXY=" + dead, "NO_PROXY=", "https_proxy=", "http_proxy=", "no_proxy="}

	// Tampered bundles are refused whole: nothing stored.
	good, err := os.ReadFile(bundleFile)
	if err != nil {
		t.Fatal(err)
	}
	for name, tampered := range tamperings(t, good) {
		t.Run("refused/"+name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "tampered.bundle")
			if err := os.WriteFile(f, tampered, 0o644); err != nil {
				t.Fatal(err)
			}
			store := t.TempDir()
			out, err := gomirrorCmd(ctx, noNet, "bundle", "import", "--storage-dir", store, "--upstream", "off", f)
			if err == nil || !strings.Contains(out, "bundle refused, nothing stored") {
				t.Errorf("import of a bundle with %s: %v\n%s", name, err, out)
			}
			if got := artifactFiles(t, store); len(got) != 0 {
				t.Errorf("stored after a refusal: %q", got)
			}
		})
	}

	// Import into an empty store, twice.
	store := t.TempDir()
	out, err = gomirrorCmd(ctx, noNet, "bundle", "import", "--storage-dir", store, "--upstream", "off", bundleFile)
	if err != nil || !strings.Contains(out, "added ") || strings.Contains(out, "added 0 artifacts") {
		t.Fatalf("bundle import: %v\n%s", err, out)
	}
	t.Logf("import: %s", out)
	out, err = gomirrorCmd(ctx, noNet, "bundle", "import", "--json", "--storage-dir", store, "--upstream", "off", bundleFile)
	if err != nil || !strings.Contains(out, `"added": 0,`) || strings.Contains(out, `"present": 0,`) {
		t.Fatalf("second bundle import: %v\n%s", err, out)
	}

	// Serve it offline; build with an empty go.sum and module cache.
	off := startMirrorEnv(t, noNet, "--storage-dir", store, "--upstream", "off")
	env := append(goEnv(t, off.URL, sumdbName), noNet...)
	env = append(env, "GOFLAGS=-modcacherw -mod=mod")
	mustGo(ctx, t, project, env, "mod", "download")
	mustGo(ctx, t, project, env, "build", "-o", os.DevNull, ".")
	sum, err := os.ReadFile(filepath.Join(project, "go.sum"))
	if err != nil || !strings.Contains(string(sum), "rsc.io/quote v1.5.2 h1:") || !strings.Contains(string(sum), "github.com/google/uuid v1.6.0 h1:") {
		t.Errorf("go.sum after the offline build: %q, %v", sum, err)
	}
	if !strings.Contains(off.logs.String(), "/sumdb/"+sumdbName+"/lookup/rsc.io/quote@v1.5.2") {
		t.Errorf("the go command did not verify through the mirror's checksum database endpoint:\n%s", tail(off.logs.String(), 30))
	}
	if strings.Contains(off.logs.String(), "status=5") {
		t.Errorf("offline mirror answered with a 5xx:\n%s", tail(off.logs.String(), 20))
	}
}

// tamperings returns copies of bundle b with one byte flipped: in the
// compressed file, and (recompressed, the manifest left as it was) inside a
// zip, inside the manifest and inside a tile.
func tamperings(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, at := range []int{len(b) / 4, len(b) / 2, len(b) - 100} {
		c := bytes.Clone(b)
		c[at] ^= 0x20
		out["compressed byte "+string(rune('a'+len(out)))] = c
	}
	zr, err := zstd.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	type entry struct {
		hdr  *tar.Header
		data []byte
	}
	var es []entry
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		d, _ := io.ReadAll(tr)
		es = append(es, entry{h, d})
	}
	for _, c := range []struct {
		name  string
		match func(string) bool
	}{
		{"a byte flipped inside a zip", func(n string) bool { return strings.HasSuffix(n, ".zip") }},
		{"a byte flipped inside the manifest", func(n string) bool { return n == "bundle.json" }},
		{"a byte flipped inside a tile", func(n string) bool { return strings.Contains(n, "/tile/") }},
	} {
		var buf bytes.Buffer
		zw, _ := zstd.NewWriter(&buf)
		tw := tar.NewWriter(zw)
		found := false
		for _, e := range es {
			d := e.data
			if !found && c.match(e.hdr.Name) {
				found = true
				d = bytes.Clone(d)
				d[len(d)/2] ^= 0x01
			}
			tw.WriteHeader(e.hdr)
			tw.Write(d)
		}
		tw.Close()
		zw.Close()
		if !found {
			t.Fatalf("no entry for %s", c.name)
		}
		out[c.name] = buf.Bytes()
	}
	return out
}
