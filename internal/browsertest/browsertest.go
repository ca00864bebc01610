// Package browsertest drives a real headless Chromium from Go tests
// (chromedp): one browser per test, whose tab records every console error,
// uncaught exception, entry of the browser log at level error (a
// Content-Security-Policy violation is one) and failed request, so that a
// test can assert that a page loaded cleanly, and saves screenshots as test
// artifacts.
//
// A test is skipped, loudly ("!!! SKIPPING"), only when no Chromium binary
// exists; a browser that exists and fails to start fails the test.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Binaries are where Chromium is looked for, in order (then $PATH).
var Binaries = []string{"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"}

// find returns a Chromium binary, or "".
func find() string {
	if p := os.Getenv("GOMIRROR_CHROMIUM"); p != "" {
		return p
	}
	for _, p := range Binaries {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// Browser is one headless Chromium with one tab.
type Browser struct {
	t   testing.TB
	ctx context.Context

	mu       sync.Mutex
	problems []string
	allowed  []*regexp.Regexp // responses whose failure status is expected
}

// Viewports the console must be readable at.
const (
	DesktopWidth, DesktopHeight = 1280, 800
	PhoneWidth, PhoneHeight     = 390, 844
)

// New starts a headless Chromium for t, closed at its end. It skips t
// loudly when there is no Chromium binary. Every action is bounded by
// timeout.
func New(t testing.TB, timeout time.Duration) *Browser {
	t.Helper()
	bin := find()
	if bin == "" {
		t.Skip("!!! SKIPPING: no Chromium binary (install Debian's chromium, or set GOMIRROR_CHROMIUM); the browser tests did not run")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox, // tests may run as root, in a container
		chromedp.DisableGPU,
		chromedp.IgnoreCertErrors, // the tests' own certificates
		chromedp.WindowSize(DesktopWidth, DesktopHeight),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	b := &Browser{t: t, ctx: ctx}
	if err := chromedp.Listen(ctx, b.observe); err != nil {
		t.Fatalf("browser: %v", err)
	}
	// Start the browser and the tab now, so that a broken one fails here.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("browser %s does not start: %v", bin, err)
	}
	return b
}

// observe records the problems a page shows. It runs in the tab's event
// loop: it only appends, under the lock.
func (b *Browser) observe(ev any) {
	var p string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		p = "uncaught exception: " + ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			p += " " + ev.ExceptionDetails.Exception.Description
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				args = append(args, strings.Trim(string(a.Value), `"`)+a.Description)
			}
			p = "console." + string(ev.Type) + ": " + strings.Join(args, " ")
		}
	case *cdplog.EventEntryAdded:
		if ev.Entry.Level == cdplog.EntryLevelError {
			p = fmt.Sprintf("browser log (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
		}
	case *network.EventLoadingFailed:
		if !ev.Canceled {
			p = fmt.Sprintf("request failed: %s %s (%s)", ev.Type, ev.ErrorText, ev.BlockedReason)
		}
	case *network.EventResponseReceived:
		if r := ev.Response; r != nil && r.Status >= 400 && !b.isAllowed(r.URL) {
			p = fmt.Sprintf("response %d: %s", r.Status, r.URL)
		}
	}
	if p != "" {
		b.mu.Lock()
		b.problems = append(b.problems, p)
		b.mu.Unlock()
	}
}

func (b *Browser) isAllowed(url string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, re := range b.allowed {
		if re.MatchString(url) {
			return true
		}
	}
	return false
}

// AllowStatus makes responses with a failure status (4xx, 5xx) whose URL
// matches the regular expression expected: not problems.
func (b *Browser) AllowStatus(urlPattern string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.allowed = append(b.allowed, regexp.MustCompile(urlPattern))
}

// Problems returns the problems recorded since the last call, and forgets
// them.
func (b *Browser) Problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.problems
	b.problems = nil
	return p
}

// Context returns the tab's context, for chromedp actions of a test's own.
func (b *Browser) Context() context.Context { return b.ctx }

// Do runs actions, failing the test on an error.
func (b *Browser) Do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// Visit loads url and waits for its load event; it returns the status of
// the document's response (after redirects).
func (b *Browser) Visit(url string) int64 {
	b.t.Helper()
	resp, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(url))
	if err != nil {
		b.t.Fatalf("browser: loading %s: %v", url, err)
	}
	if resp == nil {
		return 0
	}
	return resp.Status
}

// Text returns the text of the first element that the CSS selector sel
// matches, waiting for it to exist.
func (b *Browser) Text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("browser: text of %s: %v", sel, err)
	}
	return s
}

// Eval evaluates a JavaScript expression in the page and returns its value.
func Eval[T any](b *Browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("browser: evaluating %s: %v", expr, err)
	}
	return v
}

// SetHeaders sends these headers (such as Accept-Language) with every
// later request of the tab.
func (b *Browser) SetHeaders(h map[string]string) {
	b.t.Helper()
	hs := network.Headers{}
	for k, v := range h {
		hs[k] = v
	}
	if _, err := chromedp.Call(b.ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: hs}); err != nil {
		b.t.Fatalf("browser: setting headers: %v", err)
	}
}

// Viewport sets the size of the page's viewport (a phone's is 390×844,
// mobile).
func (b *Browser) Viewport(width, height int64, mobile bool) {
	b.t.Helper()
	_, err := chromedp.Call(b.ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: width, Height: height, DeviceScaleFactor: 1, Mobile: mobile})
	if err != nil {
		b.t.Fatalf("browser: viewport: %v", err)
	}
}

// OutDir returns the folder of the tests' artifacts: $GOMIRROR_TEST_ARTIFACTS,
// else testdata/out of the test's package (ignored by git), created if
// needed.
func OutDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("GOMIRROR_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("testdata", "out")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Screenshot saves a screenshot of the whole page as name.png in OutDir,
// and returns its path.
func (b *Browser) Screenshot(name string) string {
	b.t.Helper()
	buf, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100)) // 100: PNG (below: JPEG)
	if err != nil {
		b.t.Fatalf("browser: screenshot: %v", err)
	}
	p := filepath.Join(OutDir(b.t), name+".png")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
	return p
}

// ScreenshotViewport saves a screenshot of what the viewport shows (not
// the whole page: small, for the README) as name.png in OutDir, and
// returns its path.
func (b *Browser) ScreenshotViewport(name string) string {
	b.t.Helper()
	buf, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("browser: screenshot: %v", err)
	}
	p := filepath.Join(OutDir(b.t), name+".png")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
	return p
}

// ColorScheme makes the page see prefers-color-scheme: scheme ("dark",
// "light"; "" for the system's).
func (b *Browser) ColorScheme(scheme string) {
	b.t.Helper()
	var f []*emulation.MediaFeature
	if scheme != "" {
		f = []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}
	}
	if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: f}); err != nil {
		b.t.Fatalf("browser: color scheme: %v", err)
	}
}

// PageWeight returns the bytes of the loaded page and everything it
// loaded (decoded bodies, from the Performance API).
func (b *Browser) PageWeight() int {
	return Eval[int](b, `performance.getEntriesByType("navigation").concat(performance.getEntriesByType("resource")).reduce((s, e) => s + e.decodedBodySize, 0)`)
}
