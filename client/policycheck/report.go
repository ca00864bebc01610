package policycheck

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gomirror/gomirror/api"
	"github.com/gomirror/gomirror/i18n"
)

// Exit codes of `gomirror policy check` and `gomirror policy explain`.
const (
	// ExitClean: every module version was decided and none is refused
	// (warnings may have been printed).
	ExitClean = 0
	// ExitViolation: at least one module version is refused by an
	// enforced rule (whatever else could not be checked).
	ExitViolation = 1
	// ExitUnchecked: no violation was found, but something could not be
	// checked (the build list, a module version's decision, the policy or
	// the mirror), so the project is not known to be clean.
	ExitUnchecked = 2
)

// Decision is the policy's decision on one module version, local or the
// mirror's: the JSON the mirror's API answers.
type Decision = api.PolicyDecision

// Finding is a refusal (enforced or warned) or a failure to decide, and
// where the project names the module version.
type Finding struct {
	Decision
	Kind      Kind     `json:"kind"` // "zip": the code is used; "mod": only the go.mod is read
	BuildList bool     `json:"buildList"`
	GoSum     bool     `json:"goSum"`
	At        Location `json:"location"`
}

// Report is the result of a check.
type Report struct {
	Checked    int         `json:"checked"`    // module versions checked
	Violations []Finding   `json:"violations"` // enforced refusals
	Warnings   []Finding   `json:"warnings"`   // warned refusals
	Unchecked  []Finding   `json:"unchecked"`  // no decision: Error says why
	Incomplete []i18n.Text `json:"incomplete"` // what else could not be checked (in JSON, English strings)
}

// NewReport sorts the decisions ds of items (same order, same length)
// into a report.
func NewReport(items []Item, ds []Decision, incomplete []i18n.Text) *Report {
	r := &Report{Checked: len(items), Violations: []Finding{}, Warnings: []Finding{}, Unchecked: []Finding{}, Incomplete: incomplete}
	if r.Incomplete == nil {
		r.Incomplete = []i18n.Text{}
	}
	for i, it := range items {
		d := ds[i]
		d.Module, d.Version = it.Module.Path, it.Module.Version
		f := Finding{Decision: d, Kind: it.Kind, BuildList: it.BuildList, GoSum: it.GoSum, At: it.At}
		switch {
		case d.Error != "":
			r.Unchecked = append(r.Unchecked, f)
		case d.Violation():
			r.Violations = append(r.Violations, f)
		case d.Warned():
			r.Warnings = append(r.Warnings, f)
		}
	}
	return r
}

// Failed is the report of a check that could not be done at all: nothing
// checked, err the one thing incomplete (exit status ExitUnchecked), so
// that --json and --sarif still print a valid document saying why.
func Failed(err error) *Report {
	return NewReport(nil, nil, []i18n.Text{errorText(err)})
}

// errorText is err as a Text: English as err.Error() is, and in a
// printer's language as the printer renders the error (an *i18n.Error
// translated). Its key "%v" is a format, not a message, so it needs no
// entry in the catalogue.
func errorText(err error) i18n.Text { return i18n.Text{Key: "%v", Args: []any{err}} }

// NotChecked is a line for each module version not decided and each other
// thing not checked ("module@version: why", then the incomplete reasons),
// in English (the SARIF log's notifications).
func (r *Report) NotChecked() []string { return r.NotCheckedIn(i18n.English()) }

// NotCheckedIn is NotChecked in p's language, for people: `policy check`
// prints them on standard error whatever the output format. A decision's
// error is the decider's text (the mirror's, or the policy engine's), in
// English.
func (r *Report) NotCheckedIn(p *i18n.Printer) []string {
	var out []string
	for _, f := range r.Unchecked {
		out = append(out, p.Sprintf("%s@%s: %s", f.Module, f.Version, f.Error))
	}
	for _, t := range r.Incomplete {
		out = append(out, p.Text(t))
	}
	return out
}

// ExitCode is the exit code for r: ExitViolation, ExitUnchecked or
// ExitClean, in that order of precedence.
func (r *Report) ExitCode() int {
	switch {
	case len(r.Violations) > 0:
		return ExitViolation
	case len(r.Unchecked) > 0 || len(r.Incomplete) > 0:
		return ExitUnchecked
	}
	return ExitClean
}

// WriteText writes r for people, in p's language: one line per
// violation, warning and unchecked module version, "file:line:
// module@version: ...", then a summary line. A reason decided here
// (--policy) is in p's language (ReasonText); a mirror's reasons and the
// deciders' errors are English text and stay as they are.
func (r *Report) WriteText(w io.Writer, p *i18n.Printer) error {
	var b strings.Builder
	loc := func(f Finding) string {
		if f.At.File == "" {
			return ""
		}
		return fmt.Sprintf("%s:%d: ", f.At.File, f.At.Line)
	}
	for _, f := range r.Violations {
		p.Fprintf(&b, "%s%s@%s: refused by %v: %v\n", loc(f), f.Module, f.Version, WhereText(f.Decision), reasonText(f.Decision))
	}
	for _, f := range r.Warnings {
		p.Fprintf(&b, "%swarning: %s@%s: refused by %v (mode warn): %v\n", loc(f), f.Module, f.Version, WhereText(f.Decision), reasonText(f.Decision))
	}
	for _, f := range r.Unchecked {
		p.Fprintf(&b, "%snot checked: %s@%s: %s\n", loc(f), f.Module, f.Version, f.Error)
	}
	for _, t := range r.Incomplete {
		p.Fprintf(&b, "not checked: %v\n", t)
	}
	p.Fprintf(&b, "%v checked: %v, %v, %s not checked\n",
		count(r.Checked, i18n.T("%s module version", num(r.Checked)), i18n.T("%s module versions", num(r.Checked))),
		count(len(r.Violations), i18n.T("%s violation", num(len(r.Violations))), i18n.T("%s violations", num(len(r.Violations)))),
		count(len(r.Warnings), i18n.T("%s warning", num(len(r.Warnings))), i18n.T("%s warnings", num(len(r.Warnings)))),
		num(len(r.Unchecked)+len(r.Incomplete)))
	_, err := io.WriteString(w, b.String())
	return err
}

// reasonText is d's reason as a Text: ReasonText when the policy was
// decided in this process, else the English Reason (a mirror's) as it is.
func reasonText(d Decision) i18n.Text { return orData(d.ReasonText, d.Reason) }

// orData is t, or when t is zero s as data: a string rendered as it is
// (key "%s"), which needs no entry in the catalogue.
func orData(t i18n.Text, s string) i18n.Text {
	if t.IsZero() {
		return i18n.Text{Key: "%s", Args: []any{s}}
	}
	return t
}

// count is one if n is 1, else many.
func count(n int, one, many i18n.Text) i18n.Text {
	if n == 1 {
		return one
	}
	return many
}

// num is n in decimal digits, as fmt's %d prints it (a Printer's %d would
// group the digits: 1,234).
func num(n int) string { return strconv.Itoa(n) }

// WhereText is d.Where() (the deciding rule and its place) as a Text:
// `rule "no-old-yaml" (policy.yaml:12)`, `set "strict" rule 3
// (policy.yaml:20)`, `default (policy.yaml:1)` in English.
func WhereText(d Decision) i18n.Text {
	var t i18n.Text
	switch {
	case d.Rule == "" || d.Rule == "default":
		t = i18n.T("default")
	case strings.HasPrefix(d.Rule, "rule "):
		t = i18n.T("rule %s", strings.TrimPrefix(d.Rule, "rule "))
	default:
		t = i18n.T("rule %q", d.Rule)
	}
	if d.Set != "" {
		t = i18n.T("set %q %v", d.Set, t)
	}
	if d.File != "" {
		t = i18n.T("%v (%s:%s)", t, d.File, num(d.Line))
	}
	return t
}

// WriteJSON writes r as indented JSON, with "exitCode".
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		*Report
		ExitCode int `json:"exitCode"`
	}{r, r.ExitCode()})
}

// SARIF 2.1.0, the subset GitHub code scanning reads.
type (
	sarifLog struct {
		Schema  string     `json:"$schema"`
		Version string     `json:"version"`
		Runs    []sarifRun `json:"runs"`
	}
	sarifRun struct {
		Tool        sarifTool         `json:"tool"`
		Invocations []sarifInvocation `json:"invocations"`
		Results     []sarifResult     `json:"results"`
	}
	// sarifInvocation says whether the check was complete: a check that
	// was not (exit status 2) did not succeed, and its notifications say
	// what was not checked.
	sarifInvocation struct {
		ExecutionSuccessful        bool                `json:"executionSuccessful"`
		ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications"`
	}
	sarifNotification struct {
		Level   string       `json:"level"`
		Message sarifMessage `json:"message"`
	}
	sarifTool struct {
		Driver sarifDriver `json:"driver"`
	}
	sarifDriver struct {
		Name           string      `json:"name"`
		InformationURI string      `json:"informationUri,omitempty"`
		Version        string      `json:"version,omitempty"`
		Rules          []sarifRule `json:"rules"`
	}
	sarifRule struct {
		ID                   string       `json:"id"`
		Name                 string       `json:"name,omitempty"`
		ShortDescription     sarifMessage `json:"shortDescription"`
		FullDescription      sarifMessage `json:"fullDescription"`
		DefaultConfiguration struct {
			Level string `json:"level"`
		} `json:"defaultConfiguration"`
	}
	sarifMessage struct {
		Text string `json:"text"`
	}
	sarifResult struct {
		RuleID              string            `json:"ruleId"`
		RuleIndex           int               `json:"ruleIndex"`
		Level               string            `json:"level"`
		Message             sarifMessage      `json:"message"`
		Locations           []sarifLocation   `json:"locations"`
		PartialFingerprints map[string]string `json:"partialFingerprints"`
	}
	sarifLocation struct {
		PhysicalLocation struct {
			ArtifactLocation struct {
				URI string `json:"uri"`
				// URIBaseID is %SRCROOT% for a relative URI: the
				// repository's root, as code scanning resolves it.
				URIBaseID string `json:"uriBaseId,omitempty"`
			} `json:"artifactLocation"`
			Region struct {
				StartLine int `json:"startLine"`
			} `json:"region"`
		} `json:"physicalLocation"`
	}
)

// sarifRuleID is a SARIF rule id for the policy rule of d: stable across
// runs while the rule keeps its name (or, unnamed, its place: "rule N"
// changes when rules are inserted before it, so name the rules whose
// alerts should survive edits), its set's name before it. Names are
// path-escaped (url.PathEscape: a space is %20, a slash %2F), so
// different names are different ids ("no old yaml" is not "no-old-yaml",
// an unnamed "rule 2" not a rule named "rule-2").
func sarifRuleID(d Decision) string {
	if d.Error != "" {
		return "gomirror-policy/not-checked"
	}
	id := url.PathEscape(d.Rule)
	if id == "" {
		id = "default"
	}
	if d.Set != "" {
		id = url.PathEscape(d.Set) + "/" + id
	}
	return "gomirror-policy/" + id
}

// WriteSARIF writes r as a SARIF 2.1.0 log for code scanning (GitHub's
// upload-sarif): a rule per policy rule that refused something, a result
// per violation (level error), warning (level warning) and unchecked module
// version (level warning), each located at the go.mod require line or
// go.sum line that names it. uriBase, if not empty, is the directory the
// locations' URIs are made relative to (the repository's root); else they
// are as the project's paths were given, with forward slashes.
func (r *Report) WriteSARIF(w io.Writer, version, uriBase string) error {
	driver := sarifDriver{Name: "gomirror policy check", InformationURI: "https://github.com/gomirror/gomirror", Version: version, Rules: []sarifRule{}}
	index := map[string]int{}
	run := sarifRun{Results: []sarifResult{}}
	add := func(f Finding, level string) {
		id := sarifRuleID(f.Decision)
		i, ok := index[id]
		if !ok {
			rule := sarifRule{ID: id, Name: f.Rule}
			switch {
			case f.Error != "":
				rule.Name = "not-checked"
				rule.ShortDescription.Text = "A module version could not be checked against the policy"
			default:
				rule.ShortDescription.Text = "Dependency policy: " + f.Where()
			}
			rule.FullDescription.Text = rule.ShortDescription.Text
			rule.DefaultConfiguration.Level = level
			i = len(driver.Rules)
			index[id] = i
			driver.Rules = append(driver.Rules, rule)
		}
		var msg string
		if f.Error != "" {
			msg = fmt.Sprintf("%s@%s could not be checked: %s", f.Module, f.Version, f.Error)
		} else {
			msg = fmt.Sprintf("%s@%s is refused by the dependency policy's %s: %s", f.Module, f.Version, f.Where(), f.Reason)
			if level == "warning" {
				msg += " (mode warn)"
			}
		}
		res := sarifResult{RuleID: id, RuleIndex: i, Level: level, Message: sarifMessage{msg},
			PartialFingerprints: map[string]string{"moduleVersion": f.Module + "@" + f.Version}}
		var loc sarifLocation
		loc.PhysicalLocation.ArtifactLocation.URI = sarifURI(f.At.File, uriBase)
		if !strings.HasPrefix(loc.PhysicalLocation.ArtifactLocation.URI, "file:") {
			loc.PhysicalLocation.ArtifactLocation.URIBaseID = "%SRCROOT%"
		}
		loc.PhysicalLocation.Region.StartLine = max(f.At.Line, 1)
		res.Locations = []sarifLocation{loc}
		run.Results = append(run.Results, res)
	}
	for _, f := range r.Violations {
		add(f, "error")
	}
	for _, f := range r.Warnings {
		add(f, "warning")
	}
	for _, f := range r.Unchecked {
		add(f, "warning")
	}
	inv := sarifInvocation{ExecutionSuccessful: len(r.Unchecked) == 0 && len(r.Incomplete) == 0, ToolExecutionNotifications: []sarifNotification{}}
	for _, s := range r.NotChecked() {
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{Level: "error", Message: sarifMessage{s}})
	}
	run.Invocations = []sarifInvocation{inv}
	run.Tool.Driver = driver
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}})
}

// sarifURI is file's URI reference relative to base (if not empty and
// file is under it), with forward slashes; a file elsewhere is an absolute
// file: URI.
func sarifURI(file, base string) string {
	if file == "" {
		file = "go.mod"
	}
	if base != "" {
		if abs, err := filepath.Abs(file); err == nil {
			if absBase, err := filepath.Abs(base); err == nil {
				rel, err := filepath.Rel(absBase, abs)
				if err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
					return filepath.ToSlash(rel)
				}
				return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
			}
		}
	}
	if filepath.IsAbs(file) {
		return (&url.URL{Scheme: "file", Path: filepath.ToSlash(file)}).String()
	}
	return filepath.ToSlash(filepath.Clean(file))
}
