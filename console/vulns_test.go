package console

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/vulndb"
)

// fakeVulns knows one advisory of example.com/hello, affecting v1.0.0.
type fakeVulns struct{ notLoaded bool }

var helloAdvisory = vulndb.Advisory{ID: "GO-2099-0001", Aliases: []string{"CVE-2099-0001"}, Summary: `Panic on <b>crafted</b> input`, Fixed: "v1.0.1"}

func (f fakeVulns) Vulns(_ context.Context, m module.Version) ([]vulndb.Advisory, error) {
	if f.notLoaded {
		return nil, vulndb.ErrNotLoaded
	}
	if m.Path == "example.com/hello" && m.Version == "v1.0.0" {
		return []vulndb.Advisory{helloAdvisory}, nil
	}
	return nil, nil
}

func (f fakeVulns) Module(_ context.Context, path string) ([]vulndb.Advisory, error) {
	if f.notLoaded {
		return nil, vulndb.ErrNotLoaded
	}
	if path == "example.com/hello" {
		a := helloAdvisory
		return []vulndb.Advisory{a}, nil
	}
	return nil, nil
}

// TestAdvisories: the version page lists the advisories affecting the
// version (ID linking to /vuln/, aliases, summary escaped, fixed
// version), in English and Chinese; an unaffected version says none; the
// module page marks the affected versions and lists the module's
// advisories; before the database is loaded, the pages say so.
func TestAdvisories(t *testing.T) {
	e := newEnv(t, true)
	e.c.opts.Vulns = fakeVulns{}
	cl := e.client()
	w := cl.do("GET", "/ui/modules/example.com/hello/@v/v1.0.0", nil, nil)
	body := w.Body.String()
	if w.Code != http.StatusOK {
		t.Fatalf("version page: %d", w.Code)
	}
	for _, want := range []string{`id="advisories"`, `<a href="/vuln/ID/GO-2099-0001.json">GO-2099-0001</a>`, "CVE-2099-0001",
		"Panic on &lt;b&gt;crafted&lt;/b&gt; input", "<code>v1.0.1</code>", `class="mark vulnerable"`, ">Vulnerabilities<", ">Fixed in<"} {
		if !strings.Contains(body, want) {
			t.Errorf("version page of an affected version lacks %q", want)
		}
	}
	zh := cl.do("GET", "/ui/modules/example.com/hello/@v/v1.0.0", nil, map[string]string{"Accept-Language": "zh-CN"}).Body.String()
	for _, want := range []string{">漏洞<", ">修复版本<", ">有漏洞<"} {
		if !strings.Contains(zh, want) {
			t.Errorf("the Chinese version page lacks %q", want)
		}
	}
	body = cl.do("GET", "/ui/modules/example.com/hello/@v/v1.1.0", nil, nil).Body.String()
	if !strings.Contains(body, `id="no-advisories"`) || strings.Contains(body, `class="mark vulnerable"`) {
		t.Errorf("version page of an unaffected version: no-advisories missing or marked vulnerable")
	}
	body = cl.do("GET", "/ui/modules/example.com/hello", nil, nil).Body.String()
	if n := strings.Count(body, `class="mark vulnerable"`); n != 1 || !strings.Contains(body, `href="/ui/modules/example.com/hello/@v/v1.0.0#vulnerabilities"`) || !strings.Contains(body, `title="GO-2099-0001"`) {
		t.Errorf("module page: %d vulnerable marks, want 1 on v1.0.0", n)
	}
	if !strings.Contains(body, `id="advisories"`) || !strings.Contains(body, "/vuln/ID/GO-2099-0001.json") {
		t.Errorf("module page lacks the module's advisories")
	}

	e.c.opts.Vulns = fakeVulns{notLoaded: true}
	for _, p := range []string{"/ui/modules/example.com/hello/@v/v1.0.0", "/ui/modules/example.com/hello"} {
		body := cl.do("GET", p, nil, map[string]string{"Accept-Language": "zh-CN"}).Body.String()
		if !strings.Contains(body, "漏洞数据库尚未加载。") {
			t.Errorf("%s before the database is loaded does not say so (in Chinese)", p)
		}
	}

	// Without a database: no section at all.
	e.c.opts.Vulns = nil
	if body := cl.do("GET", "/ui/modules/example.com/hello/@v/v1.0.0", nil, nil).Body.String(); strings.Contains(body, `id="vulnerabilities"`) {
		t.Errorf("a vulnerabilities section without a database")
	}
}
