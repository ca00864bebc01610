package upstream_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/gitserver"
	"github.com/gomirror/gomirror/internal/testutil"
	"github.com/gomirror/gomirror/upstream"
)

// TestIsolatedDirectUsesNoOperatorCredentials is the confused deputy at the
// fetcher's level: gomirror's own environment holds everything a private
// fetch needs to reach a git server that wants a password (a global git
// config mapping its host to the server, a credential store with the
// password, a .netrc in HOME). A Direct that is not Isolated uses them; an
// Isolated one must use none of them, so the git server sees no request at
// all (the mapping is not applied) and certainly no password.
func TestIsolatedDirectUsesNoOperatorCredentials(t *testing.T) {
	const user, password = "bot", "s3cret-operator-pw"
	h := newHelloRepo(t, gitserver.WithBasicAuth(user, password))
	dir := t.TempDir()
	creds := filepath.Join(dir, "git-credentials")
	if err := os.WriteFile(creds, []byte(strings.Replace(h.srv.URL, "://", "://"+user+":"+password+"@", 1)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	gitconfig := filepath.Join(dir, "gitconfig")
	cfg := fmt.Sprintf("[url %q]\n\tinsteadOf = https://%s/\n[credential]\n\thelper = store --file=%s\n", h.srv.URL+"/", gitserver.Host, creds)
	if err := os.WriteFile(gitconfig, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	home := testutil.QuietHome(t, t.TempDir())
	if err := os.WriteFile(filepath.Join(home, ".netrc"), []byte("machine 127.0.0.1 login "+user+" password "+password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GIT_CONFIG_GLOBAL", gitconfig)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("HOME", home)

	newD := func(isolated bool) *upstream.Direct {
		d, err := upstream.NewDirect(gitserver.TempDir(t), 2)
		if err != nil {
			t.Fatal(err)
		}
		d.GoBin, d.Isolated = goBin(t), isolated
		return d
	}
	// The operator's configuration does work: otherwise the isolated
	// failure below would prove nothing.
	if _, _, err := newD(false).Info(t.Context(), h.path, "v1.0.0"); err != nil {
		t.Fatalf("a sandbox with the operator's git configuration cannot fetch either: %v", err)
	}
	before := len(h.srv.Requests())

	_, _, err := newD(true).Info(t.Context(), h.path, "v1.0.0")
	if err == nil {
		t.Fatal("the isolated sandbox fetched a module that only the operator's configuration and credentials reach")
	}
	if got := h.srv.Requests()[before:]; len(got) > 0 {
		t.Errorf("the isolated sandbox reached the git server (%d requests: %q)", len(got), got)
	}
	if strings.Contains(err.Error(), password) {
		t.Errorf("the error shows the password: %v", err)
	}
}

// TestDirectErrorsShowNoSandboxDetails checks that a failed fetch tells the
// client the module and the class of failure, while the go command's own
// words (sandbox paths, the git server's address and answers) go to the log
// only.
func TestDirectErrorsShowNoSandboxDetails(t *testing.T) {
	tests := []struct {
		name         string
		version      string
		serverError  bool // the git server answers 500 to fetches (after ls-remote worked)
		wantNotExist bool
	}{
		{"a version that does not exist", "v9.9.9", false, true},
		{"a git server that fails a fetch", "v1.0.0", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHelloRepo(t)
			if tt.serverError {
				h.srv.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
					if !isFetch(t, r) {
						return false
					}
					http.Error(w, "internal detail of "+r.URL.Path, http.StatusInternalServerError)
					return true
				})
			}
			d := newDirect(t, h.srv)
			var log bytes.Buffer
			d.Logger = slog.New(slog.NewTextHandler(&log, nil))
			_, _, err := d.Info(t.Context(), h.path, tt.version)
			if err == nil {
				t.Fatal("Info succeeded")
			}
			if upstream.IsNotExist(err) != tt.wantNotExist {
				t.Errorf("error %q: not-found is %v, want %v; log:\n%s", err, upstream.IsNotExist(err), tt.wantNotExist, log.String())
			}
			msg := err.Error()
			for _, leak := range []string{d.Dir, filepath.Dir(d.Dir), "exit status", strings.TrimPrefix(h.srv.URL, "http://"), "internal detail"} {
				if strings.Contains(msg, leak) {
					t.Errorf("the client's error %q contains %q", msg, leak)
				}
			}
			if !strings.Contains(msg, h.path+"@"+tt.version) {
				t.Errorf("the client's error %q does not name the module", msg)
			}
			if !strings.Contains(log.String(), tt.version) || !strings.Contains(log.String(), "output=") {
				t.Errorf("the log does not keep the go command's output:\n%s", log.String())
			}
		})
	}
}

// TestDirectQueueIsBoundedAndShared fills a Direct's process pool with
// fetches that hang at the git server and checks the two rules that keep
// one client from starving the others: a requester holds at most Share
// slots (its further fetches wait for its own slots, not the others'),
// and a fetch that finds no slot within QueueTimeout fails with a
// BusyError at once instead of queueing for the fetch timeout.
func TestDirectQueueIsBoundedAndShared(t *testing.T) {
	h := newHelloRepo(t)
	arrived := make(chan string, 100)
	release := make(chan struct{})
	releaseAll := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseAll)
	h.srv.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		arrived <- r.URL.Path
		<-release
		return true
	})
	d := newDirect(t, h.srv)
	d.Share = 1
	d.QueueTimeout = time.Second
	info := func(who string) <-chan error {
		done := make(chan error, 1)
		go func() {
			ctx := upstream.WithRequester(context.Background(), who)
			_, _, err := d.Info(ctx, h.path, "v1.0.0")
			done <- err
		}()
		return done
	}
	waitArrival := func(what string) {
		t.Helper()
		select {
		case <-arrived:
		case <-time.After(20 * time.Second):
			t.Fatalf("%s never reached the git server", what)
		}
	}
	a1 := info("a")
	waitArrival("a's first fetch")
	// a's second fetch waits for a's own slot although one of the pool's
	// two is free, and gives up after the queue timeout.
	a2 := info("a")
	select {
	case err := <-a2:
		var be *upstream.BusyError
		if !errors.As(err, &be) || !be.Own || be.RetryAfter <= 0 {
			t.Errorf("a's second fetch = %v; want a BusyError for a's own share with a Retry-After", err)
		}
	case <-arrived:
		t.Fatal("a's second fetch ran while a already held its share of the pool")
	case <-time.After(20 * time.Second):
		t.Fatal("a's second fetch neither ran nor gave up")
	}
	// b still gets the free slot.
	b1 := info("b")
	waitArrival("b's fetch, while a held its share")
	// The pool is full now: c waits at most the queue timeout.
	start := time.Now()
	err := <-info("c")
	var be *upstream.BusyError
	if !errors.As(err, &be) || be.Own {
		t.Errorf("c's fetch on a full pool = %v; want a BusyError for the pool", err)
	}
	if waited := time.Since(start); waited > 10*time.Second {
		t.Errorf("c waited %v for a slot; the queue timeout is %v", waited, d.QueueTimeout)
	}
	select {
	case <-a1:
		t.Fatal("a's first fetch ended while the git server held it")
	case <-b1:
		t.Fatal("b's fetch ended while the git server held it")
	default:
	}
	// Let the held fetches finish before the sandbox is removed: their go
	// commands still write into it.
	releaseAll()
	for _, done := range []<-chan error{a1, b1} {
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("a released fetch did not end")
		}
	}
}

// isFetch reports whether r is a git fetch (protocol v2 "command=fetch"),
// leaving its body readable.
func isFetch(t *testing.T, r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Error(err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	plain := body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Error(err)
			return false
		}
		if plain, err = io.ReadAll(zr); err != nil {
			t.Error(err)
		}
	}
	return bytes.Contains(plain, []byte("command=fetch"))
}
