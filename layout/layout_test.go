package layout

import (
	"errors"
	"io/fs"
	"strings"
	"testing"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/storage"
)

func TestKeyParseRoundTrip(t *testing.T) {
	tests := []struct {
		path, version string
		kind          Kind
		key           string
	}{
		{"golang.org/x/mod", "", List, "golang.org/x/mod/@v/list"},
		{"golang.org/x/mod", "", Latest, "golang.org/x/mod/@latest"},
		{"golang.org/x/mod", "v0.20.0", Info, "golang.org/x/mod/@v/v0.20.0.info"},
		{"golang.org/x/mod", "v0.20.0", Mod, "golang.org/x/mod/@v/v0.20.0.mod"},
		{"golang.org/x/mod", "v0.20.0", Zip, "golang.org/x/mod/@v/v0.20.0.zip"},
		{"golang.org/x/mod", "v0.20.0", ZipHash, "golang.org/x/mod/@v/v0.20.0.ziphash"},
		{"golang.org/x/mod", "v0.20.0", ModHash, "golang.org/x/mod/@v/v0.20.0.modhash"},
		// Case-encoded paths and versions.
		{"github.com/BurntSushi/toml", "v1.4.0", Zip, "github.com/!burnt!sushi/toml/@v/v1.4.0.zip"},
		{"github.com/BurntSushi/toml", "", List, "github.com/!burnt!sushi/toml/@v/list"},
		{"github.com/BurntSushi/toml", "", Latest, "github.com/!burnt!sushi/toml/@latest"},
		{"example.com/m", "v1.0.0-RC1", Info, "example.com/m/@v/v1.0.0-!r!c1.info"},
		// A query is a version too (an .info of a branch).
		{"example.com/m", "master", Info, "example.com/m/@v/master.info"},
		{"example.com/m/v2", "v2.0.0+incompatible", Mod, "example.com/m/v2/@v/v2.0.0+incompatible.mod"},
		{"gopkg.in/yaml.v3", "v3.0.1", Zip, "gopkg.in/yaml.v3/@v/v3.0.1.zip"},
	}
	for _, tc := range tests {
		m := module.Version{Path: tc.path, Version: tc.version}
		key, err := Key(m, tc.kind)
		if err != nil || key != tc.key {
			t.Errorf("Key(%v, %v) = %q, %v; want %q", m, tc.kind, key, err, tc.key)
		}
		if u, err := URLPath(m, tc.kind); err != nil || u != tc.key {
			t.Errorf("URLPath(%v, %v) = %q, %v; want %q", m, tc.kind, u, err, tc.key)
		}
		gotM, gotK, err := Parse(tc.key)
		if err != nil || gotM != m || gotK != tc.kind {
			t.Errorf("Parse(%q) = %v, %v, %v; want %v, %v", tc.key, gotM, gotK, err, m, tc.kind)
		}
		if err := storage.ValidKey(key); err != nil {
			t.Errorf("Key(%v, %v) = %q: %v", m, tc.kind, key, err)
		}
		if tc.kind.PerVersion() {
			listKey, err := Key(module.Version{Path: tc.path}, List)
			if err != nil {
				t.Fatal(err)
			}
			prefix := VersionsPrefix(listKey)
			file, ok := strings.CutPrefix(key, prefix)
			if !ok {
				t.Errorf("%q is not under VersionsPrefix(%q) = %q", key, listKey, prefix)
			}
			v, k, err := ParseVersionFile(file)
			if err != nil || v != tc.version || k != tc.kind {
				t.Errorf("ParseVersionFile(%q) = %q, %v, %v; want %q, %v", file, v, k, err, tc.version, tc.kind)
			}
		}
	}
}

func TestParseVersionFileErrors(t *testing.T) {
	for _, file := range []string{"", "list", ".zip", "v1.0.0", "v1.0.0.tar", "v1.0.0-RC1.info", "v1.0.0-!!x.info", "a/b.zip"} {
		if v, k, err := ParseVersionFile(file); err == nil {
			t.Errorf("ParseVersionFile(%q) = %q, %v; want an error", file, v, k)
		}
	}
}

func TestKeyErrors(t *testing.T) {
	tests := []struct {
		name          string
		path, version string
		kind          Kind
	}{
		{"invalid path", "not a path", "", List},
		{"dot-dot path", "example.com/../x", "v1.0.0", Zip},
		{"upper-case escape char", "example.com/a!b", "v1.0.0", Zip},
		{"version with !", "example.com/m", "v1.0.0-!x", Info},
		{"version with slash", "example.com/m", "v1/../x", Info},
		{"list with a version", "example.com/m", "v1.0.0", List},
		{"latest with a version", "example.com/m", "v1.0.0", Latest},
		{"zip without a version", "example.com/m", "", Zip},
		{"no kind", "example.com/m", "", 0},
		{"sumdb kind", "example.com/m", "v1.0.0", SumDB},
		{"unknown kind", "example.com/m", "v1.0.0", SumDB + 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := module.Version{Path: tc.path, Version: tc.version}
			if key, err := Key(m, tc.kind); err == nil {
				t.Errorf("Key(%v, %v) = %q, want an error", m, tc.kind, key)
			} else if errors.As(err, new(*NotStorableError)) {
				t.Errorf("Key(%v, %v): %v, a NotStorableError", m, tc.kind, err)
			}
		})
	}
}

func TestNotStorable(t *testing.T) {
	long := strings.Repeat("a", 250)
	tests := []struct {
		name string
		m    module.Version
		kind Kind
		bad  bool
	}{
		// "x/@v/" + 245-byte version + ".ziphash" is 253 bytes: storable.
		{"longest storable version", module.Version{Path: "example.com/m", Version: "v1.0.0-" + long[:238]}, Info, false},
		// One byte more and the .ziphash has 256: so does every file of the version.
		{"version one byte too long (info)", module.Version{Path: "example.com/m", Version: "v1.0.0-" + long[:241]}, Info, true},
		{"version one byte too long (zip)", module.Version{Path: "example.com/m", Version: "v1.0.0-" + long[:241]}, Zip, true},
		{"path element of 255", module.Version{Path: "example.com/" + long + "bcdef"}, List, false},
		{"path element of 256", module.Version{Path: "example.com/" + long + "bcdefg"}, List, true},
		{"path element of 256 (latest)", module.Version{Path: "example.com/" + long + "bcdefg"}, Latest, true},
		{"path element of 256 (zip)", module.Version{Path: "example.com/" + long + "bcdefg", Version: "v1.0.0"}, Zip, true},
		// Upper case doubles in the escaped form.
		{"escaped path element of 256", module.Version{Path: "example.com/" + strings.Repeat("A", 128)}, List, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, err := Key(tc.m, tc.kind)
			if !tc.bad {
				if err != nil {
					t.Fatalf("Key: %v", err)
				}
				return
			}
			var ns *NotStorableError
			if !errors.As(err, &ns) {
				t.Fatalf("Key = %q, %v; want a *NotStorableError", key, err)
			}
			if ns.Module != tc.m.Path || ns.Version != tc.m.Version {
				t.Errorf("NotStorableError names %s@%s", ns.Module, ns.Version)
			}
			if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%v is not a not-found", err)
			}
			if !strings.Contains(err.Error(), "cannot be stored") || !strings.Contains(err.Error(), "element longer than 255 bytes") {
				t.Errorf("error %q does not say why", err)
			}
			// URLPath does not care: an upstream may be asked.
			if _, err := URLPath(tc.m, tc.kind); err != nil {
				t.Errorf("URLPath: %v", err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, key := range []string{
		"",
		"golang.org/x/mod",
		"golang.org/x/mod/@v/",
		"golang.org/x/mod/@v/.zip",
		"golang.org/x/mod/@v/v1.0.0.tar",
		"golang.org/x/mod/@v/v1.0.0",
		"github.com/BurntSushi/toml/@v/list", // upper case is never in a key
		"example.com/m/@v/v1.0.0-RC1.info",
		"example.com/m/@v/v1.0.0-!!x.info",
		"sumdb/sum.example/latest",
		"sumdb/sum.example/lookup/example.com/m@v1.0.0",
		".gomirror/sumdb/sum.example/latest",
		".gomirror/readyz",
		".gomirror/direct/public/pkg/mod/cache/download/example.com/m/@v/v1.0.0.zip",
		"@v/list",
		"@latest",
	} {
		if m, k, err := Parse(key); err == nil {
			t.Errorf("Parse(%q) = %v, %v; want an error", key, m, k)
		}
	}
}

func TestIsCanonical(t *testing.T) {
	tests := []struct {
		path, version string
		want          bool
	}{
		{"example.com/m", "v1.0.0", true},
		{"example.com/m", "v1.0.0-pre", true},
		{"example.com/m", "v0.0.0-20240101000000-abcdefabcdef", true},
		{"example.com/m", "v2.0.0+incompatible", true},
		{"example.com/m/v2", "v2.0.0", true},
		{"example.com/m/v2", "v1.0.0", false}, // major version mismatch
		{"example.com/m", "v2.0.0", false},    // needs /v2 or +incompatible
		{"example.com/m", "v1.0", false},
		{"example.com/m", "v1", false},
		{"example.com/m", "master", false},
		{"example.com/m", "", false},
		{"example.com/m", "v1.0.0+meta", false},
		{"gopkg.in/yaml.v3", "v3.0.1", true},
		{"gopkg.in/yaml.v3", "v2.0.0", false},
	}
	for _, tc := range tests {
		mv := module.Version{Path: tc.path, Version: tc.version}
		if got := IsCanonical(mv); got != tc.want {
			t.Errorf("IsCanonical(%s@%s) = %v, want %v", tc.path, tc.version, got, tc.want)
		}
		// Module.Canonical agrees, whether it answers from what
		// ParseURLPath found out or calls IsCanonical (Escape).
		em, err := Escape(mv)
		if err != nil {
			t.Fatal(err)
		}
		if got := em.Canonical(); got != tc.want {
			t.Errorf("Escape(%s@%s).Canonical() = %v, want %v", tc.path, tc.version, got, tc.want)
		}
		for _, k := range []Kind{Info, Mod, Zip, List, Latest} {
			if tc.version == "" && k.PerVersion() || tc.version != "" && !k.PerVersion() {
				continue
			}
			p, err := em.URLPath(k)
			if err != nil {
				t.Fatal(err)
			}
			f, err := ParseURLPath(p)
			if err != nil {
				t.Fatalf("ParseURLPath(%q): %v", p, err)
			}
			if f.Module.canon == canonUnknown {
				t.Errorf("ParseURLPath(%q) left Canonical to check the path again", p)
			}
			if got := f.Module.Canonical(); got != tc.want {
				t.Errorf("ParseURLPath(%q).Module.Canonical() = %v, want %v", p, got, tc.want)
			}
		}
	}
}

func TestHashKey(t *testing.T) {
	tests := []struct {
		key, want string
		ok        bool
	}{
		{"example.com/m/@v/v1.0.0.zip", "example.com/m/@v/v1.0.0.ziphash", true},
		{"example.com/m/@v/v1.0.0.mod", "example.com/m/@v/v1.0.0.modhash", true},
		{"example.com/m/@v/v1.0.0.info", "", false},
		{"example.com/m/@v/list", "", false},
		{"example.com/m/@latest", "", false},
		{"example.com/m/@v/v1.0.0.ziphash", "", false},
	}
	for _, tc := range tests {
		got, ok := HashKey(tc.key)
		if got != tc.want || ok != tc.ok {
			t.Errorf("HashKey(%q) = %q, %v; want %q, %v", tc.key, got, ok, tc.want, tc.ok)
		}
	}
	// The side-file keys agree with Key.
	m := module.Version{Path: "github.com/BurntSushi/toml", Version: "v1.4.0"}
	for _, k := range [][2]Kind{{Zip, ZipHash}, {Mod, ModHash}} {
		key, _ := Key(m, k[0])
		want, _ := Key(m, k[1])
		if got, _ := HashKey(key); got != want {
			t.Errorf("HashKey(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestIsArtifactName(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{"example.com/m/@v/v1.0.0.zip", true},
		{"example.com/m/@v/v1.0.0.mod", true},
		{"example.com/m/@v/v1.0.0.info", true},
		{"example.com/m/@v/BAD.info", true}, // its shape; Parse judges the name
		{"example.com/m/@v/v1.0.0.ziphash", false},
		{"example.com/m/@v/list", false},
		{"example.com/m/@latest", false},
		{"example.com/m/v1.0.0.zip", false},
		{"sumdb/sum.example/x/@v/v1.0.0.zip", false},
		{".gomirror/direct/public/pkg/mod/cache/download/example.com/m/@v/v1.0.0.zip", false},
	}
	for _, tc := range tests {
		if got := IsArtifactName(tc.key); got != tc.want {
			t.Errorf("IsArtifactName(%q) = %v, want %v", tc.key, got, tc.want)
		}
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{List: "list", Latest: "latest", Info: "info", Mod: "mod", Zip: "zip", ZipHash: "ziphash", ModHash: "modhash", SumDB: "sumdb", 0: "Kind(0)", SumDB + 1: "Kind(9)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, want)
		}
	}
	for k := List; k <= ModHash; k++ {
		if per := k != List && k != Latest; k.PerVersion() != per {
			t.Errorf("%v.PerVersion() = %v", k, !per)
		}
		if art := k == Info || k == Mod || k == Zip; k.Artifact() != art {
			t.Errorf("%v.Artifact() = %v", k, !art)
		}
	}
}

func TestSumDBAndStateKeys(t *testing.T) {
	tests := []struct{ got, want string }{
		{SumDBKey("sum.example/latest"), "sumdb/sum.example/latest"},
		{SumDBKey("sum.example/tile/8/0/001"), "sumdb/sum.example/tile/8/0/001"},
		{SumDBKey("sum.example"), "sumdb/sum.example"},
		{SumDBStateKey("sum.example/latest"), ".gomirror/sumdb/sum.example/latest"},
		{TempDir, ".gomirror/tmp"},
		{ReadyProbe, ".gomirror/readyz"},
		{DirectDir, ".gomirror/direct"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}

	key, err := SumDBLookupKey("sum.example", module.Version{Path: "github.com/BurntSushi/toml", Version: "v1.4.0"})
	if want := "sumdb/sum.example/lookup/github.com/!burnt!sushi/toml@v1.4.0"; err != nil || key != want {
		t.Errorf("SumDBLookupKey = %q, %v; want %q", key, err, want)
	}
	file, err := SumDBLookupFile(module.Version{Path: "github.com/BurntSushi/toml", Version: "v1.4.0-RC1"})
	if want := "lookup/github.com/!burnt!sushi/toml@v1.4.0-!r!c1"; err != nil || file != want {
		t.Errorf("SumDBLookupFile = %q, %v; want %q", file, err, want)
	}
	// The lookup element is path and version in one: 256 bytes is too long.
	m := module.Version{Path: "example.com/" + strings.Repeat("a", 249), Version: "v1.0.0"}
	_, err = SumDBLookupKey("sum.example", m)
	var ns *NotStorableError
	if !errors.As(err, &ns) || ns.DB != "sum.example" || !errors.Is(err, fs.ErrNotExist) ||
		!strings.HasPrefix(err.Error(), "not found: checksum database lookup "+m.Path+"@v1.0.0 cannot be stored: ") {
		t.Errorf("SumDBLookupKey of a 256-byte element: %v", err)
	}
	if _, err := Key(m, Zip); err != nil {
		t.Errorf("the module's own keys are storable: %v", err)
	}
	if _, err := SumDBLookupKey("sum.example", module.Version{Path: "not a path", Version: "v1.0.0"}); err == nil || errors.As(err, &ns) {
		t.Errorf("SumDBLookupKey of an invalid path: %v", err)
	}
}

func TestParseURLPath(t *testing.T) {
	tests := []struct {
		p       string
		want    File // Module as module.Version in mv
		mv      module.Version
		wantErr string // "" for success
	}{
		{p: "example.com/!a/@v/list", want: File{Kind: List}, mv: module.Version{Path: "example.com/A"}},
		{p: "example.com/a/@latest", want: File{Kind: Latest}, mv: module.Version{Path: "example.com/a"}},
		{p: "example.com/a/@v/v1.0.0-!r!c1.info", want: File{Kind: Info}, mv: module.Version{Path: "example.com/a", Version: "v1.0.0-RC1"}},
		{p: "example.com/a/@v/main.info", want: File{Kind: Info}, mv: module.Version{Path: "example.com/a", Version: "main"}},
		{p: "example.com/a/@v/v1.0.0.mod", want: File{Kind: Mod}, mv: module.Version{Path: "example.com/a", Version: "v1.0.0"}},
		{p: "example.com/a/@v/v1.0.0.zip", want: File{Kind: Zip}, mv: module.Version{Path: "example.com/a", Version: "v1.0.0"}},
		{p: "sumdb/sum.example/lookup/example.com/a@v1.0.0", want: File{Kind: SumDB, DB: "sum.example", DBFile: "lookup/example.com/a@v1.0.0"}},
		{p: "sumdb/sum.example/tile/8/0/001", want: File{Kind: SumDB, DB: "sum.example", DBFile: "tile/8/0/001"}},

		{p: "example.com/a", wantErr: "not a module proxy request"},
		{p: "example.com/a/@v/v1.0.0.ziphash", wantErr: `unknown file "v1.0.0.ziphash" after /@v/`},
		{p: "example.com/a/@v/v1.0.0.modhash", wantErr: `unknown file "v1.0.0.modhash" after /@v/`},
		{p: "example.com/a/@v/v1.0.0.tar", wantErr: `unknown file "v1.0.0.tar" after /@v/`},
		{p: "example.com/a/@v/.zip", wantErr: "empty version"},
		{p: "localhost/a/@v/list", wantErr: "missing dot in first path element"},
		{p: "sumdb/sum.example/../x", wantErr: "malformed checksum database path"},
		{p: "sumdb//latest", wantErr: "malformed checksum database path"},
		{p: "sumdb/sum.example/tile//1", wantErr: "malformed checksum database path"},
	}
	for _, tt := range tests {
		t.Run(tt.p, func(t *testing.T) {
			got, err := ParseURLPath(tt.p)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseURLPath(%q) = %+v, %v; want error %q", tt.p, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseURLPath(%q): %v", tt.p, err)
			}
			if got.Kind != tt.want.Kind || got.DB != tt.want.DB || got.DBFile != tt.want.DBFile || got.Module.Version() != tt.mv {
				t.Errorf("ParseURLPath(%q) = %+v; want %+v with %v", tt.p, got, tt.want, tt.mv)
			}
			if got.Kind == SumDB {
				if got.Module != (Module{}) {
					t.Errorf("ParseURLPath(%q): a SumDB file with a Module", tt.p)
				}
				return
			}
			// The parsed Module gives back the path it came from, without
			// escaping again, and the same as escaping anew.
			if u, err := got.Module.URLPath(got.Kind); err != nil || u != tt.p {
				t.Errorf("Module.URLPath(%v) = %q, %v; want %q", got.Kind, u, err, tt.p)
			}
			if k, err := got.Module.Key(got.Kind); err != nil || k != tt.p {
				t.Errorf("Module.Key(%v) = %q, %v; want %q", got.Kind, k, err, tt.p)
			}
		})
	}
}

func TestModule(t *testing.T) {
	long := strings.Repeat("a", 250)
	for _, mv := range []module.Version{
		{Path: "github.com/BurntSushi/toml", Version: "v1.4.0-RC1"},
		{Path: "example.com/m", Version: "main"},
		{Path: "example.com/m", Version: "v1.0.0-" + long[:241]}, // not storable
		{Path: "example.com/" + long + "bcdefg", Version: "v1.0.0"},
	} {
		em, err := Escape(mv)
		if err != nil {
			t.Fatalf("Escape(%v): %v", mv, err)
		}
		if em.Version() != mv {
			t.Errorf("Escape(%v).Version() = %v", mv, em.Version())
		}
		// A Module of ParseURLPath (which checks storability once) has
		// the same keys and errors.
		u, err := URLPath(mv, Info)
		if err != nil {
			t.Fatal(err)
		}
		f, err := ParseURLPath(u)
		if err != nil {
			t.Fatalf("ParseURLPath(%q): %v", u, err)
		}
		for k := List; k <= ModHash; k++ {
			m := mv
			if !k.PerVersion() {
				m.Version = ""
			}
			wantK, wantKErr := Key(m, k)
			key, err := f.Module.Key(k)
			if key != wantK || (err == nil) != (wantKErr == nil) || (err != nil && err.Error() != wantKErr.Error()) {
				t.Errorf("%v: parsed Module.Key = %q, %v; Key = %q, %v", k, key, err, wantK, wantKErr)
			}
		}
		for k := List; k <= ModHash; k++ {
			m := mv
			if !k.PerVersion() {
				m.Version = "" // the functions want none; a Module ignores it
			}
			wantU, wantUErr := URLPath(m, k)
			if u, err := em.URLPath(k); u != wantU || (err == nil) != (wantUErr == nil) {
				t.Errorf("%v: Module.URLPath = %q, %v; URLPath = %q, %v", k, u, err, wantU, wantUErr)
			}
			wantK, wantKErr := Key(m, k)
			key, err := em.Key(k)
			if key != wantK || (err == nil) != (wantKErr == nil) || (err != nil && err.Error() != wantKErr.Error()) {
				t.Errorf("%v: Module.Key = %q, %v; Key = %q, %v", k, key, err, wantK, wantKErr)
			}
		}
	}
	if _, err := Escape(module.Version{Path: "example.com/a!b"}); err == nil {
		t.Error("Escape of a path with ! did not fail")
	}
	if _, err := Escape(module.Version{Path: "example.com/m", Version: "v1/../x"}); err == nil {
		t.Error("Escape of a version with a slash did not fail")
	}
	noVersion, _ := Escape(module.Version{Path: "example.com/m"})
	for _, k := range []Kind{Info, Zip, SumDB, 0} {
		if key, err := noVersion.Key(k); err == nil {
			t.Errorf("Module without a version: Key(%v) = %q; want an error", k, key)
		}
	}
	if key, err := (Module{}).Key(List); err == nil {
		t.Errorf("zero Module: Key(List) = %q; want an error", key)
	}
}

func TestCutView(t *testing.T) {
	for _, tc := range []struct {
		in, rest string
		view     View
		bad      bool
	}{
		{in: "example.com/m/@v/list", rest: "example.com/m/@v/list"},
		{in: "snapshots/s1/example.com/m/@v/list", rest: "example.com/m/@v/list", view: View{SnapshotView, "s1"}},
		{in: "env/prod/sumdb/x/latest", rest: "sumdb/x/latest", view: View{EnvView, "prod"}},
		{in: "env/deps-prod-v1.8.0/example.com/m/@latest", rest: "example.com/m/@latest", view: View{EnvView, "deps-prod-v1.8.0"}},
		{in: "snapshots/s1", bad: true},
		{in: "snapshots/s1/", bad: true},
		{in: "snapshots//example.com/m/@v/list", bad: true},
		{in: "snapshots/../example.com/m/@v/list", bad: true},
		{in: "env/.x/example.com/m/@v/list", bad: true},
		{in: "env/a%2Fb/example.com/m/@v/list", bad: true},
		{in: "snapshotsx/s1/example.com/m/@v/list", rest: "snapshotsx/s1/example.com/m/@v/list"},
	} {
		v, rest, err := CutView(tc.in)
		if (err != nil) != tc.bad || err == nil && (v != tc.view || rest != tc.rest) {
			t.Errorf("CutView(%q) = %v, %q, %v; want %v, %q, error %v", tc.in, v, rest, err, tc.view, tc.rest, tc.bad)
		}
	}
}
