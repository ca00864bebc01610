package setup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestProfilesFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", ProfilesFileName)
	ps, err := ReadProfiles(path)
	if err != nil || len(ps.Profiles) != 0 || ps.Active != "" {
		t.Fatalf("missing file: %+v, %v", ps, err)
	}
	ps.Profiles["office"] = []Setting{{"GOPROXY", "https://corp.example"}, {"GOPRIVATE", "corp.example/*"}}
	ps.Profiles["home"] = []Setting{{"GOPROXY", "https://public.example"}}
	ps.Active = "home"
	if err := WriteProfiles(path, ps); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, %v; want 0600", fi.Mode(), err)
	}
	got, err := ReadProfiles(path)
	if err != nil || got.Active != "home" || len(got.Profiles["office"]) != 2 || got.Profiles["office"][1].Value != "corp.example/*" || strings.Join(got.Names(), ",") != "home,office" {
		t.Errorf("read back %+v, %v", got, err)
	}
	// No temporary file is left behind.
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("directory holds %d entries", len(ents))
	}

	for name, content := range map[string]string{
		"not json": "{",
		"bad key":  `{"profiles":{"x":[{"key":"GOFLAGS","value":"-x"}]}}`,
		"bad name": `{"profiles":{"../x":[]}}`,
	} {
		os.WriteFile(path, []byte(content), 0o600)
		if _, err := ReadProfiles(path); err == nil || !strings.Contains(err.Error(), "profiles file "+path) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCheckProfileName(t *testing.T) {
	for name, ok := range map[string]bool{"office": true, "ci-2.x_y": true, "": false, "-x": false, "a/b": false, "..": false, strings.Repeat("a", 64): true, strings.Repeat("a", 65): false, "办公室": false} {
		if err := CheckProfileName(name); (err == nil) != ok {
			t.Errorf("CheckProfileName(%q) = %v", name, err)
		}
	}
}
