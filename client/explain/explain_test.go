package explain

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomirror/gomirror/i18n"
)

func parseFile(t *testing.T, name string) []*Error {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	errs, err := Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	return errs
}

// TestCapturedOutputs checks the saved outputs of real go commands (see
// TestRealOutput, which produces them afresh): each file holds exactly one
// error, of the class its name starts with.
func TestCapturedOutputs(t *testing.T) {
	files, err := filepath.Glob("testdata/real/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no captured outputs: %v", err)
	}
	for _, file := range files {
		errs := parseFile(t, file)
		if len(errs) != 1 {
			t.Errorf("%s: %d errors, want 1", file, len(errs))
			continue
		}
		if id := errs[0].Class.ID; !strings.HasPrefix(filepath.Base(file), id+"-") {
			t.Errorf("%s: classified %s", file, id)
		}
	}
}

func TestGrouping(t *testing.T) {
	errs := parseFile(t, "testdata/mixed.txt")
	want := []struct {
		line, lines int
		id          string
	}{
		{3, 1, "conn-refused"},
		{5, 8, "checksum-mismatch"}, // with the SECURITY ERROR paragraph, blank lines dropped
		{15, 2, "unknown"},
		{17, 2, "sumdb-private"},
		{19, 2, "missing-gosum"},
	}
	if len(errs) != len(want) {
		for _, e := range errs {
			t.Logf("line %d %s:\n%s", e.Line, e.Class.ID, e.Text())
		}
		t.Fatalf("%d errors, want %d", len(errs), len(want))
	}
	for i, w := range want {
		e := errs[i]
		if e.Line != w.line || len(e.Lines) != w.lines || e.Class.ID != w.id {
			t.Errorf("error %d: line %d, %d lines, %s; want line %d, %d lines, %s:\n%s",
				i, e.Line, len(e.Lines), e.Class.ID, w.line, w.lines, w.id, e.Text())
		}
	}
	if last := errs[1].Lines[len(errs[1].Lines)-1]; !strings.HasPrefix(last, "For more information") {
		t.Errorf("checksum mismatch ends with %q", last)
	}
}

func TestProgressOnly(t *testing.T) {
	in := "go: downloading example.com/hello v1.0.0\ngo: added example.com/hello v1.0.0\n" +
		"go: module example.com/old is deprecated: use example.com/new\n\n"
	errs, err := Parse(strings.NewReader(in))
	if err != nil || len(errs) != 0 {
		t.Fatalf("Parse = %v, %v; want no errors", errs, err)
	}
}

// TestLinesRedacted: a token in a proxy URL's user name (the go command
// prints the URL it asked) is classified as usual but never quoted, in
// text or JSON.
func TestLinesRedacted(t *testing.T) {
	in := `go: example.com/m@v1.0.0: Get "http://tok3nAsUser@127.0.0.1:1/example.com/m/@v/v1.0.0.info": dial tcp 127.0.0.1:1: connect: connection refused` + "\n"
	errs, err := Parse(strings.NewReader(in))
	if err != nil || len(errs) != 1 || !errs[0].Known() {
		t.Fatalf("Parse = %v, %v; want one known error", errs, err)
	}
	var text strings.Builder
	if err := WriteText(&text, nil, errs); err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(NewReport(errs))
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{text.String(), string(js)} {
		if strings.Contains(out, "tok3nAsUser") || !strings.Contains(out, "127.0.0.1:1/example.com/m/@v/v1.0.0.info") {
			t.Errorf("the token is quoted, or the line is not:\n%s", out)
		}
	}
}

// TestSamples covers messages that the tests cannot produce with the real
// go command on loopback in bounded time (zip limits, other timeouts,
// certificate names), and variants of the captured ones. They are written
// after the go command's and the standard library's message formats.
func TestSamples(t *testing.T) {
	samples := []struct{ id, text string }{
		{"timeout", `go: example.com/hello@v1.0.0: Get "https://127.0.0.1:3000/example.com/hello/@v/v1.0.0.info": dial tcp 127.0.0.1:3000: i/o timeout`},
		{"timeout", "go: example.com/hello@v1.0.0: Get \"https://127.0.0.1:3000/x\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"},
		{"tls", `go: example.com/hello@v1.0.0: Get "https://mirror.example.com/example.com/hello/@v/list": tls: failed to verify certificate: x509: certificate is valid for other.example.com, not mirror.example.com`},
		{"tls", `go: example.com/hello@v1.0.0: Get "https://mirror.example.com/x": x509: certificate has expired or is not yet valid`},
		{"dns", `go: example.com/hello@v1.0.0: Get "https://mirror.example.com/x": dial tcp: lookup mirror.example.com on 127.0.0.53:53: server misbehaving`},
		{"zip-too-large", "go: example.com/big@v1.0.0: create zip: module source tree too large (max size is 524288000 bytes)"},
		{"zip-too-large", "go: example.com/big@v1.0.0: zip file too large"},
		{"auth-required", "go: example.com/private@v1.0.0: reading https://mirror.example.com/x: 401 Unauthorized\n\tserver response: missing token"},
		{"auth-required", "\tfatal: could not read Password for 'https://user@git.example.com': terminal prompts disabled"},
		{"toolchain", "go: downloading go1.999 (linux/amd64)\ngo: download go1.999 for linux/amd64: toolchain not available"},
		{"toolchain", "go: example.com/hello@v1.2.0 requires go >= 1.999 (running go 1.26.8; GOTOOLCHAIN=local)"},
		{"not-found", "go: example.com/hello@v1.0.0: reading https://mirror.example.com/x: 410 Gone\n\tserver response: not found: example.com/hello@v1.0.0: module not found"},
		{"sumdb-private", "verifying example.com/private@v1.0.0: example.com/private@v1.0.0: reading https://sum.example.com/lookup/example.com/private@v1.0.0: 404 Not Found\n\tserver response: not found"},
		{"forbidden", "go: example.com/private@v1.0.0: reading https://mirror.example.com/x: 403 Forbidden"},
		{"proxy-unavailable", "go: example.com/hello@v1.0.0: reading http://127.0.0.1:3000/x: 504 Gateway Timeout\n\tserver response: upstream fetch timed out"},
		{"unknown-revision", "go: module example.com/hello: no matching versions for query \"v9\""},
		{"proxy-off", "go: example.com/hello@v1.0.0: module lookup disabled by GOPROXY=off"},
		{"bad-env", "go: parsing $GOFLAGS: non-flag \"x\""},
		{"malformed-path", `go: malformed import path "Example.com/x y": invalid char ' '`},
		{"bad-request", "go: example.com/nosuch@latest: reading https://mirror.example.com/example.com/nosuch/@v/list: 400 Bad Request\n\tserver response: invalid module path"},
		{"gomod-syntax", "go: errors parsing go.mod:\n/path/go.mod:5: unknown directive: foo"},
		{"gomod-syntax", "go: errors parsing go.mod:\n/path/go.mod:3:2: usage: require module/path v1.2.3\n/path/go.mod:7: unknown directive: bar"},
		{"gomod-syntax", "go: errors parsing go.work:\ngo.work:3: unknown directive: usee"},
		{"vendor-inconsistent", "go: inconsistent vendoring in /src/m:\n\texample.com/a@v1.0.0: is explicitly required in go.mod, but not marked as explicit in vendor/modules.txt\n\texample.com/b@v1.2.0: is marked as explicit in vendor/modules.txt, but not explicitly required in go.mod\n\n\tTo ignore the vendor directory, use -mod=readonly or -mod=mod.\n\tTo sync the vendor directory, run:\n\t\tgo mod vendor"},
		{"unknown", "go: example.com/hello@v1.0.0: the moon is in the wrong phase"},
	}
	for _, s := range samples {
		errs, err := Parse(strings.NewReader(s.text + "\n"))
		if err != nil {
			t.Fatal(err)
		}
		if len(errs) != 1 || errs[0].Class.ID != s.id {
			var got []string
			for _, e := range errs {
				got = append(got, e.Class.ID)
			}
			t.Errorf("%q: got %v, want [%s]", s.text, got, s.id)
		}
	}
}

func TestCatalogue(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Catalogue() {
		if c.ID == "" || c.Title.IsZero() || c.Cause.IsZero() || c.Fix.IsZero() || len(c.patterns) == 0 {
			t.Errorf("incomplete class %+v", c)
		}
		if seen[c.ID] {
			t.Errorf("duplicate ID %s", c.ID)
		}
		seen[c.ID] = true
		if Lookup(c.ID) != c {
			t.Errorf("Lookup(%s) is not the class", c.ID)
		}
	}
	if len(seen) < 12 {
		t.Errorf("%d classes, want at least 12", len(seen))
	}
}

func TestWriteTextAndJSON(t *testing.T) {
	errs := parseFile(t, "testdata/mixed.txt")
	var b bytes.Buffer
	if err := WriteText(&b, nil, errs); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"line 3:\n  > go: example.com/hello@v1.0.0: Get",
		"  conn-refused: Connection refused\n  cause: ",
		"  > SECURITY ERROR\n",
		"  unknown: no known cause\n",
		"errors: 5 (explained: 4, unknown: 1)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	j, err := json.Marshal(NewReport(errs))
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Errors []struct {
			Line  int
			Lines []string
			ID    string
			Fix   string
		}
		Known, Unknown int
	}
	if err := json.Unmarshal(j, &r); err != nil {
		t.Fatal(err)
	}
	if r.Known != 4 || r.Unknown != 1 || len(r.Errors) != 5 || r.Errors[0].ID != "conn-refused" || r.Errors[0].Fix == "" || r.Errors[2].ID != "unknown" {
		t.Errorf("JSON report: %s", j)
	}
}

// TestMirrorOfflineChecksumRecord: gomirror's answer for a checksum
// database record it does not hold with its upstream off is the offline
// mirror's class, not a private module's (its 404 comes from the mirror).
func TestMirrorOfflineChecksumRecord(t *testing.T) {
	out := "go: example.com/hello@v1.0.0: verifying module: example.com/hello@v1.0.0: reading http://127.0.0.1:3000/sumdb/sum.example.test/lookup/example.com/hello@v1.0.0: 404 Not Found\n" +
		"\tserver response: not found: checksum database sum.example.test: lookup example.com/hello@v1.0.0 is not stored here, and the upstream is off (gomirror makes no outbound connections)\n"
	errs, err := Parse(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != 1 || errs[0].Class.ID != "mirror-offline" {
		t.Fatalf("got %d errors, first %v", len(errs), errs[0].Class.ID)
	}
	zh := i18n.NewPrinter(i18n.Supported[1])
	if s := zh.Text(errs[0].Class.Title) + zh.Text(errs[0].Class.Fix); !strings.Contains(s, "gomirror warm --sumdb") || !strings.Contains(s, "离线") {
		t.Errorf("zh: %s", s)
	}
	if c := Lookup("sumdb-wrong-key"); c == nil || !strings.Contains(zh.Text(c.Title), "GOSUMDB") || !strings.Contains(zh.Text(c.Cause), "公钥") {
		t.Errorf("sumdb-wrong-key in zh: %v", c)
	}
}
