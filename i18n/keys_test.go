package i18n_test

import (
	"go/ast"
	"go/constant"
	"go/types"
	"strings"
	"testing"

	"golang.org/x/text/language"
	"golang.org/x/tools/go/packages"

	"github.com/gomirror/gomirror/i18n"
)

const i18nPath = "github.com/gomirror/gomirror/i18n"

// printerMethods are the methods of *i18n.Printer that take a catalogue
// key, and the index of the key among their arguments.
var printerMethods = map[string]int{"Sprintf": 0, "Fprintf": 1}

// TestEveryKeyInCatalogue finds, in every package of the module, each call
// of i18n.T and of a Printer method that takes a key, and fails when its
// key is not a constant (a key computed at run time would escape this
// check) or is not in the catalogue (it would print in English whatever
// the language).
func TestEveryKeyInCatalogue(t *testing.T) {
	if testing.Short() {
		t.Skip("loads and type-checks every package of the module")
	}
	cfg := &packages.Config{Mode: packages.NeedName | packages.NeedFiles | packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo, Dir: "..", Tests: true}
	pkgs, err := packages.Load(cfg, "./...")
	if err != nil {
		t.Fatal(err)
	}
	cat := i18n.Default()
	calls := 0
	seen := map[string]bool{} // a test variant repeats its package's files
	for _, pkg := range pkgs {
		for _, e := range pkg.Errors {
			t.Errorf("%s: %v", pkg.PkgPath, e)
		}
		if strings.HasPrefix(pkg.PkgPath, i18nPath+"_test") || strings.HasSuffix(pkg.ID, ".test]") && pkg.PkgPath == i18nPath {
			continue // the package's own tests use keys on purpose
		}
		for _, f := range pkg.Syntax {
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				at, ok := keyArg(pkg.TypesInfo, call)
				if !ok || at >= len(call.Args) {
					return true
				}
				pos := pkg.Fset.Position(call.Pos()).String()
				if seen[pos] {
					return true
				}
				seen[pos] = true
				calls++
				tv := pkg.TypesInfo.Types[call.Args[at]]
				if tv.Value == nil || tv.Value.Kind() != constant.String {
					if pkg.PkgPath == i18nPath {
						return true // the Printer forwards its callers' keys
					}
					t.Errorf("%s: the key is not a constant string", pos)
					return true
				}
				if key := constant.StringVal(tv.Value); !cat.Has(key) {
					t.Errorf("%s: %q is not in the catalogue (add it with its translation to i18n/msg_<area>.go)", pos, key)
				}
				return true
			})
		}
	}
	if calls == 0 {
		t.Fatal("found no call of i18n.T or of a Printer method: the scan is broken")
	}
}

// keyArg reports whether call is i18n.T or a key-taking *i18n.Printer
// method, and the index of its key argument.
func keyArg(info *types.Info, call *ast.CallExpr) (int, bool) {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return 0, false
	}
	obj, ok := info.Uses[sel.Sel].(*types.Func)
	if !ok || obj.Pkg() == nil || obj.Pkg().Path() != i18nPath {
		return 0, false
	}
	sig := obj.Type().(*types.Signature)
	if sig.Recv() == nil {
		return 0, obj.Name() == "T" || obj.Name() == "Errorf"
	}
	recv := sig.Recv().Type()
	if p, ok := recv.(*types.Pointer); ok {
		recv = p.Elem()
	}
	if named, ok := recv.(*types.Named); !ok || named.Obj().Name() != "Printer" {
		return 0, false
	}
	i, ok := printerMethods[obj.Name()]
	return i, ok
}

// TestLang checks the choice of a command's language.
func TestLang(t *testing.T) {
	for _, tt := range []struct {
		flag string
		env  map[string]string
		want string
	}{
		{"", nil, "en"},
		{"", map[string]string{"LANG": "zh_CN.UTF-8"}, "zh"},
		{"", map[string]string{"LANG": "zh_TW.Big5"}, "zh"},
		{"", map[string]string{"LANG": "zh"}, "zh"},
		{"", map[string]string{"LANG": "en_US.UTF-8"}, "en"},
		{"", map[string]string{"LANG": "C"}, "en"},
		{"", map[string]string{"LANG": "zh_CN.UTF-8", "LC_MESSAGES": "C"}, "en"},
		{"", map[string]string{"LANG": "en_US.UTF-8", "LC_MESSAGES": "zh_CN.UTF-8"}, "zh"},
		{"", map[string]string{"LC_MESSAGES": "zh_CN.UTF-8", "LC_ALL": "en_GB.UTF-8"}, "en"},
		{"", map[string]string{"LC_ALL": "zh_SG.UTF-8@euro"}, "zh"},
		{"zh", map[string]string{"LANG": "en_US.UTF-8"}, "zh"},
		{"en", map[string]string{"LC_ALL": "zh_CN.UTF-8"}, "en"},
		{"zh-CN", nil, "zh"},
	} {
		tag, err := i18n.Lang(tt.flag, func(k string) string { return tt.env[k] })
		if err != nil || i18n.Code(tag) != tt.want {
			t.Errorf("Lang(%q, %v) = %v, %v; want %s", tt.flag, tt.env, tag, err, tt.want)
		}
	}
	for _, bad := range []string{"fr", "xx-bogus!", "de-DE"} {
		if _, err := i18n.Lang(bad, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "en or zh") {
			t.Errorf("Lang(%q): %v; want an error naming en or zh", bad, err)
		}
	}
}

// TestTextAndTable checks that a Text renders in either language, its
// Text arguments too, and that a table lines Chinese up by display width.
func TestTextAndTable(t *testing.T) {
	zh := i18n.NewPrinter(mustLang(t, "zh"))
	inner := i18n.T("Modules")
	if got := zh.Text(i18n.T("%s: %v", inner, 3)); got != "模块: 3" {
		t.Errorf("zh Text = %q", got)
	}
	if got := i18n.T("%s: %v", inner, 3).String(); got != "Modules: 3" {
		t.Errorf("English Text = %q", got)
	}
	if i18n.Width("模块ab") != 6 || i18n.Pad("模块", 6) != "模块  " {
		t.Errorf("Width/Pad: %d %q", i18n.Width("模块ab"), i18n.Pad("模块", 6))
	}
	var b strings.Builder
	if err := i18n.WriteTable(&b, [][]string{{"名称", "URL"}, {"abc", "http://x"}, {"镜像站点", "y"}}); err != nil {
		t.Fatal(err)
	}
	want := "名称      URL\nabc       http://x\n镜像站点  y\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}

func mustLang(t *testing.T, code string) language.Tag {
	t.Helper()
	tag, err := i18n.Lang(code, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}
