package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/gomirror/gomirror/config"
)

// repoRoot is the repository root, relative to this package's directory
// (where go test runs).
const repoRoot = ".."

func TestMain(m *testing.M) {
	code := m.Run()
	if helmBuilt != "" {
		os.RemoveAll(helmBuilt)
	}
	os.Exit(code)
}

// extraSettings are names the artifacts may use that are not (yet) struct
// tags of config.Serve.
var extraSettings = map[string]string{
	// redis is the Redis URL for cross-replica fill locks and the shared
	// short-lived cache. It was being added to config.Serve while these
	// artifacts were written (it landed in commit bdfe943 together with
	// redis-lock-ttl and redis-shared-ttl); it stays allow-listed so that
	// these tests do not depend on the order in which the two changes land.
	"redis": "being added to config.Serve",
	// config is the --config flag (and GOMIRROR_CONFIG, read by
	// cmd/gomirror), not a field of config.Serve.
	"config": "flag of gomirror serve",
}

// settings returns every gomirror setting name: the name tags of
// config.Serve, plus extraSettings.
func settings() map[string]bool {
	names := map[string]bool{}
	typ := reflect.TypeFor[config.Serve]()
	for i := range typ.NumField() {
		if n := typ.Field(i).Tag.Get("name"); n != "" && n != "-" {
			names[n] = true
		}
	}
	for n := range extraSettings {
		names[n] = true
	}
	return names
}

// envSettings maps every GOMIRROR_* variable gomirror reads to its setting.
func envSettings() map[string]string {
	m := map[string]string{}
	for n := range settings() {
		m[config.EnvName(n)] = n
	}
	return m
}

// checkSettingNames reports every name in names that is not a gomirror
// setting; where says where the names come from.
func checkSettingNames(t *testing.T, where string, names []string) {
	t.Helper()
	known := settings()
	for _, n := range names {
		if !known[n] {
			t.Errorf("%s: %q is not a gomirror setting (config.Serve has no name:%q tag)", where, n, n)
		}
	}
}

// checkEnvNames reports every GOMIRROR_* name that gomirror does not read.
func checkEnvNames(t *testing.T, where string, names []string) {
	t.Helper()
	known := envSettings()
	for _, n := range names {
		if _, ok := known[n]; !ok {
			t.Errorf("%s: %s is not the environment variable of any gomirror setting", where, n)
		}
	}
}

// goEnvForTests stands in for `go env` when configs are loaded: no go
// command needed, and nothing from this machine's go env leaks in.
func goEnvForTests(vars ...string) (map[string]string, error) {
	return map[string]string{"GOPROXY": "off", "GOSUMDB": "off", "GONOSUMDB": "", "GOPRIVATE": ""}, nil
}

// loadServe loads a serve config the way `gomirror serve` does, from a YAML
// file (may be empty) and an environment, without flags.
func loadServe(file string, env map[string]string) (*config.Serve, error) {
	return config.LoadServe(config.Sources{
		File: file,
		Env: func(k string) (string, bool) {
			v, ok := env[k]
			return v, ok
		},
	}, goEnvForTests)
}

// writeTemp writes b to a new file in a test temp dir and returns its name.
func writeTemp(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// flagNames returns the names of the --flags in args (--name or
// --name=value).
func flagNames(args []string) []string {
	var names []string
	for _, a := range args {
		if n, ok := strings.CutPrefix(a, "--"); ok && n != "" {
			n, _, _ = strings.Cut(n, "=")
			names = append(names, n)
		}
	}
	return names
}

// flagValue returns the value of --name in args.
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		if a == "--"+name && i+1 < len(args) {
			return args[i+1], true
		}
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

func portOf(t *testing.T, hostport string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatalf("%q: %v", hostport, err)
	}
	return port
}

// path walks a decoded YAML value along keys (map keys, or list indexes
// written as numbers) and returns what it finds there.
func path(v any, keys ...string) (any, bool) {
	for _, k := range keys {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[k]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

func str(v any, keys ...string) string {
	x, _ := path(v, keys...)
	switch s := x.(type) {
	case string:
		return s
	case nil:
		return ""
	default:
		return fmt.Sprint(s)
	}
}

func mapAt(v any, keys ...string) map[string]any {
	x, _ := path(v, keys...)
	m, _ := x.(map[string]any)
	return m
}

func listAt(v any, keys ...string) []any {
	x, _ := path(v, keys...)
	l, _ := x.([]any)
	return l
}

// strings of a YAML list (or a single string).
func stringList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// decodeYAML decodes one YAML document into generic values.
func decodeYAML(b []byte) (any, error) {
	var v any
	err := yaml.Unmarshal(b, &v)
	return v, err
}

// decodeYAMLDocs decodes a multi-document YAML stream, dropping empty
// documents.
func decodeYAMLDocs(b []byte) ([]map[string]any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []map[string]any
	for {
		var v map[string]any
		err := dec.Decode(&v)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return docs, nil
			}
			return docs, err
		}
		if v != nil {
			docs = append(docs, v)
		}
	}
}

var envNameRE = regexp.MustCompile(`\bGOMIRROR_[A-Z0-9_]+\b`)

// TestEnvNamesInArtifactsAndDocs: every GOMIRROR_* name written anywhere in
// the deployment artifacts and in docs/HA.md is the environment variable of
// a real gomirror setting (or GOMIRROR_CONFIG).
func TestEnvNamesInArtifactsAndDocs(t *testing.T) {
	files := []string{filepath.Join(repoRoot, "docs", "HA.md")}
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && !strings.HasSuffix(p, ".go") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, f := range files {
		b := readFile(t, f)
		names := envNameRE.FindAllString(string(b), -1)
		slices.Sort(names)
		names = slices.Compact(names)
		seen += len(names)
		checkEnvNames(t, f, names)
	}
	if seen == 0 {
		t.Fatal("no GOMIRROR_* names found at all: is the walk broken?")
	}
}

// parseDuration parses a Go duration or a bare number of seconds.
func parseDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("duration %q: %v", s, err)
	}
	return d
}
