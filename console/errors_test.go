package console

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/text/language"

	"github.com/gomirror/gomirror/api"
	"github.com/gomirror/gomirror/db"
	"github.com/gomirror/gomirror/i18n"
)

// errorParagraph is the error text of a page (layout.html).
var errorParagraph = regexp.MustCompile(`(?s)<p class="error" role="alert">(.*?)</p>`)

// latinWord is a run of Latin letters: an untranslated word on a Chinese
// page, unless it is one of the names the page may show as they are.
var latinWord = regexp.MustCompile(`[A-Za-z][A-Za-z]+`)

// TestErrorPagesInChinese requests, in Chinese, the pages that answer an
// error of each kind the console meets (a malformed parameter of the API
// or of a page, an x/mod version error, not stored, no such page, a
// forbidden page, an expired cursor, a database error) and wants the
// page's status and an error text with no English in it (but the name of
// the parameter), and none of the error's own English text on the page.
func TestErrorPagesInChinese(t *testing.T) {
	e := newEnv(t, true)
	signed := newEnv(t, false)
	alice := signed.client()
	alice.signIn("gm_alice")
	zh := map[string]string{"Accept-Language": "zh-CN"}
	long := strings.Repeat("a", 49_999)
	for _, tc := range []struct {
		cl     *client
		target string
		code   int
		param  string   // the parameter named, if any
		absent []string // texts of the error that must not show
	}{
		{e.client(), "/ui/modules?q=" + long, http.StatusBadRequest, "q", []string{"LIKE", "longer than", "parameter q"}},
		{e.client(), "/ui/modules/example.com/hello/@v/v1.1.0/graph?depth=x", http.StatusBadRequest, "depth", []string{"want a number"}},
		{e.client(), "/ui/modules/example.com/hello/@v/v1.1", http.StatusBadRequest, "version", []string{"malformed", "invalid"}},
		{e.client(), "/ui/modules/example.com/hello/@v/v1.2.0", http.StatusNotFound, "", []string{"not stored", "does not exist"}},
		{e.client(), "/ui/modules/example.com/nothing", http.StatusNotFound, "", []string{"does not exist"}},
		{e.client(), "/ui/nope", http.StatusNotFound, "", nil},
		{e.client(), "/ui/modules?cursor=s.AAAA", http.StatusBadRequest, "", []string{"expired"}},
		{alice, "/ui/alerts", http.StatusForbidden, "", []string{"operators"}},
	} {
		w := tc.cl.do("GET", tc.target, nil, zh)
		body := w.Body.String()
		m := errorParagraph.FindStringSubmatch(body)
		if w.Code != tc.code || m == nil {
			t.Errorf("GET %.80s: %d, want %d with an error text", tc.target, w.Code, tc.code)
			continue
		}
		for _, word := range latinWord.FindAllString(html.UnescapeString(m[1]), -1) {
			if word != tc.param {
				t.Errorf("GET %.80s: English in the error text %q", tc.target, m[1])
				break
			}
		}
		if tc.param != "" && !strings.Contains(m[1], tc.param) {
			t.Errorf("GET %.80s: the error text %q does not name %s", tc.target, m[1], tc.param)
		}
		for _, s := range tc.absent {
			if strings.Contains(body, s) {
				t.Errorf("GET %.80s: the page shows %q", tc.target, s)
			}
		}
	}
}

// failingStore is an api.Store whose every method fails with err.
type failingStore struct {
	api.Store // nil: only the methods below are called
	err       error
}

func (s failingStore) Modules(context.Context, string, string, int) (_ []db.ModuleSummary, _ string, err error) {
	return nil, "", s.err
}

// TestDatabaseErrorNotShown: a page whose database query fails answers
// 500 with the catalogue's text, in English and in Chinese, and the log
// has the error, which the page does not show.
func TestDatabaseErrorNotShown(t *testing.T) {
	const detail = "sqlite: LIKE or GLOB pattern too complex"
	var log strings.Builder
	svc := api.NewService(api.Options{Store: func() (api.Store, error) { return failingStore{err: errors.New(detail)}, nil }})
	c, err := New(Options{API: svc, Open: true, Log: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, c: c}
	for _, lang := range []string{"en", "zh-CN"} {
		w := e.client().do("GET", "/ui/modules?q=x", nil, map[string]string{"Accept-Language": lang})
		body := w.Body.String()
		if w.Code != http.StatusInternalServerError || strings.Contains(body, "LIKE") || !errorParagraph.MatchString(body) {
			t.Errorf("%s: %d %s", lang, w.Code, body)
		}
	}
	if !strings.Contains(log.String(), "LIKE or GLOB") {
		t.Errorf("the log lacks the error: %s", log.String())
	}
}

// TestErrorTextOfEveryKind: the text of each kind of error (errorText) is
// a message of the catalogue, with the parameter named where there is one.
func TestErrorTextOfEveryKind(t *testing.T) {
	cat := i18n.Default()
	zh := cat.Printer(language.SimplifiedChinese)
	svc := api.NewService(api.Options{})
	_, _, longQ := svc.ModulePage(context.Background(), strings.Repeat("a", api.MaxQuery+1), "", 1)
	for _, tc := range []struct {
		err   error
		code  int
		param string
	}{
		{longQ, http.StatusBadRequest, "q"},
		{badParam("parameter depth: want a number from 0 to 100"), http.StatusBadRequest, "depth"},
		{badParam("something odd"), http.StatusBadRequest, ""},
		{errExpiredCursor, http.StatusBadRequest, ""},
		{fmt.Errorf("example.com/a@v1.0.0 is not stored: %w", fs.ErrNotExist), http.StatusNotFound, ""},
		{errors.New("forbidden"), http.StatusForbidden, ""},
		{errors.New("slow down"), http.StatusTooManyRequests, ""},
		{api.ErrUnavailable, http.StatusServiceUnavailable, ""},
		{context.DeadlineExceeded, http.StatusGatewayTimeout, ""},
		{errors.New("disk I/O error"), http.StatusInternalServerError, ""},
	} {
		key, args := errorText(tc.err, tc.code)
		if !cat.Has(key) {
			t.Errorf("%v (%d): %q is not in the catalogue", tc.err, tc.code, key)
		}
		got := zh.Sprintf(key, args...)
		words := latinWord.FindAllString(got, -1)
		if len(words) > 1 || len(words) == 1 && words[0] != tc.param || !strings.Contains(got, " "+tc.param+" ") && tc.param != "" {
			t.Errorf("%v (%d): %q", tc.err, tc.code, got)
		}
	}
}

// TestChartScaleInChinese: the scale of the Upstreams page's charts
// says "max" in the page's language.
func TestChartScaleInChinese(t *testing.T) {
	e := newEnv(t, true)
	for _, path := range []string{"/ui/upstreams", "/ui/"} {
		body := e.client().do("GET", path, nil, map[string]string{"Accept-Language": "zh-CN"}).Body.String()
		if strings.Contains(body, "max ") || !strings.Contains(body, "最大 ") {
			t.Errorf("%s: the charts' scale is not in Chinese", path)
		}
		body = e.client().do("GET", path, nil, nil).Body.String()
		if !strings.Contains(body, "max ") {
			t.Errorf("%s: the charts' scale is not in English", path)
		}
	}
}
