package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/gomirror/gomirror/modpattern"
	"github.com/google/licensecheck"
	"go.yaml.in/yaml/v3"
)

// MaxFileSize bounds a policy file: a larger one is an error.
const MaxFileSize = 4 << 20

// SyntaxError is an error in a policy file, at a line.
type SyntaxError struct {
	File string // as given to Parse
	Line int    // 1-based; 0 when the error is the file's as a whole
	Msg  string
}

func (e *SyntaxError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// Mode is how a rule's refusal is applied.
type Mode uint8

const (
	// Enforce refuses: the version is not served.
	Enforce Mode = iota
	// Warn serves the version and records the refusal.
	Warn
)

func (m Mode) String() string {
	if m == Warn {
		return "warn"
	}
	return "enforce"
}

// Policy is a parsed, validated policy file. It is immutable and safe for
// concurrent use. The nil *Policy allows everything.
type Policy struct {
	file    string     // as given to Parse
	base    string     // its base name, for decisions
	sets    []*ruleSet // in file order
	top     *ruleSet
	byToken map[string]int // token name → index in sets of its first set
	nrules  int
}

// ruleSet is the top-level rules or one set's.
type ruleSet struct {
	name        string // "" for the top level
	line        int
	tokens      []string
	groups      []string
	rules       []*rule
	defaultDeny bool
	defaultLine int
	// defaultMode is the file's top-level mode: it applies to the
	// default's refusal too (a dry run warns about everything).
	defaultMode Mode
	// index finds the rules whose module patterns can match a path
	// (buildIndex): Decide asks Match only of those.
	index *trieNode
}

// trieNode is a node of a rule set's index: the rules (indexes into
// rules, ascending) with a pattern whose literal leading elements
// (modpattern.List.LiteralPrefixes) end here, and the nodes below by the
// next element.
type trieNode struct {
	rules []int
	kids  map[string]*trieNode
}

// buildIndex indexes s's rules by their patterns' literal prefixes.
func (s *ruleSet) buildIndex() {
	s.index = &trieNode{}
	for i, r := range s.rules {
		for _, prefix := range r.modules.LiteralPrefixes() {
			n := s.index
			for _, e := range prefix {
				if n.kids == nil {
					n.kids = map[string]*trieNode{}
				}
				k := n.kids[e]
				if k == nil {
					k = &trieNode{}
					n.kids[e] = k
				}
				n = k
			}
			if len(n.rules) == 0 || n.rules[len(n.rules)-1] != i {
				n.rules = append(n.rules, i)
			}
		}
	}
}

type rule struct {
	index    int    // 1-based in its list
	name     string // as written, or ""
	line     int
	modules  modpattern.List
	versions *semver.Constraints
	verText  string
	deny     bool
	mode     Mode

	denyPseudo    bool
	denyRetracted bool
	denyVuln      bool
	except        map[string]bool
	minAgeDays    int
	licenses      map[string]bool // nil: not judged
	licenseList   []string
}

// Load reads and parses the policy file at path (see Parse).
func Load(path string) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse parses and validates a policy file; file names it in errors and
// decisions. Its error is a *SyntaxError for anything wrong in data.
func Parse(file string, data []byte) (*Policy, error) {
	if len(data) > MaxFileSize {
		return nil, &SyntaxError{File: file, Msg: fmt.Sprintf("larger than %d bytes", MaxFileSize)}
	}
	p := &parser{file: file}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &SyntaxError{File: file, Msg: "empty policy file"}
		}
		return nil, p.yamlErr(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, p.errAt(&extra, "more than one YAML document")
	} else if !errors.Is(err, io.EOF) {
		return nil, p.yamlErr(err)
	}
	pol, err := p.policy(&doc)
	if err != nil {
		return nil, err
	}
	return pol, nil
}

type parser struct {
	file     string
	licenses map[string]bool // licenseIDs
}

// yamlErr turns the yaml package's "yaml: line N: msg" into a SyntaxError.
func (p *parser) yamlErr(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ": "); ok {
			if l, err := strconv.Atoi(n); err == nil {
				line, msg = l, after
			}
		}
	}
	return &SyntaxError{File: p.file, Line: line, Msg: msg}
}

func (p *parser) errAt(n *yaml.Node, format string, args ...any) error {
	return &SyntaxError{File: p.file, Line: n.Line, Msg: fmt.Sprintf(format, args...)}
}

// fields checks that n is a mapping with only the keys allowed and returns
// its values by key; a repeated key is an error.
func (p *parser) fields(n *yaml.Node, what string, allowed ...string) (map[string]*yaml.Node, error) {
	if n.Kind == yaml.AliasNode {
		return nil, p.errAt(n, "aliases are not supported")
	}
	if n.Kind != yaml.MappingNode {
		return nil, p.errAt(n, "%s must be a mapping", what)
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, p.errAt(k, "%s: keys must be strings", what)
		}
		if !contains(allowed, k.Value) {
			return nil, p.errAt(k, "%s: unknown key %q (known: %s)", what, k.Value, strings.Join(allowed, ", "))
		}
		if _, dup := out[k.Value]; dup {
			return nil, p.errAt(k, "%s: %q given twice", what, k.Value)
		}
		if v.Kind == yaml.AliasNode {
			return nil, p.errAt(v, "aliases are not supported")
		}
		out[k.Value] = v
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (p *parser) str(n *yaml.Node, what string) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", p.errAt(n, "%s must be a string", what)
	}
	return n.Value, nil
}

func (p *parser) boolean(n *yaml.Node, what string) (bool, error) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		return false, p.errAt(n, "%s must be true or false", what)
	}
	var b bool
	if err := n.Decode(&b); err != nil {
		return false, p.errAt(n, "%s must be true or false", what)
	}
	return b, nil
}

// strings reads a sequence of strings, or one string (as a one-element
// list) when one is allowed.
// advisoryID is the form of the IDs and aliases of the Go vulnerability
// database's advisories.
var advisoryID = regexp.MustCompile(`^(GO-[0-9]{4}-[0-9]{4,}|CVE-[0-9]{4}-[0-9]{4,}|GHSA(-[0-9a-z]{4}){3})$`)

// licenseIDs are the license IDs that modinfo (licensecheck) can report,
// built at the first licenses list of the file.
func (p *parser) licenseIDs() map[string]bool {
	if p.licenses == nil {
		p.licenses = map[string]bool{}
		for _, l := range licensecheck.BuiltinLicenses() {
			p.licenses[l.ID] = true
		}
	}
	return p.licenses
}

func (p *parser) strs(n *yaml.Node, what string) ([]string, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, p.errAt(n, "%s must be a list", what)
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		s, err := p.str(c, what+" entry")
		if err != nil {
			return nil, err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			return nil, p.errAt(c, "%s: empty entry", what)
		}
		out = append(out, s)
	}
	return out, nil
}

func (p *parser) policy(doc *yaml.Node) (*Policy, error) {
	root := doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, &SyntaxError{File: p.file, Msg: "empty policy file"}
		}
		root = root.Content[0]
	}
	f, err := p.fields(root, "policy", "default", "mode", "groups", "sets", "rules")
	if err != nil {
		return nil, err
	}
	pol := &Policy{file: p.file, base: filepath.Base(p.file), byToken: map[string]int{}}
	top := &ruleSet{line: root.Line, defaultLine: root.Line}
	mode := Enforce
	if n := f["mode"]; n != nil {
		if mode, err = p.mode(n); err != nil {
			return nil, err
		}
	}
	if n := f["default"]; n != nil {
		if top.defaultDeny, err = p.action(n, "default"); err != nil {
			return nil, err
		}
		top.defaultLine = n.Line
	}
	top.defaultMode = mode
	groups := map[string][]string{}
	if n := f["groups"]; n != nil {
		if n.Kind != yaml.MappingNode {
			return nil, p.errAt(n, "groups must be a mapping of group name to token names")
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			name, err := p.str(k, "group name")
			if err != nil {
				return nil, err
			}
			if _, dup := groups[name]; dup {
				return nil, p.errAt(k, "group %q given twice", name)
			}
			toks, err := p.strs(v, "group "+strconv.Quote(name))
			if err != nil {
				return nil, err
			}
			groups[name] = toks
		}
	}
	if n := f["rules"]; n != nil {
		if top.rules, err = p.rules(n, mode); err != nil {
			return nil, err
		}
	}
	pol.top = top
	if n := f["sets"]; n != nil {
		if n.Kind != yaml.SequenceNode {
			return nil, p.errAt(n, "sets must be a list")
		}
		names := map[string]bool{}
		for _, sn := range n.Content {
			s, err := p.set(sn, mode, top, groups)
			if err != nil {
				return nil, err
			}
			if names[s.name] {
				return nil, p.errAt(sn, "set %q given twice", s.name)
			}
			names[s.name] = true
			idx := len(pol.sets)
			pol.sets = append(pol.sets, s)
			for _, t := range s.tokens {
				if _, ok := pol.byToken[t]; !ok {
					pol.byToken[t] = idx
				}
			}
			for _, g := range s.groups {
				for _, t := range groups[g] {
					if _, ok := pol.byToken[t]; !ok {
						pol.byToken[t] = idx
					}
				}
			}
		}
	}
	pol.nrules = len(top.rules)
	top.buildIndex()
	for _, s := range pol.sets {
		pol.nrules += len(s.rules)
		s.buildIndex()
	}
	return pol, nil
}

func (p *parser) mode(n *yaml.Node) (Mode, error) {
	s, err := p.str(n, "mode")
	if err != nil {
		return 0, err
	}
	switch s {
	case "enforce":
		return Enforce, nil
	case "warn":
		return Warn, nil
	}
	return 0, p.errAt(n, "mode must be enforce or warn, not %q", s)
}

// action reads allow/deny; it reports whether it is deny.
func (p *parser) action(n *yaml.Node, what string) (bool, error) {
	s, err := p.str(n, what)
	if err != nil {
		return false, err
	}
	switch s {
	case "allow":
		return false, nil
	case "deny":
		return true, nil
	}
	return false, p.errAt(n, "%s must be allow or deny, not %q", what, s)
}

func (p *parser) set(n *yaml.Node, mode Mode, top *ruleSet, groups map[string][]string) (*ruleSet, error) {
	f, err := p.fields(n, "set", "name", "tokens", "groups", "default", "rules")
	if err != nil {
		return nil, err
	}
	s := &ruleSet{line: n.Line, defaultDeny: top.defaultDeny, defaultLine: top.defaultLine, defaultMode: mode}
	nn := f["name"]
	if nn == nil {
		return nil, p.errAt(n, "set needs a name")
	}
	if s.name, err = p.str(nn, "set name"); err != nil {
		return nil, err
	}
	if strings.TrimSpace(s.name) == "" {
		return nil, p.errAt(nn, "set needs a name")
	}
	if tn := f["tokens"]; tn != nil {
		if s.tokens, err = p.strs(tn, "tokens"); err != nil {
			return nil, err
		}
	}
	if gn := f["groups"]; gn != nil {
		if s.groups, err = p.strs(gn, "groups"); err != nil {
			return nil, err
		}
		for i, g := range s.groups {
			if _, ok := groups[g]; !ok {
				return nil, p.errAt(gn.Content[i], "set %q: no group %q in groups", s.name, g)
			}
		}
	}
	if len(s.tokens) == 0 && len(s.groups) == 0 {
		return nil, p.errAt(n, "set %q applies to nobody: give tokens or groups", s.name)
	}
	if dn := f["default"]; dn != nil {
		if s.defaultDeny, err = p.action(dn, "default"); err != nil {
			return nil, err
		}
		s.defaultLine = dn.Line
	}
	if rn := f["rules"]; rn != nil {
		if s.rules, err = p.rules(rn, mode); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (p *parser) rules(n *yaml.Node, mode Mode) ([]*rule, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, p.errAt(n, "rules must be a list")
	}
	out := make([]*rule, 0, len(n.Content))
	for i, rn := range n.Content {
		r, err := p.rule(rn, i+1, mode)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

var ruleKeys = []string{"name", "module", "versions", "action", "mode", "deny-vulnerable", "deny-retracted", "deny-pseudo-versions", "min-age", "licenses"}

func (p *parser) rule(n *yaml.Node, index int, mode Mode) (*rule, error) {
	f, err := p.fields(n, "rule", ruleKeys...)
	if err != nil {
		return nil, err
	}
	r := &rule{index: index, line: n.Line, mode: mode}
	if nn := f["name"]; nn != nil {
		if r.name, err = p.str(nn, "name"); err != nil {
			return nil, err
		}
	}
	mn := f["module"]
	if mn == nil {
		return nil, p.errAt(n, "rule needs a module pattern (module: \"*\" for every module)")
	}
	var pats string
	if mn.Kind == yaml.SequenceNode {
		list, err := p.strs(mn, "module")
		if err != nil {
			return nil, err
		}
		pats = strings.Join(list, ",")
	} else if pats, err = p.str(mn, "module"); err != nil {
		return nil, err
	}
	if r.modules, err = modpattern.Parse(pats); err != nil {
		return nil, p.errAt(mn, "module: %v", err)
	}
	if r.modules.Empty() {
		return nil, p.errAt(mn, "module: no pattern")
	}
	if vn := f["versions"]; vn != nil {
		if r.verText, err = p.str(vn, "versions"); err != nil {
			return nil, err
		}
		c, err := semver.NewConstraint(r.verText)
		if err != nil {
			return nil, p.errAt(vn, "versions %q: %v", r.verText, err)
		}
		c.IncludePrerelease = true
		r.versions = c
	}
	if an := f["action"]; an != nil {
		if r.deny, err = p.action(an, "action"); err != nil {
			return nil, err
		}
	}
	if mn := f["mode"]; mn != nil {
		if r.mode, err = p.mode(mn); err != nil {
			return nil, err
		}
	}
	if vn := f["deny-vulnerable"]; vn != nil {
		if vn.Kind == yaml.MappingNode {
			vf, err := p.fields(vn, "deny-vulnerable", "except")
			if err != nil {
				return nil, err
			}
			r.denyVuln = true
			if en := vf["except"]; en != nil {
				ids, err := p.strs(en, "except")
				if err != nil {
					return nil, err
				}
				r.except = make(map[string]bool, len(ids))
				for i, id := range ids {
					if !advisoryID.MatchString(id) {
						return nil, p.errAt(en.Content[i], "except: %q is not an advisory ID (GO-YYYY-NNNN, CVE-YYYY-NNNN, GHSA-xxxx-xxxx-xxxx)", id)
					}
					r.except[id] = true
				}
			}
		} else if r.denyVuln, err = p.boolean(vn, "deny-vulnerable"); err != nil {
			return nil, p.errAt(vn, "deny-vulnerable must be true, false, or a mapping with except")
		}
	}
	if rn := f["deny-retracted"]; rn != nil {
		if r.denyRetracted, err = p.boolean(rn, "deny-retracted"); err != nil {
			return nil, err
		}
	}
	if pn := f["deny-pseudo-versions"]; pn != nil {
		if r.denyPseudo, err = p.boolean(pn, "deny-pseudo-versions"); err != nil {
			return nil, err
		}
	}
	if an := f["min-age"]; an != nil {
		d, err := strconv.Atoi(an.Value)
		if an.Kind != yaml.ScalarNode || an.Tag != "!!int" || err != nil || d < 0 || d > 36500 {
			return nil, p.errAt(an, "min-age must be a whole number of days (0 to 36500)")
		}
		r.minAgeDays = d
	}
	if ln := f["licenses"]; ln != nil {
		ids, err := p.strs(ln, "licenses")
		if err != nil {
			return nil, err
		}
		if len(ids) == 0 {
			return nil, p.errAt(ln, "licenses: an empty allow-list refuses every zip; use action: deny")
		}
		r.licenses = make(map[string]bool, len(ids))
		known := p.licenseIDs()
		for i, id := range ids {
			if !known[id] {
				for k := range known {
					if strings.EqualFold(k, id) {
						return nil, p.errAt(ln.Content[i], "licenses: %q is not a license ID that gomirror detects; did you mean %q?", id, k)
					}
				}
				return nil, p.errAt(ln.Content[i], "licenses: %q is not a license ID that gomirror detects (SPDX identifiers, as github.com/google/licensecheck reports them: MIT, Apache-2.0, BSD-3-Clause, ...)", id)
			}
			r.licenses[id] = true
		}
		r.licenseList = ids
	}
	if r.deny && (r.denyVuln || r.denyRetracted || r.denyPseudo || r.minAgeDays > 0 || r.licenses != nil) {
		return nil, p.errAt(n, "a deny rule refuses everything it matches: its checks (deny-*, min-age, licenses) would never run")
	}
	return r, nil
}

// PerClient reports whether the policy's decisions can differ between
// clients: it has sets (a token in a set gets other rules than a request
// without one). Answers decided by such a policy must not be kept by a
// shared cache.
func (p *Policy) PerClient() bool {
	return p != nil && len(p.sets) > 0
}

// SetTokens returns the token names that the policy's sets name, directly
// or through groups, sorted: a server checks them against its tokens.
func (p *Policy) SetTokens() []string {
	if p == nil {
		return nil
	}
	names := make([]string, 0, len(p.byToken))
	for t := range p.byToken {
		names = append(names, t)
	}
	slices.Sort(names)
	return names
}

// Rules returns how many rules the policy has, in all its sets.
func (p *Policy) Rules() int {
	if p == nil {
		return 0
	}
	return p.nrules
}

// File returns the file name the policy was parsed with.
func (p *Policy) File() string {
	if p == nil {
		return ""
	}
	return p.file
}

// Needs reports which facts the policy's rules can ask for, so that a
// server can warn about a fact it cannot provide (a deny-vulnerable rule
// without a vulnerability database).
func (p *Policy) Needs() Needs {
	var n Needs
	if p == nil {
		return n
	}
	for _, s := range append([]*ruleSet{p.top}, p.sets...) {
		for _, r := range s.rules {
			n.Time = n.Time || r.minAgeDays > 0
			n.Retracted = n.Retracted || r.denyRetracted
			n.Vulns = n.Vulns || r.denyVuln
			n.Licenses = n.Licenses || r.licenses != nil
		}
	}
	return n
}

// Needs says which facts a policy can ask for.
type Needs struct {
	Time, Retracted, Vulns, Licenses bool
}
