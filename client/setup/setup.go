package setup

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/internal/atomicfile"
	"github.com/gomirror/gomirror/internal/gocmd"
	"github.com/gomirror/gomirror/internal/redact"
	"github.com/gomirror/gomirror/layout"
)

// StateFileName is the name of the file, in the directory of the GOENV file,
// that keeps the settings from before the first Apply until Undo.
const StateFileName = "gomirror-setup.json"

// maxProbeBody is the largest answer Check reads: a version list longer
// than this is not what a module proxy sends for the probe module.
const maxProbeBody = 1 << 20

// DefaultProbeModule is the module whose version list Check asks for.
const DefaultProbeModule = "golang.org/x/mod"

// Keys are the variables Apply may change, in the order they are applied
// and printed.
var Keys = []string{"GOPROXY", "GOSUMDB", "GOPRIVATE", "GONOSUMDB", "GONOPROXY"}

// Setting is one variable to set.
type Setting struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Settings validates a mirror URL and the optional extra variables (keys
// among Keys other than GOPROXY) and returns what to set, in Keys order.
// The URL loses a trailing slash.
func Settings(mirrorURL string, extra map[string]string) ([]Setting, error) {
	u, err := NormalizeURL(mirrorURL)
	if err != nil {
		return nil, err
	}
	out := []Setting{{"GOPROXY", u}}
	for k := range extra {
		if k == "GOPROXY" || !slices.Contains(Keys, k) {
			return nil, i18n.Errorf("cannot set %s", k)
		}
	}
	for _, k := range Keys[1:] {
		if v, ok := extra[k]; ok {
			if err := checkValue(k, v); err != nil {
				return nil, err
			}
			out = append(out, Setting{k, v})
		}
	}
	return out, nil
}

// checkValue refuses what the go command's env file cannot hold.
func checkValue(key, val string) error {
	if !utf8.ValidString(val) || strings.ContainsAny(val, "\x00\v\r\n") {
		return i18n.Errorf("%s: value %q has a newline, NUL or invalid UTF-8", key, val)
	}
	return nil
}

// NormalizeURL checks that s is one mirror URL that may stand in a
// GOPROXY list (http, https or file; no ',' or '|', which separate list
// elements, no white space or control character, no query or fragment)
// and returns it without a trailing slash. It is the one URL check of the
// client tools: the catalogue (client/mirrors) and bench
// (client/mirrorbench) add their own narrower rules on top. Its errors
// name the URL without its credentials.
func NormalizeURL(s string) (string, error) {
	shown := redact.URL(s)
	if strings.ContainsAny(s, ",|") {
		return "", i18n.Errorf("mirror URL %q: give one URL, not a GOPROXY list", shown)
	}
	if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return "", i18n.Errorf("mirror URL %q: white space, control characters or invalid UTF-8", shown)
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", i18n.Errorf("mirror URL %q: not a URL", shown)
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return "", i18n.Errorf("mirror URL %q has no host", shown)
		}
	case "file":
		if u.Path == "" {
			return "", i18n.Errorf("mirror URL %q has no path", shown)
		}
	default:
		return "", i18n.Errorf("mirror URL %q: want http://, https:// or file://", shown)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return "", i18n.Errorf("mirror URL %q: no query or fragment allowed", shown)
	}
	return strings.TrimRight(s, "/"), nil
}

// ProxyList joins elems into a GOPROXY value with ',' (fall through on
// 404 and 410 only): each element is "direct", "off" or a URL that
// NormalizeURL accepts.
func ProxyList(elems ...string) (string, error) {
	out := make([]string, len(elems))
	for i, e := range elems {
		if e == "direct" || e == "off" {
			out[i] = e
			continue
		}
		u, err := NormalizeURL(e)
		if err != nil {
			return "", err
		}
		out[i] = u
	}
	return strings.Join(out, ","), nil
}

// Check reports whether mirrorURL speaks the module proxy protocol: a GET of
// <mirrorURL>/<probe>/@v/list must answer 200 with a plain-text version list,
// or 404 or 410 with a plain-text message (the protocol's "no such module").
// Anything else (no answer, a TLS error, 5xx, an HTML page) is an error that
// says why. For a file:// URL it checks that the directory exists.
func Check(ctx context.Context, client *http.Client, mirrorURL, probe string) error {
	base, err := NormalizeURL(mirrorURL)
	if err != nil {
		return err
	}
	if probe == "" {
		probe = DefaultProbeModule
	}
	probePath, err := layout.URLPath(module.Version{Path: probe}, layout.List)
	if err != nil {
		return i18n.Errorf("probe module: %v", err)
	}
	// Errors name the mirror without its userinfo (a user name is often
	// a token): people paste them into issues.
	shown := redact.URL(base)
	u, _ := url.Parse(base)
	if u.Scheme == "file" {
		dir := filepath.FromSlash(u.Path)
		if fi, err := os.Stat(dir); err != nil {
			return i18n.Errorf("%s is not a module proxy: %v", shown, err)
		} else if !fi.IsDir() {
			return i18n.Errorf("%s is not a module proxy: %s is not a directory", shown, dir)
		}
		return nil
	}
	if client == nil {
		client = http.DefaultClient
	}
	probeURL := base + "/" + probePath
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, probeURL, nil)
	if err != nil {
		return redact.Err(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return i18n.Errorf("%s does not answer: %v", shown, redact.Err(err))
	}
	probeURL = redact.URL(probeURL)
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxProbeBody+1))
	if err != nil {
		return i18n.Errorf("%s does not answer: reading GET %s: %v", shown, probeURL, redact.Err(err))
	}
	notProxy := func(why string) error {
		return i18n.Errorf("%s does not speak the module proxy protocol: GET %s: %s", shown, probeURL, why)
	}
	status := fmt.Sprintf("%s (%s)", resp.Status, snippet(body))
	switch resp.StatusCode {
	case http.StatusOK, http.StatusNotFound, http.StatusGone:
	default:
		return notProxy(status)
	}
	if !isPlainText(resp.Header.Get("Content-Type"), body) {
		return notProxy(fmt.Sprintf("%s with Content-Type %q, want text/plain", resp.Status, resp.Header.Get("Content-Type")))
	}
	if resp.StatusCode == http.StatusOK {
		if len(body) > maxProbeBody {
			return notProxy(fmt.Sprintf("200 OK, but the list is too large (over %d bytes)", maxProbeBody))
		}
		sc := bufio.NewScanner(bytes.NewReader(body))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) > 0 && !semver.IsValid(f[0]) {
				return notProxy(fmt.Sprintf("200 OK, but %q is not a version", snippet([]byte(f[0]))))
			}
		}
		if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
			return notProxy("200 OK, but a list line too long for a version")
		} else if err != nil {
			return notProxy(fmt.Sprintf("200 OK, but the list is not a version list: %v", err))
		}
	}
	return nil
}

func isPlainText(contentType string, body []byte) bool {
	if contentType == "" {
		contentType = http.DetectContentType(body)
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "text/plain"
}

// snippet is the start of a response body, for an error message.
func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	if s == "" {
		return "empty body"
	}
	return s
}

// State is the content of the state file: what the variables were before
// the first Apply.
type State struct {
	// GOENV is the file the settings were changed in.
	GOENV string `json:"goenv"`
	// GOENVExisted is whether that file existed; if not, Undo removes it
	// again when it is left empty.
	GOENVExisted bool `json:"goenv_existed"`
	// Vars are the variables Apply changed.
	Vars map[string]Saved `json:"vars"`
}

// Saved is one variable's setting before the first Apply.
type Saved struct {
	// InFile is whether the GOENV file set it; Value is the value it set.
	InFile bool   `json:"in_file"`
	Value  string `json:"value,omitempty"`
	// Effective is what `go env` reported, from the OS environment, the
	// GOENV file or the defaults. For information only: Undo does not use it.
	Effective string `json:"effective"`
}

// ErrNoState is returned by Undo when there is no state file.
var ErrNoState = i18n.Errorf("no saved settings")

// Result says what Apply or Undo did.
type Result struct {
	GOENV     string            // the go command's settings file
	StateFile string            // the state file
	Kept      bool              // Apply: a state file from an earlier Apply was kept
	Reset     []string          // Switch: the variables put back to their values from before the first Apply
	Effective map[string]string // the variables' values according to go env afterwards
}

// envFile returns the file GOENV names, refusing GOENV=off.
func envFile(ctx context.Context, r gocmd.Runner) (string, error) {
	out, err := r.Run(ctx, "env", "GOENV")
	if err != nil {
		return "", err
	}
	file := strings.TrimSpace(string(out))
	if file == "" || file == "off" {
		return "", i18n.Errorf("GOENV is off, so the go command has no settings file to change: unset GOENV or point it at a file (gomirror setup --print URL prints the settings for the shell instead)")
	}
	if !filepath.IsAbs(file) {
		return "", i18n.Errorf("GOENV %q is not an absolute path", file)
	}
	if fi, err := os.Stat(file); err == nil && !fi.Mode().IsRegular() {
		return "", i18n.Errorf("GOENV %s is not a regular file (a directory?): unset GOENV or point it at a file", file)
	}
	return file, nil
}

// StatePath is the state file for the GOENV file goenv.
func StatePath(goenv string) string {
	return filepath.Join(filepath.Dir(goenv), StateFileName)
}

// ReadEnvFile returns the variables that the go command's settings file
// sets, read with the go command's rules: KEY=VALUE lines whose key starts
// with an upper-case letter, the last line for a key winning. A missing
// file sets nothing.
func ReadEnvFile(file string) (map[string]string, bool, error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	m := map[string]string{}
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSuffix(line, "\n")
		k, v, ok := strings.Cut(line, "=")
		if !ok || line[0] < 'A' || line[0] > 'Z' {
			continue
		}
		m[k] = v
	}
	return m, true, nil
}

// ReadState reads the state file next to the GOENV file; ErrNoState if
// there is none.
func ReadState(path string) (*State, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, i18n.Errorf("%v: the state file %s does not exist", ErrNoState, path)
	}
	if err != nil {
		return nil, err
	}
	return parseState(path, data)
}

// parseState decodes data, the state file at path.
func parseState(path string, data []byte) (*State, error) {
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, i18n.Errorf("state file %s: %v", path, err)
	}
	if s.Vars == nil {
		s.Vars = map[string]Saved{}
	}
	return &s, nil
}

func writeState(path string, s *State) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o777); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(data, '\n'), 0o600)
}

// Apply saves the current settings of the variables in settings (unless a
// state file from an earlier Apply has them already) and then sets them
// with `go env -w`. If setting them fails, the state file is left as it was.
func Apply(ctx context.Context, r gocmd.Runner, settings []Setting) (*Result, error) {
	if len(settings) == 0 {
		return nil, i18n.Errorf("nothing to set")
	}
	goenv, err := envFile(ctx, r)
	if err != nil {
		return nil, err
	}
	statePath := StatePath(goenv)
	res := &Result{GOENV: goenv, StateFile: statePath}

	var keys []string
	for _, s := range settings {
		if err := checkName(s.Key); err != nil {
			return nil, err
		}
		if slices.Contains(keys, s.Key) {
			return nil, i18n.Errorf("%s given twice", s.Key)
		}
		if err := checkValue(s.Key, s.Value); err != nil {
			return nil, err
		}
		keys = append(keys, s.Key)
	}

	oldState, err := os.ReadFile(statePath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	state := &State{GOENV: goenv, Vars: map[string]Saved{}}
	if oldState != nil {
		res.Kept = true
		if state, err = parseState(statePath, oldState); err != nil {
			return nil, err
		}
		if state.GOENV != goenv {
			return nil, i18n.Errorf("state file %s belongs to GOENV %s, not %s: undo that first (GOENV=%s gomirror setup --undo)", statePath, state.GOENV, goenv, state.GOENV)
		}
	}

	// Save what is not saved yet.
	var missing []string
	for _, k := range keys {
		if _, ok := state.Vars[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		effective, err := gocmd.Env(ctx, r, missing...)
		if err != nil {
			return nil, err
		}
		inFile, existed, err := ReadEnvFile(goenv)
		if err != nil {
			return nil, err
		}
		if oldState == nil {
			state.GOENVExisted = existed
		}
		for _, k := range missing {
			v, ok := inFile[k]
			state.Vars[k] = Saved{InFile: ok, Value: v, Effective: effective[k]}
		}
		if err := writeState(statePath, state); err != nil {
			return nil, i18n.Errorf("saving the current settings: %v", err)
		}
	}

	args := []string{"env", "-w"}
	for _, s := range settings {
		args = append(args, s.Key+"="+s.Value)
	}
	if _, err := r.Run(ctx, args...); err != nil {
		// Nothing changed: put the state file back as it was.
		if len(missing) > 0 {
			if oldState == nil {
				os.Remove(statePath)
			} else {
				atomicfile.WriteFile(statePath, oldState, 0o600)
			}
		}
		return nil, err
	}
	if res.Effective, err = gocmd.Env(ctx, r, keys...); err != nil {
		return nil, err
	}
	return res, nil
}

// Undo restores the settings saved by the first Apply: `go env -w` for the
// variables that the GOENV file set, `go env -u` for the others. It then
// removes the state file, and the GOENV file too if Apply created it and it
// is left empty. Without a state file it returns an error wrapping
// ErrNoState and changes nothing.
func Undo(ctx context.Context, r gocmd.Runner) (*Result, *State, error) {
	goenv, err := envFile(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	statePath := StatePath(goenv)
	state, err := ReadState(statePath)
	if err != nil {
		return nil, nil, err
	}
	if state.GOENV != goenv {
		return nil, nil, i18n.Errorf("state file %s belongs to GOENV %s, not %s", statePath, state.GOENV, goenv)
	}
	var set, unset, keys []string
	for _, k := range sortedKeys(state.Vars) {
		if err := checkName(k); err != nil {
			return nil, nil, i18n.Errorf("state file %s: %v", statePath, err)
		}
		keys = append(keys, k)
		if v := state.Vars[k]; v.InFile {
			set = append(set, k+"="+v.Value)
		} else {
			unset = append(unset, k)
		}
	}
	_, statErr := os.Stat(goenv)
	fileExists := statErr == nil
	if len(set) > 0 {
		if _, err := r.Run(ctx, append([]string{"env", "-w"}, set...)...); err != nil {
			return nil, nil, err
		}
		fileExists = true
	}
	// go env -u needs the file; without it, there is nothing to unset.
	if len(unset) > 0 && fileExists {
		if _, err := r.Run(ctx, append([]string{"env", "-u"}, unset...)...); err != nil {
			return nil, nil, err
		}
	}
	if !state.GOENVExisted {
		if fi, err := os.Stat(goenv); err == nil && fi.Size() == 0 {
			os.Remove(goenv)
		}
	}
	if err := os.Remove(statePath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	res := &Result{GOENV: goenv, StateFile: statePath}
	if len(keys) > 0 {
		if res.Effective, err = gocmd.Env(ctx, r, keys...); err != nil {
			return nil, nil, err
		}
	}
	return res, state, nil
}

func checkName(k string) error {
	if !slices.Contains(Keys, k) {
		return i18n.Errorf("cannot set %q: not one of %s", k, strings.Join(Keys, ", "))
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		return slices.Index(Keys, a) - slices.Index(Keys, b)
	})
	return keys
}

// Shells are the shells Exports knows.
var Shells = []string{"sh", "fish", "powershell"}

// Exports returns the commands that set settings in the environment of
// shell (sh, fish or powershell), one a line, each value quoted so that the
// shell takes it literally.
func Exports(shell string, settings []Setting) (string, error) {
	var b strings.Builder
	for _, s := range settings {
		if err := checkValue(s.Key, s.Value); err != nil {
			return "", err
		}
		switch shell {
		case "sh", "":
			fmt.Fprintf(&b, "export %s=%s\n", s.Key, QuoteSh(s.Value))
		case "fish":
			fmt.Fprintf(&b, "set -gx %s %s\n", s.Key, QuoteFish(s.Value))
		case "powershell", "pwsh":
			fmt.Fprintf(&b, "$env:%s = %s\n", s.Key, QuotePowerShell(s.Value))
		default:
			return "", i18n.Errorf("unknown shell %q: want one of %s", shell, strings.Join(Shells, ", "))
		}
	}
	return b.String(), nil
}

// QuoteSh quotes s for a POSIX shell: in single quotes, where nothing is
// special; a single quote in s ends the quoted part, is written escaped with
// a backslash, and starts a new quoted part.
func QuoteSh(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// QuoteFish quotes s for fish: in single quotes, where only \\ and \' are
// escapes.
func QuoteFish(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// QuotePowerShell quotes s for PowerShell: in single quotes, with each
// single quote doubled. PowerShell also takes the typographic single quotes
// U+2018, U+2019, U+201A and U+201B as quotes, so those are doubled too.
func QuotePowerShell(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch r {
		case '\'', '\u2018', '\u2019', '\u201A', '\u201B':
			b.WriteRune(r)
		}
		b.WriteRune(r)
	}
	b.WriteByte('\'')
	return b.String()
}
