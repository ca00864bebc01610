package mirrors_test

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomirror/gomirror/client/mirrors"
	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/internal/gocmd"
)

// goDefaults returns the go command's built-in GOPROXY and GOSUMDB, with
// neither the environment nor a settings file in the way.
func goDefaults(t *testing.T) (proxy, sumdb string) {
	t.Helper()
	env, err := gocmd.Cmd{Environ: gocmd.WithEnv(nil, "GOENV=off", "GOPROXY=", "GOSUMDB=", "GOFLAGS=", "GOTOOLCHAIN=local")}.Env(context.Background(), "GOPROXY", "GOSUMDB")
	if err != nil {
		t.Fatal(err)
	}
	return env["GOPROXY"], env["GOSUMDB"]
}

// TestBuiltinHasNoDefaultHost parses the built-in catalogue and checks that
// it does not name the go command's default proxy or checksum database:
// those are read at run time, never written in the file.
func TestBuiltinHasNoDefaultHost(t *testing.T) {
	ms, err := mirrors.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 5 {
		t.Errorf("%d mirrors in the built-in catalogue", len(ms))
	}
	data, err := os.ReadFile("catalogue.yaml")
	if err != nil {
		t.Fatal(err)
	}
	proxy, sumdb := goDefaults(t)
	var hosts []string
	for _, p := range strings.Split(proxy, ",") {
		if u, err := url.Parse(p); err == nil && u.Host != "" {
			hosts = append(hosts, u.Hostname())
		}
	}
	if name, _, _ := strings.Cut(sumdb, " "); name != "" && name != "off" {
		hosts = append(hosts, name)
	}
	if len(hosts) == 0 {
		t.Skip("this go command has no default proxy or checksum database")
	}
	for _, h := range hosts {
		if strings.Contains(strings.ToLower(string(data)), strings.ToLower(h)) {
			t.Errorf("catalogue.yaml names the go command's default host %s", h)
		}
	}
	for _, m := range ms {
		if !strings.HasPrefix(m.URL, "https://") || m.ID == mirrors.OfficialID || m.Disabled {
			t.Errorf("entry %+v", m)
		}
	}
}

func TestOfficialIsTheGoDefault(t *testing.T) {
	proxy, _ := goDefaults(t)
	m, ok, err := mirrors.Official(context.Background(), gocmd.Cmd{Environ: gocmd.WithEnv(nil, "GOPROXY=http://127.0.0.1:1/not-default")})
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(proxy, ",")
	if !strings.HasPrefix(first, "https://") {
		if ok {
			t.Errorf("Official = %+v for a default of %q", m, proxy)
		}
		return
	}
	if !ok || m.URL != strings.TrimRight(first, "/") || m.ID != mirrors.OfficialID {
		t.Errorf("Official = %+v, %v; want %s (the environment's GOPROXY must not count)", m, ok, first)
	}
	if got := m.Title(i18n.NewPrinter(i18n.Supported[1])); got != "官方默认" {
		t.Errorf("zh title = %q", got)
	}
}

func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o666); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoadLayers: --catalogue replaces the built-in file, the user file
// replaces, removes and adds entries by id, and the official default is
// removed by disabling its id.
func TestLoadLayers(t *testing.T) {
	user := write(t, "mirrors.yaml", `mirrors:
  - id: two
    disabled: true
  - id: one
    name: {en: Replaced}
    url: https://one.example/
    operator: me
    sumdb: "no"
  - id: four
    name: {en: Four}
    url: http://127.0.0.1:4
    sumdb: unknown
`)
	cat, err := mirrors.Load(context.Background(), gocmd.Cmd{}, mirrors.Sources{Catalogue: "testdata/loopback.yaml", User: user})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range cat.Mirrors {
		got = append(got, m.ID+"="+m.URL)
	}
	want := "one=https://one.example three=http://[::1]:3 four=http://127.0.0.1:4"
	if strings.Join(got, " ") != want {
		t.Errorf("catalogue = %s\nwant        %s", strings.Join(got, " "), want)
	}
	if m, ok := cat.Find("https://one.example/"); !ok || m.Name.En != "Replaced" || m.File != user || m.Line != 4 {
		t.Errorf("Find = %+v, %v", m, ok)
	}

	// A missing user file is no layer; a missing --catalogue is an error.
	cat, err = mirrors.Load(context.Background(), gocmd.Cmd{}, mirrors.Sources{Catalogue: "testdata/loopback.yaml", User: filepath.Join(t.TempDir(), "none.yaml")})
	if err != nil || len(cat.Mirrors) != 3 {
		t.Errorf("Load without a user file = %v, %v", cat, err)
	}
	if _, err := mirrors.Load(context.Background(), gocmd.Cmd{}, mirrors.Sources{Catalogue: "testdata/none.yaml", NoOfficial: true}); err == nil || !strings.Contains(err.Error(), "none.yaml") {
		t.Errorf("missing --catalogue: %v", err)
	}
	// Without --catalogue, the built-in catalogue follows the official default.
	cat, err = mirrors.Load(context.Background(), gocmd.Cmd{}, mirrors.Sources{})
	if err != nil {
		t.Fatal(err)
	}
	if proxy, _ := goDefaults(t); strings.HasPrefix(proxy, "https://") && cat.Mirrors[0].ID != mirrors.OfficialID {
		t.Errorf("first entry %+v, want the official default", cat.Mirrors[0])
	}
	if _, ok := cat.Find("https://goproxy.cn"); !ok {
		t.Errorf("built-in catalogue lacks goproxy.cn: %+v", cat.Mirrors)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tt := range []struct{ name, yaml, want string }{
		{"unknown field", "mirrors:\n  - id: a\n    name: {en: A}\n    url: https://a.example\n    sumdb: \"yes\"\n    speed: fast\n", "bad.yaml, line 6: unknown field speed"},
		{"unknown nested field", "mirrors:\n  - id: a\n    name:\n      en: A\n      colour: red\n    url: https://a.example\n    sumdb: \"yes\"\n", "bad.yaml, line 5: unknown field colour"},
		{"top-level field", "mirror:\n  - id: a\n", "bad.yaml, line 1: unknown field mirror"},
		{"plain http", "mirrors:\n  - id: a\n    name: {en: A}\n    url: http://a.example\n    sumdb: \"yes\"\n", "bad.yaml, line 2: mirror a: URL \"http://a.example\": plain http only to a loopback address"},
		{"ftp", "mirrors:\n  - id: a\n    name: {en: A}\n    url: ftp://a.example\n    sumdb: \"yes\"\n", "want https://host/path"},
		{"query", "mirrors:\n  - id: a\n    name: {en: A}\n    url: https://a.example/?x=1\n    sumdb: \"yes\"\n", "no query"},
		{"sumdb", "mirrors:\n  - id: a\n    name: {en: A}\n    url: https://a.example\n    sumdb: maybe\n", "sumdb \"maybe\": want yes, no or unknown"},
		{"no name", "mirrors:\n  - id: a\n    url: https://a.example\n    sumdb: \"yes\"\n", "mirror a has no name.en"},
		{"bad id", "mirrors:\n  - id: A B\n    disabled: true\n", "id \"A B\""},
		{"official", "mirrors:\n  - id: official\n    name: {en: A}\n    url: https://a.example\n    sumdb: \"yes\"\n", "cannot redefine"},
		{"duplicate", "mirrors:\n  - id: a\n    disabled: true\n  - id: a\n    disabled: true\n", "bad.yaml, line 4: id \"a\" already given on line 2"},
		{"not yaml", "mirrors: [\n", "bad.yaml: yaml: line"},
		{"escape in name", "mirrors:\n  - id: a\n    name: {en: \"A\\e[31m\"}\n    url: https://a.example\n    sumdb: \"yes\"\n", "name.en has control"},
		{"bidi in notes", "mirrors:\n  - id: a\n    name: {en: A}\n    url: https://a.example\n    sumdb: \"yes\"\n    notes: \"x\\u202Ey\"\n", "notes has control"},
		{"list in URL", "mirrors:\n  - id: a\n    name: {en: A}\n    url: https://a.example/x,off\n    sumdb: \"yes\"\n", "not a GOPROXY list"},
		{"pipe in URL", "mirrors:\n  - id: a\n    name: {en: A}\n    url: https://a.example/p|https://c.example\n    sumdb: \"yes\"\n", "not a GOPROXY list"},
		{"space in URL", "mirrors:\n  - id: a\n    name: {en: A}\n    url: \"https://a.example/ x\"\n    sumdb: \"yes\"\n", "white space"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mirrors.Parse("bad.yaml", []byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v\nwant it to contain %q", err, tt.want)
			}
			if err != nil && (strings.Contains(err.Error(), "in type") || strings.Contains(err.Error(), "mirrors.")) {
				t.Errorf("err = %v: a Go type name", err)
			}
		})
	}
	if ms, err := mirrors.Parse("empty.yaml", nil); err != nil || len(ms) != 0 {
		t.Errorf("empty file: %v, %v", ms, err)
	}
}

func TestSumDBNote(t *testing.T) {
	zh := i18n.NewPrinter(i18n.Supported[1])
	if n := mirrors.SumDBNote(mirrors.Mirror{URL: "https://a.example", SumDB: mirrors.SumDBYes}, "db"); !n.IsZero() {
		t.Errorf("note for a mirror that proxies it: %v", n)
	}
	n := mirrors.SumDBNote(mirrors.Mirror{URL: "https://a.example", SumDB: mirrors.SumDBNo}, "db.example")
	if s := n.String(); !strings.Contains(s, "https://a.example does not proxy the checksum database") || !strings.Contains(s, "GOSUMDB=db.example") {
		t.Errorf("note = %s", s)
	}
	if s := zh.Text(n); !strings.Contains(s, "校验和数据库") {
		t.Errorf("zh note = %s", s)
	}
	if s := zh.Text(mirrors.Suggestion()); !strings.Contains(s, "gomirror setup --fastest") || !strings.Contains(s, "镜像") {
		t.Errorf("zh suggestion = %s", s)
	}
}

// fakeGo writes a stand-in for the go command that answers `go env -json
// GOPROXY` with a loopback URL naming the GOTOOLCHAIN and GOFLAGS it was
// run with, so a test sees the environment Official gives the go command
// (and no real go command can download a toolchain).
func fakeGo(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "go")
	script := "#!/bin/sh\nprintf '{\"GOPROXY\":\"http://127.0.0.1:1/%s/%s\"}\\n' \"$GOTOOLCHAIN\" \"${GOFLAGS:-none}\"\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOfficialNeverDownloadsAToolchain: the go command is asked with
// GOTOOLCHAIN=local and no GOFLAGS, whatever the environment says, so a
// GOTOOLCHAIN newer than the local go cannot make it download a toolchain
// from the default proxy.
func TestOfficialNeverDownloadsAToolchain(t *testing.T) {
	goCmd := gocmd.Cmd{Path: fakeGo(t), Environ: gocmd.WithEnv(nil, "GOTOOLCHAIN=go1.99.0", "GOFLAGS=-mod=mod")}
	m, ok, err := mirrors.Official(context.Background(), goCmd)
	if err != nil || !ok {
		t.Fatalf("Official = %+v, %v, %v", m, ok, err)
	}
	if m.URL != "http://127.0.0.1:1/local/none" {
		t.Errorf("the go command ran with GOTOOLCHAIN/GOFLAGS = %s, want local/none", strings.TrimPrefix(m.URL, "http://127.0.0.1:1/"))
	}
}

// TestLoadWithOfficialDisabledNeedsNoGoCommand: a catalogue that disables
// the official entry loads without running the go command (none is
// there); one that keeps it leaves the official default out with a
// warning when the go command is missing, and fails (with the hint to
// disable it) when the go command fails.
func TestLoadWithOfficialDisabledNeedsNoGoCommand(t *testing.T) {
	missing := gocmd.Cmd{Path: filepath.Join(t.TempDir(), "no-go")}
	user := write(t, "mirrors.yaml", "mirrors:\n  - id: official\n    disabled: true\n")
	cat, err := mirrors.Load(context.Background(), missing, mirrors.Sources{Catalogue: "testdata/loopback.yaml", User: user})
	if err != nil || len(cat.Mirrors) != 3 {
		t.Fatalf("Load = %v, %v", cat, err)
	}
	keep := write(t, "keep.yaml", "mirrors:\n  - id: one\n    name: {en: One}\n    url: http://127.0.0.1:1/one\n    sumdb: \"no\"\n")
	cat, err = mirrors.Load(context.Background(), missing, mirrors.Sources{Catalogue: keep})
	if err != nil || len(cat.Mirrors) != 1 || len(cat.Warnings) != 1 || !strings.Contains(cat.Warnings[0].String(), "no-go") {
		t.Errorf("Load with a missing go command = %+v, %v; want the rest, with a warning naming it", cat, err)
	}
	// A go command that is there but fails is an error, with the hint.
	broken := write(t, "go", "#!/bin/sh\necho broken >&2\nexit 1\n")
	if err := os.Chmod(broken, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = mirrors.Load(context.Background(), gocmd.Cmd{Path: broken}, mirrors.Sources{Catalogue: keep})
	if err == nil || !strings.Contains(err.Error(), "disabled: true") {
		t.Errorf("Load with a failing go command = %v, want the hint to disable official", err)
	}
}

// TestSameURLUnderTwoIDsIsOneEntry: a URL given under two ids (here with a
// trailing slash and an upper-case host) is one entry, the later one's
// description in the place of the first, so Find and the GOSUMDB note
// follow the entry that stays.
func TestSameURLUnderTwoIDsIsOneEntry(t *testing.T) {
	cat := write(t, "dup.yaml", `mirrors:
  - id: a
    name: {en: A}
    url: http://127.0.0.1:7/x
    sumdb: "no"
  - id: c
    name: {en: C}
    url: http://127.0.0.1:8
    sumdb: "no"
  - id: b
    name: {en: B}
    url: http://LOCALHOST:7/x/
    sumdb: "yes"
  - id: d
    name: {en: D}
    url: http://localhost:7/x
    sumdb: "yes"
`)
	c, err := mirrors.Load(context.Background(), gocmd.Cmd{}, mirrors.Sources{Catalogue: cat, NoOfficial: true})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range c.Mirrors {
		ids = append(ids, m.ID)
	}
	if got := strings.Join(ids, " "); got != "a c d" {
		t.Errorf("ids = %s, want a c d (127.0.0.1 and localhost are different URLs; b and d the same)", got)
	}
	if m, ok := c.Find("http://localhost:7/x/"); !ok || m.ID != "d" || m.SumDB != mirrors.SumDBYes {
		t.Errorf("Find = %+v, %v", m, ok)
	}
}

// TestURLCredentialsNeverShown: a catalogue URL with a user and password
// is refused without printing them, whether it parses or not.
func TestURLCredentialsNeverShown(t *testing.T) {
	for _, u := range []string{"https://alice:s3cr3t@127.0.0.1:1/x", "http://alice:s3cr3t@a.example/x", "https://alice:s3cr3t@h.example/%zz"} {
		_, err := mirrors.Parse("u.yaml", []byte("mirrors:\n  - id: a\n    name: {en: A}\n    url: '"+u+"'\n    sumdb: \"yes\"\n"))
		if err == nil {
			t.Errorf("%s accepted", u)
			continue
		}
		zh := i18n.NewPrinter(i18n.Supported[1])
		for _, text := range []string{err.Error(), zh.Error(err)} {
			if strings.Contains(text, "s3cr3t") || strings.Contains(text, "alice") {
				t.Errorf("error shows the credentials: %s", text)
			}
		}
	}
	if _, err := mirrors.Parse("many.yaml", []byte("mirrors:\n"+strings.Repeat("  - id: a\n    disabled: true\n", mirrors.MaxEntries+1))); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("too many entries: %v", err)
	}
}

// TestLoadWithoutGoCommand: with no go command on PATH, the official
// default is left out with a warning that says why, and the rest of the
// catalogue is measured.
func TestLoadWithoutGoCommand(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	cat, err := mirrors.Load(context.Background(), gocmd.Cmd{}, mirrors.Sources{Catalogue: "testdata/withofficial.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Mirrors) != 1 || cat.Mirrors[0].ID != "one" {
		t.Errorf("mirrors %+v, want only one", cat.Mirrors)
	}
	if len(cat.Warnings) != 1 || !strings.Contains(cat.Warnings[0].String(), "no go command") {
		t.Fatalf("warnings %v", cat.Warnings)
	}
	zh := i18n.NewPrinter(i18n.Supported[1]).Text(cat.Warnings[0])
	if !strings.Contains(zh, "官方默认") {
		t.Errorf("zh warning: %s", zh)
	}
}
