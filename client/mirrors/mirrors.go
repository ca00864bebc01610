// Package mirrors is the catalogue of well-known public Go module mirrors
// that `gomirror bench` (with no URL) and `gomirror setup --fastest`
// compare.
//
// The catalogue is one file in the repository, catalogue.yaml, embedded in
// the binary ([Builtin]). [Load] builds the catalogue a command uses, in
// layers, each applied to the result of the ones before:
//
//  1. the go command's own default proxy, as the entry [OfficialID], read
//     at run time from the go command's built-in default ([Official]); it is
//     never written in the catalogue file;
//  2. the built-in catalogue, or instead the file given with --catalogue;
//  3. the user's file, [UserFile], when it exists.
//
// In a layer, an entry with the id of an earlier one replaces it (in its
// place), an entry with disabled: true removes it, a new id is appended.
// Files are decoded strictly: an unknown field, a duplicate id in one file,
// a missing field or a URL that is not https (http only to a loopback
// address) is an error naming the file and line.
package mirrors

import (
	"bytes"
	"cmp"
	"context"
	_ "embed"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/gomirror/gomirror/client/setup"
	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/internal/gocmd"
	"github.com/gomirror/gomirror/internal/redact"
)

//go:embed catalogue.yaml
var builtin []byte

// BuiltinFile is the name of the built-in catalogue in errors.
const BuiltinFile = "catalogue.yaml (built in)"

// OfficialID is the id of the go command's default proxy in the catalogue.
const OfficialID = "official"

// SumDB says whether a mirror proxies the checksum database.
type SumDB string

// The values of SumDB.
const (
	SumDBYes     SumDB = "yes"
	SumDBNo      SumDB = "no"
	SumDBUnknown SumDB = "unknown"
)

// Name is a mirror's name in each language.
type Name struct {
	En string `yaml:"en"`
	Zh string `yaml:"zh"`
}

// Mirror is one entry of the catalogue.
type Mirror struct {
	ID       string `yaml:"id"`
	Name     Name   `yaml:"name"`
	URL      string `yaml:"url"`
	Operator string `yaml:"operator"`
	Region   string `yaml:"region"`
	SumDB    SumDB  `yaml:"sumdb"`
	Notes    string `yaml:"notes"`
	// Disabled, in an overriding file, removes the entry of the same id.
	Disabled bool `yaml:"disabled"`

	// File and Line are where the entry was read ("" for Official's).
	File string `yaml:"-"`
	Line int    `yaml:"-"`
}

// Title is the mirror's name in p's language (English when it has no
// Chinese name); the official default is named "official default".
func (m Mirror) Title(p *i18n.Printer) string {
	if m.ID == OfficialID {
		return p.Sprintf("official default")
	}
	if p.Chinese() && m.Name.Zh != "" {
		return m.Name.Zh
	}
	return m.Name.En
}

// Catalogue is the list of mirrors, in order.
type Catalogue struct {
	Mirrors []Mirror
	// Warnings are what Load left out and why (the official default
	// when there is no go command to ask), for the user.
	Warnings []i18n.Text
}

// Find returns the mirror whose URL is u (as URLKey compares them).
func (c *Catalogue) Find(u string) (Mirror, bool) {
	u = URLKey(u)
	for _, m := range c.Mirrors {
		if URLKey(m.URL) == u {
			return m, true
		}
	}
	return Mirror{}, false
}

// URLs returns the mirrors' URLs, in order.
func (c *Catalogue) URLs() []string {
	out := make([]string, len(c.Mirrors))
	for i, m := range c.Mirrors {
		out[i] = m.URL
	}
	return out
}

// file is the shape of a catalogue file.
type file struct {
	Mirrors []yaml.Node `yaml:"mirrors"`
}

var (
	idRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	lineRE = regexp.MustCompile(`line \d+: `)
)

// Parse decodes a catalogue file strictly; name is the file's name in
// errors. Entries with disabled: true need only an id.
func Parse(name string, data []byte) ([]Mirror, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f file
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // an empty file
		}
		if field, line, ok := unknownField(err, nil); ok {
			return nil, i18n.Errorf("catalogue %s, line %d: unknown field %s", name, line, field)
		}
		return nil, i18n.Errorf("catalogue %s: %v", name, err)
	}
	if len(f.Mirrors) > MaxEntries {
		return nil, i18n.Errorf("catalogue %s: %d entries, at most %d allowed", name, len(f.Mirrors), MaxEntries)
	}
	var out []Mirror
	seen := map[string]int{}
	for _, n := range f.Mirrors {
		var m Mirror
		// The strict decoder's options do not reach Node.Decode: re-decode
		// the node's own text strictly.
		b, err := yaml.Marshal(&n)
		if err != nil {
			return nil, i18n.Errorf("catalogue %s, line %d: %v", name, n.Line, err)
		}
		d := yaml.NewDecoder(bytes.NewReader(b))
		d.KnownFields(true)
		if err := d.Decode(&m); err != nil {
			if field, line, ok := unknownField(err, &n); ok {
				return nil, i18n.Errorf("catalogue %s, line %d: unknown field %s", name, line, field)
			}
			return nil, i18n.Errorf("catalogue %s, line %d: %v", name, n.Line, stripLine(err))
		}
		m.File, m.Line = name, n.Line
		if err := m.check(); err != nil {
			return nil, i18n.Errorf("catalogue %s, line %d: %v", name, n.Line, err)
		}
		if !m.Disabled {
			m.URL, _ = CheckURL(m.URL) // checked above
		}
		if l, ok := seen[m.ID]; ok {
			return nil, i18n.Errorf("catalogue %s, line %d: id %q already given on line %d", name, n.Line, m.ID, l)
		}
		seen[m.ID] = n.Line
		out = append(out, m)
	}
	return out, nil
}

// fieldNotFound is the yaml decoder's text for an unknown field, which
// names a Go type the user has never seen.
var fieldNotFound = regexp.MustCompile(`^line (\d+): field (\S+) not found in type \S+$`)

// unknownField reports the first unknown field of a strict decode's err:
// its name and its line in the file (found in node, the entry decoded from
// its re-encoded text, whose own line numbers are the decoder's; the
// decoder's line when node is nil).
func unknownField(err error, node *yaml.Node) (field string, line int, ok bool) {
	var te *yaml.TypeError
	if !errors.As(err, &te) || len(te.Errors) == 0 {
		return "", 0, false
	}
	m := fieldNotFound.FindStringSubmatch(te.Errors[0])
	if m == nil {
		return "", 0, false
	}
	field = m[2]
	line, _ = strconv.Atoi(m[1])
	if node != nil {
		line = node.Line
		if k := findKey(node, field); k != nil {
			line = k.Line
		}
	}
	return field, line, true
}

// findKey is the first mapping key named key in n, depth first.
func findKey(n *yaml.Node, key string) *yaml.Node {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i]
			}
		}
	}
	for _, c := range n.Content {
		if k := findKey(c, key); k != nil {
			return k
		}
	}
	return nil
}

// stripLine drops the decoder's own line numbers, which count from the
// start of the re-encoded entry, not of the file.
func stripLine(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "yaml: unmarshal errors:\n")
	s = lineRE.ReplaceAllString(s, "")
	return strings.TrimSpace(s)
}

func (m Mirror) check() error {
	if !idRE.MatchString(m.ID) {
		return i18n.Errorf("id %q: want lower-case letters, digits and '-'", m.ID)
	}
	if m.Disabled {
		return nil
	}
	if m.ID == OfficialID {
		return i18n.Errorf("id %q is the go command's default, which the catalogue cannot redefine (only disable)", m.ID)
	}
	if m.Name.En == "" {
		return i18n.Errorf("mirror %s has no name.en", m.ID)
	}
	for _, f := range []struct{ field, v string }{{"name.en", m.Name.En}, {"name.zh", m.Name.Zh}, {"operator", m.Operator}, {"region", m.Region}, {"notes", m.Notes}} {
		if !printable(f.v) {
			return i18n.Errorf("mirror %s: %s has control or bidirectional formatting characters", m.ID, f.field)
		}
	}
	if _, err := CheckURL(m.URL); err != nil {
		return i18n.Errorf("mirror %s: %v", m.ID, err)
	}
	switch m.SumDB {
	case SumDBYes, SumDBNo, SumDBUnknown:
	default:
		return i18n.Errorf("mirror %s: sumdb %q: want yes, no or unknown", m.ID, string(m.SumDB))
	}
	return nil
}

// CheckURL checks that s is a mirror URL the catalogue may hold: one that
// setup.NormalizeURL accepts (the client tools' one URL check: no GOPROXY
// list separators, white space, query or fragment), https, or http only to
// a loopback address (localhost, 127.0.0.0/8, ::1), and no user. It
// returns s without a trailing slash. Its errors never show credentials.
func CheckURL(s string) (string, error) {
	shown := redact.URL(s)
	if l := strings.ToLower(s); !strings.HasPrefix(l, "https://") && !strings.HasPrefix(l, "http://") {
		return "", i18n.Errorf("URL %q: want https://host/path", shown)
	}
	v, err := setup.NormalizeURL(s)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return "", i18n.Errorf("URL %q: want https://host/path", shown)
	}
	if u.User != nil {
		return "", i18n.Errorf("URL %q: no query, fragment or user allowed", shown)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !loopback(u.Hostname()) {
			return "", i18n.Errorf("URL %q: plain http only to a loopback address; want https", shown)
		}
	default:
		return "", i18n.Errorf("URL %q: want https://host/path", shown)
	}
	return v, nil
}

// printable reports whether s is valid UTF-8 without control characters
// or bidirectional formatting characters, which a catalogue text printed
// in a table could use to disguise itself or the terminal.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
	})
}

// MaxEntries is the most entries one catalogue file may hold.
const MaxEntries = 1000

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Builtin returns the built-in catalogue.
func Builtin() ([]Mirror, error) { return Parse(BuiltinFile, builtin) }

// UserFile is the user's catalogue file: mirrors.yaml in the gomirror
// directory of the user's configuration directory (os.UserConfigDir:
// $XDG_CONFIG_HOME or ~/.config on Linux). "" when there is none.
func UserFile() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "gomirror", "mirrors.yaml")
}

// Official asks the go command r for its built-in default proxy: `go env
// GOPROXY` with GOPROXY unset and GOENV=off, so that neither the
// environment nor the user's settings file changes the answer. It returns
// the first http(s) URL of that list, or ok false when it has none (a go
// command built with GOPROXY=direct or off).
//
// The go command runs with GOTOOLCHAIN=local and GOFLAGS empty: a
// GOTOOLCHAIN naming a newer release would otherwise make it download that
// toolchain from the very default proxy asked about, which the user may not
// reach.
func Official(ctx context.Context, goCmd gocmd.Cmd) (m Mirror, ok bool, err error) {
	goCmd.Environ = gocmd.WithEnv(goCmd.Environ, "GOENV=off", "GOPROXY=", "GOTOOLCHAIN=local", "GOFLAGS=")
	env, err := goCmd.Env(ctx, "GOPROXY")
	if err != nil {
		return Mirror{}, false, err
	}
	for _, u := range strings.FieldsFunc(env["GOPROXY"], func(r rune) bool { return r == ',' || r == '|' }) {
		if v, err := CheckURL(u); err == nil {
			return Mirror{
				ID:       OfficialID,
				Name:     Name{En: "official default"},
				URL:      v,
				Operator: "the go command's default",
				SumDB:    SumDBYes,
				Notes:    "the go command's built-in GOPROXY default",
			}, true, nil
		}
	}
	return Mirror{}, false, nil
}

// Merge applies layer to base: an entry with an id of base replaces it in
// its place, one with Disabled removes it, a new id is appended. It takes
// time linear in the entries.
func Merge(base, layer []Mirror) []Mirror {
	out := slices.Clone(base)
	at := make(map[string]int, len(out)+len(layer))
	for i, m := range out {
		at[m.ID] = i
	}
	removed := false
	for _, m := range layer {
		i, ok := at[m.ID]
		switch {
		case m.Disabled && ok:
			out[i].Disabled = true // dropped below
			delete(at, m.ID)
			removed = true
		case m.Disabled:
		case ok:
			out[i] = m
		default:
			at[m.ID] = len(out)
			out = append(out, m)
		}
	}
	if removed {
		out = slices.DeleteFunc(out, func(m Mirror) bool { return m.Disabled })
	}
	return out
}

// URLKey is u as dedupe compares it: scheme and host in lower case, no
// trailing slash.
func URLKey(u string) string {
	v, err := url.Parse(u)
	if err != nil {
		return strings.TrimRight(u, "/")
	}
	v.Scheme = strings.ToLower(v.Scheme)
	v.Host = strings.ToLower(v.Host)
	return strings.TrimRight(v.String(), "/")
}

// dedupe keeps one entry per URL (URLKey): the last one given (a later
// layer describes the mirror), in the place of the first, so that the
// mirror is measured once and GOPROXY never names it twice.
func dedupe(ms []Mirror) []Mirror {
	first := make(map[string]int, len(ms))
	var out []Mirror
	for _, m := range ms {
		k := URLKey(m.URL)
		if i, ok := first[k]; ok {
			out[i] = m
			continue
		}
		first[k] = len(out)
		out = append(out, m)
	}
	return out
}

// Sources are the layers Load reads besides the official default.
type Sources struct {
	// Catalogue replaces the built-in catalogue when not "" (--catalogue);
	// it must exist.
	Catalogue string
	// User is the user's file (UserFile()); a missing file is no layer.
	User string
	// NoOfficial leaves out the go command's default.
	NoOfficial bool
}

// Load builds the catalogue from the official default (asked of goCmd), the
// built-in catalogue or src.Catalogue, and src.User. The go command is run
// only when the official entry is still in the catalogue once every layer
// is applied: a file that disables it needs no go command; with no go
// command to run (not on PATH), the official entry is left out and
// Catalogue.Warnings says so. An empty result is an error.
func Load(ctx context.Context, goCmd gocmd.Cmd, src Sources) (*Catalogue, error) {
	var ms []Mirror
	if !src.NoOfficial {
		// A placeholder, so that the layers can disable it; filled in below.
		ms = append(ms, Mirror{ID: OfficialID})
	}
	var base []Mirror
	var err error
	if src.Catalogue != "" {
		base, err = readFile(src.Catalogue, true)
	} else {
		base, err = Builtin()
	}
	if err != nil {
		return nil, err
	}
	ms = Merge(ms, base)
	if src.User != "" {
		user, err := readFile(src.User, false)
		if err != nil {
			return nil, err
		}
		ms = Merge(ms, user)
	}
	var warnings []i18n.Text
	if i := slices.IndexFunc(ms, func(m Mirror) bool { return m.ID == OfficialID }); i >= 0 {
		off, ok, err := Mirror{}, false, error(nil)
		path := cmp.Or(goCmd.Path, "go")
		if _, lerr := exec.LookPath(path); errors.Is(lerr, exec.ErrNotFound) || errors.Is(lerr, fs.ErrNotExist) {
			// No go command to ask: the rest can still be measured.
			warnings = append(warnings, i18n.T("the official default is left out: there is no go command (%s) on PATH to ask for it", path))
		} else if off, ok, err = Official(ctx, goCmd); err != nil {
			return nil, i18n.Errorf("reading the go command's default proxy: %v (to compare the mirrors without it, add an entry \"id: %s\" with \"disabled: true\" to %s)", err, OfficialID, userFileName(src.User))
		}
		if ok {
			ms[i] = off
		} else {
			ms = slices.Delete(ms, i, i+1)
		}
	}
	ms = dedupe(ms)
	if len(ms) == 0 {
		return nil, i18n.Errorf("the mirror catalogue is empty")
	}
	return &Catalogue{Mirrors: ms, Warnings: warnings}, nil
}

// userFileName is the user's file for a hint, or a description of it.
func userFileName(user string) string {
	if user == "" {
		return "the user's mirrors.yaml"
	}
	return user
}

func readFile(name string, must bool) ([]Mirror, error) {
	data, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) && !must {
		return nil, nil
	}
	if err != nil {
		return nil, i18n.Errorf("catalogue: %v", err)
	}
	return Parse(name, data)
}

// Suggestion is the advice doctor gives when the current proxy is slow or
// failing: measure the catalogue's mirrors and switch to the fastest.
func Suggestion() i18n.Text {
	return i18n.T("try `gomirror setup --fastest`: it measures the public mirrors of the catalogue and sets GOPROXY to the fastest two, then direct (undo with `gomirror setup --undo`)")
}

// SumDBNote says what the choice of m means for the checksum database, or
// the zero Text when m proxies it.
func SumDBNote(m Mirror, gosumdb string) i18n.Text {
	switch m.SumDB {
	case SumDBYes:
		return i18n.Text{}
	case SumDBNo:
		return i18n.T("%s does not proxy the checksum database: the go command reaches the checksum database (GOSUMDB=%s) directly to verify new modules; where that is blocked or slow, go get fails or waits at verification. Set GOSUMDB to a checksum database proxy you can reach (the name stays the same, the URL is the proxy's), or choose a mirror that proxies it.", m.URL, gosumdb)
	default:
		return i18n.T("It is not known whether %s proxies the checksum database: if it does not, the go command reaches the checksum database (GOSUMDB=%s) directly to verify new modules; where that is blocked or slow, go get fails or waits at verification. Set GOSUMDB to a checksum database proxy you can reach (the name stays the same, the URL is the proxy's), or choose a mirror that proxies it.", m.URL, gosumdb)
	}
}
