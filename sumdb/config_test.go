package sumdb

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/gomirror/gomirror/internal/gocmd"
)

func TestParseGOSUMDB(t *testing.T) {
	_, vkey, err := note.GenerateKey(nil, "sum.example.test")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]string{"sum.example.test": vkey}
	tests := []struct {
		name    string
		value   string
		want    *DB // nil with wantErr false: "off"
		wantErr string
	}{
		{"off", "off", nil, ""},
		{"bare known name", "sum.example.test", &DB{Name: "sum.example.test", Key: vkey, URL: "https://sum.example.test"}, ""},
		{"name with key", vkey, &DB{Name: "sum.example.test", Key: vkey, URL: "https://sum.example.test"}, ""},
		{"name with key and URL", vkey + " http://127.0.0.1:9/db/", &DB{Name: "sum.example.test", Key: vkey, URL: "http://127.0.0.1:9/db"}, ""},
		{"bare unknown name", "other.example.test", nil, "no known key"},
		{"malformed key", "sum.example.test+1234+notakey", nil, "invalid key"},
		{"URL without scheme", vkey + " 127.0.0.1:9", nil, "must start with"},
		{"too many fields", vkey + " http://a http://b", nil, "want <name>"},
		{"empty", "", nil, "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseGOSUMDB(tt.value, known)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestKnownKeysFromAGoInstallation(t *testing.T) {
	_, vkey, err := note.GenerateKey(nil, "sum.example.test")
	if err != nil {
		t.Fatal(err)
	}
	goroot := t.TempDir()
	dir := filepath.Join(goroot, "src", "cmd", "go", "internal", "modfetch")
	os.MkdirAll(dir, 0o755)
	src := "package modfetch\n\nvar knownGOSUMDB = map[string]string{\n\t\"sum.example.test\": \"" + vkey + "\",\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "key.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	keys, err := KnownKeys(goroot)
	if err != nil || keys["sum.example.test"] != vkey || len(keys) != 1 {
		t.Errorf("KnownKeys = %v, %v", keys, err)
	}
	if _, err := KnownKeys(t.TempDir()); err == nil {
		t.Error("KnownKeys of a directory without the go command's source succeeded")
	}
}

// TestDefaultGOSUMDBResolves checks the real installation: the database the
// go command uses by default has a key gomirror can find.
func TestDefaultGOSUMDBResolves(t *testing.T) {
	env, err := gocmd.Cmd{}.Env(t.Context(), "GOROOT", "GOSUMDB")
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	f := []string{env["GOROOT"], env["GOSUMDB"]}
	if f[1] == "" || f[1] == "off" || strings.ContainsAny(f[1], "+ ") {
		t.Skipf("GOSUMDB %q names no key to look up", f[1])
	}
	keys, err := KnownKeys(f[0])
	if err != nil {
		t.Fatal(err)
	}
	db, err := ParseGOSUMDB(f[1], keys)
	if err != nil || db == nil || db.Name != f[1] {
		t.Errorf("ParseGOSUMDB(%q) = %+v, %v", f[1], db, err)
	}
}

// TestAliasNamesTheDatabaseTheGoCommandMapsItTo: a bare GOSUMDB name that
// the go command treats as an alias of another database (read from the
// go command's own source, here a made-up installation) is that database,
// with its known key, reached at the alias's URL.
func TestAliasNamesTheDatabaseTheGoCommandMapsItTo(t *testing.T) {
	goroot := filepath.Join("testdata", "goroot")
	aliases, err := KnownAliases(goroot)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"sum.alias.example": "sum.example.test https://sum-alias.example/db"}; !maps.Equal(aliases, want) {
		t.Errorf("KnownAliases = %v, want %v", aliases, want)
	}
	for _, tc := range []struct{ value, name, url string }{
		{"sum.alias.example", "sum.example.test", "https://sum-alias.example/db"},
		{"sum.example.test", "sum.example.test", "https://sum.example.test"},
		// An explicit URL or key is not an alias.
		{"sum.example.test https://elsewhere.example", "sum.example.test", "https://elsewhere.example"},
	} {
		db, err := ParseIn(goroot, tc.value)
		if err != nil || db == nil || db.Name != tc.name || db.URL != tc.url || !strings.HasPrefix(db.Key, tc.name+"+") {
			t.Errorf("ParseIn(%q) = %+v, %v; want name %s, URL %s", tc.value, db, err, tc.name, tc.url)
		}
	}
	if _, err := ParseIn(goroot, "sum.unknown.example"); err == nil {
		t.Error("ParseIn of an unknown bare name succeeded")
	}
	// An installation whose source has no alias: none, no error.
	if a, err := KnownAliases(t.TempDir()); err != nil || len(a) != 0 {
		t.Errorf("KnownAliases(empty) = %v, %v", a, err)
	}
}

// TestAliasesOfTheInstalledGoCommandParse checks the real installation:
// every alias the go command maps a GOSUMDB name to (such as the one the
// guides for mainland China recommend) parses to the database it stands
// for, with that database's known key.
func TestAliasesOfTheInstalledGoCommandParse(t *testing.T) {
	env, err := gocmd.Cmd{}.Env(t.Context(), "GOROOT")
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	aliases, err := KnownAliases(env["GOROOT"])
	if err != nil {
		t.Fatal(err)
	}
	for alias, value := range aliases {
		db, err := ParseIn(env["GOROOT"], alias)
		if err != nil || db == nil || db.Name != strings.Fields(value)[0] {
			t.Errorf("ParseIn(%q) = %+v, %v; want the database %q", alias, db, err, value)
		}
	}
}
