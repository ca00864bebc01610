package sumdb

import (
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
