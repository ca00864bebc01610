package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/testutil"
)

// TestSIGKILLDuringFillsLeavesNothingCorrupt kills gomirror with SIGKILL
// while 50 zip fills are in progress, most of them half-way through the
// upstream's response, and checks that the restarted mirror's storage holds
// no corrupt or partial artifact (`gomirror verify`), and that the go
// command then downloads every module version correctly through it.
func TestSIGKILLDuringFillsLeavesNothingCorrupt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// 50 module versions with 1-3 MB zips of random (incompressible) bytes.
	const (
		modules  = 10
		versions = 5
		total    = modules * versions
		// The first fullFirst zip requests to arrive are answered in full
		// at once; the others get half their bytes and are then held
		// until the mirror dies.
		fullFirst = 10
	)
	up := fakeproxy.New(t)
	src := rand.NewChaCha8([32]byte{'g', 'o', 'm', 'i', 'r', 'r', 'o', 'r'})
	rng := rand.New(src)
	type modVer struct{ path, version, h1 string }
	var all []modVer
	zips := map[string][]byte{} // by upstream URL path
	for i := range modules {
		path := fmt.Sprintf("example.com/big%02d", i)
		for j := range versions {
			version := fmt.Sprintf("v1.0.%d", j)
			data := make([]byte, 1<<20+rng.IntN(2<<20))
			src.Read(data)
			m, err := up.Add(path, version, map[string][]byte{
				"go.mod":   []byte("module " + path + "\n\ngo 1.21\n"),
				"big.go":   []byte("package big\n"),
				"data.bin": data,
			})
			if err != nil {
				t.Fatal(err)
			}
			zips["/"+path+"/@v/"+version+".zip"] = m.Zip
			all = append(all, modVer{path, version, testutil.MustHashZip(t, m.Zip)})
		}
	}

	// The upstream's zip responses, observed.
	var (
		mu                                  sync.Mutex
		killed                              bool
		arrived, completed, held, cut, late int
		servedFull                          int // zips the mirror sent to a client in full
	)
	changed := make(chan struct{}, 1)
	notify := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	// waitFor waits until cond (called with mu held) is true.
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for {
			mu.Lock()
			ok := cond()
			state := fmt.Sprintf("arrived %d, completed %d, held %d, cut %d, served %d", arrived, completed, held, cut, servedFull)
			mu.Unlock()
			if ok {
				return
			}
			select {
			case <-changed:
			case <-ctx.Done():
				t.Fatalf("waiting for %s: %v (%s)", what, ctx.Err(), state)
			}
		}
	}
	up.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		z, ok := zips[r.URL.Path]
		if !ok {
			return false
		}
		mu.Lock()
		if killed {
			late++ // the restarted mirror's fetches: served as usual
			mu.Unlock()
			return false
		}
		arrived++
		n := arrived
		mu.Unlock()
		defer notify()
		w.Header().Set("Content-Length", strconv.Itoa(len(z)))
		if n <= fullFirst {
			_, err := w.Write(z)
			mu.Lock()
			if err == nil {
				completed++
			} else {
				cut++
			}
			mu.Unlock()
			return true
		}
		if _, err := w.Write(z[:len(z)/2]); err == nil {
			w.(http.Flusher).Flush()
		}
		mu.Lock()
		held++
		mu.Unlock()
		notify()
		<-r.Context().Done() // the mirror went away
		mu.Lock()
		cut++
		mu.Unlock()
		return true
	})

	store := t.TempDir()
	m := startMirror(t, "--storage-dir", store, "--upstream", up.URL, "--sumdb", up.DBKey)

	// 50 concurrent cold GETs.
	var clients sync.WaitGroup
	for _, mv := range all {
		clients.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, "GET", m.URL+"/"+mv.path+"/@v/"+mv.version+".zip", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			if _, err := io.Copy(io.Discard, resp.Body); err == nil && resp.StatusCode == 200 {
				mu.Lock()
				servedFull++
				mu.Unlock()
				notify()
			}
		})
	}

	// Kill once every fill has reached the upstream, the rest are half-way
	// through theirs, fullFirst of them got their whole zip, and the first
	// few of those have been stored and served, so that the others are
	// being stored at about the time of the kill.
	waitFor("all zip requests at the upstream", func() bool {
		return arrived == total && completed == fullFirst && held == total-fullFirst && servedFull >= fullFirst/2
	})
	if err := m.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.done:
	case <-ctx.Done():
		t.Fatal("gomirror did not die of SIGKILL")
	}
	mu.Lock()
	killed = true
	mu.Unlock()
	clients.Wait()
	waitFor("the held responses to end", func() bool { return cut == total-fullFirst })
	mu.Lock()
	cutAtKill, served := cut, servedFull
	mu.Unlock()
	if cutAtKill == 0 {
		t.Fatal("no fill was in progress when gomirror was killed")
	}

	// What the crash left: no partial file outside gomirror's temporary
	// directory, and every zip that made it into place has its hash.
	visible, tmpLeft := inspectStorage(t, store)
	if visible > total-cutAtKill || visible < served {
		t.Errorf("%d zips visible after the crash; want between the %d served and the %d that got all their bytes", visible, served, total-cutAtKill)
	}
	t.Logf("SIGKILL with %d zip fills in flight: %d cut mid-body, %d had all bytes (%d of them served to a client); after the crash %d zips stored, %d partial files left in .gomirror/tmp",
		total, cutAtKill, total-cutAtKill, served, visible, tmpLeft)

	// Restart on the same storage; `gomirror verify` finds nothing wrong.
	m2 := startMirror(t, "--storage-dir", store, "--upstream", up.URL, "--sumdb", up.DBKey)
	// The start removed what the killed process left in .gomirror/tmp
	// (its owner is a dead process of this host), not an hour later.
	if _, left := inspectStorage(t, store); left != 0 {
		t.Errorf("%d temporary files of the killed process left after the restart; want 0", left)
	}
	n, c, u := runVerifyBin(ctx, t, "--storage-dir", store, "--upstream", up.URL, "--sumdb", up.DBKey)
	if c != 0 || u != 0 || n != visible {
		t.Errorf("verify after the crash: %d artifacts, corrupt %d, unverifiable %d; want the %d stored zips, all ok", n, c, u, visible)
	}

	// The go command downloads every version through the restarted mirror
	// and checks each against the checksum database.
	var mods []string
	for _, mv := range all {
		mods = append(mods, mv.path+"@"+mv.version)
	}
	got := goModDownload(ctx, t, goEnv(t, m2.URL, up.DBKey), mods)
	for _, mv := range all {
		if r := got[mv.path+"@"+mv.version]; r.Error != "" || r.Sum != mv.h1 {
			t.Errorf("go mod download %s@%s: %+v; want sum %s", mv.path, mv.version, r, mv.h1)
		}
	}
	mu.Lock()
	t.Logf("the restarted mirror fetched %d zips from the upstream again", late)
	mu.Unlock()

	// Now everything is stored, and verifies.
	if n, c, u := runVerifyBin(ctx, t, "--storage-dir", store, "--upstream", up.URL, "--sumdb", up.DBKey); n != 3*total || c != 0 || u != 0 {
		t.Errorf("verify after the downloads: %d artifacts, corrupt %d, unverifiable %d; want %d all ok", n, c, u, 3*total)
	}

	// The storage directory, recorded hashes and all, is still a GOPROXY
	// tree for the go command (the sums are compared here instead).
	got = goModDownload(ctx, t, goEnv(t, "file://"+filepath.ToSlash(store), "off"), mods)
	for _, mv := range all {
		if r := got[mv.path+"@"+mv.version]; r.Error != "" || r.Sum != mv.h1 {
			t.Errorf("file:// download of %s@%s: %+v; want sum %s", mv.path, mv.version, r, mv.h1)
		}
	}
}

// downloaded is one result of go mod download -json.
type downloaded struct{ Path, Version, Sum, Error string }

// goModDownload runs go mod download -json mods... outside a module and
// returns its results by path@version.
func goModDownload(ctx context.Context, t *testing.T, env, mods []string) map[string]downloaded {
	t.Helper()
	cmd := exec.CommandContext(ctx, "go", append([]string{"mod", "download", "-json"}, mods...)...)
	cmd.Dir, cmd.Env = t.TempDir(), env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	got := map[string]downloaded{}
	for dec := json.NewDecoder(&stdout); ; {
		var r downloaded
		if err := dec.Decode(&r); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go mod download -json output: %v", err)
		}
		got[r.Path+"@"+r.Version] = r
	}
	if err != nil {
		t.Errorf("go mod download: %v\n%s", err, tail(stderr.String(), 20))
	}
	return got
}

// inspectStorage checks the storage directory for partial files outside
// .gomirror/tmp and for zips without a recorded hash. It returns the
// number of stored zips and of files left in .gomirror/tmp.
func inspectStorage(t *testing.T, dir string) (zips, tmpLeft int) {
	t.Helper()
	allowed := regexp.MustCompile(`(\.(info|mod|zip|ziphash|modhash)|/@v/list|/@latest)$`)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		key := filepath.ToSlash(rel)
		switch {
		case !d.IsDir() && strings.HasPrefix(key, ".gomirror/tmp/"):
			tmpLeft++
			return nil
		case d.IsDir() && (key == ".gomirror/direct" || key == "sumdb"):
			return filepath.SkipDir
		case d.IsDir() || strings.HasPrefix(key, ".gomirror/"):
			return nil
		}
		if !allowed.MatchString(key) {
			t.Errorf("unexpected file in storage after the crash: %s", key)
		}
		if strings.HasSuffix(key, ".zip") {
			zips++
			if _, err := os.Stat(p + "hash"); err != nil {
				t.Errorf("stored zip %s has no recorded hash: %v", key, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return zips, tmpLeft
}

var verifySummary = regexp.MustCompile(`(?m)^verified (\d+) artifacts: ok (\d+), corrupt (\d+), unverifiable (\d+)$`)

// runVerifyBin runs `gomirror verify args...`, requires exit status 0, and
// returns the counts of its summary line: checked, corrupt, unverifiable.
func runVerifyBin(ctx context.Context, t *testing.T, args ...string) (checked, corrupt, unverifiable int) {
	t.Helper()
	cmd := exec.CommandContext(ctx, gomirrorBin, append([]string{"verify"}, args...)...)
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("gomirror verify: %v\nstdout:\n%s\nstderr:\n%s", err, tail(stdout.String(), 20), tail(stderr.String(), 20))
	}
	mm := verifySummary.FindStringSubmatch(stdout.String())
	if mm == nil {
		t.Fatalf("gomirror verify printed no summary line:\n%s", stdout.String())
	}
	n := func(s string) int { v, _ := strconv.Atoi(s); return v }
	if !strings.Contains(mm[0], "corrupt 0") {
		t.Errorf("gomirror verify:\n%s", stdout.String())
	}
	return n(mm[1]), n(mm[3]), n(mm[4])
}
