package policycheck

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/i18n"
)

// Explain decides m (its code: Kind Code) with d, which should record the
// checks (Local.Explain, Remote.Explain).
func Explain(ctx context.Context, d Decider, m module.Version) (Decision, error) {
	ds, err := d.Decide(ctx, []Query{{Module: m, Kind: Code}})
	if err != nil {
		return Decision{}, err
	}
	if len(ds) != 1 {
		return Decision{}, fmt.Errorf("%d decisions for one module version", len(ds))
	}
	return ds[0], nil
}

// ExplainExitCode is the exit code of explain's decision: ExitViolation
// for an enforced refusal, ExitUnchecked when there is no decision, else
// ExitClean.
func ExplainExitCode(d Decision) int {
	switch {
	case d.Error != "":
		return ExitUnchecked
	case d.Violation():
		return ExitViolation
	}
	return ExitClean
}

// WriteExplain writes d for people, in p's language: the verdict and
// rule, the reason, and each check that asked for a fact with what it
// found and its outcome. The reason and the checks' facts and outcomes
// decided here (--policy) are in p's language; a mirror's are English text
// and stay as they are, as do the checks' names (the policy file's keys)
// and a decider's error.
func WriteExplain(w io.Writer, p *i18n.Printer, d Decision) error {
	var b strings.Builder
	mv := d.Module + "@" + d.Version
	where := WhereText(d)
	switch {
	case d.Error != "":
		p.Fprintf(&b, "%s: not decided: %s\n", mv, d.Error)
		_, err := io.WriteString(w, b.String())
		return err
	case d.Violation():
		p.Fprintf(&b, "%s: refused by %v\n", mv, where)
	case d.Warned():
		p.Fprintf(&b, "%s: allowed with a warning: refused by %v in mode warn\n", mv, where)
	default:
		p.Fprintf(&b, "%s: allowed by %v\n", mv, where)
	}
	p.Fprintf(&b, "  reason: %v\n", reasonText(d))
	if len(d.Checks) == 0 {
		p.Fprintf(&b, "  checks: none that needs a fact ran\n")
	} else {
		p.Fprintf(&b, "  checks (in order; the first that fails decides):\n")
	}
	for _, c := range d.Checks {
		fact, why := orData(c.FactText, c.Fact), orData(c.OutcomeText, c.Outcome)
		outcome := !c.Passed && c.Outcome != ""
		switch {
		case c.Outcome == "skipped" && outcome:
			p.Fprintf(&b, "    %s: %v: skipped (%v)\n", c.Name, fact, why)
		case c.Outcome == "skipped":
			p.Fprintf(&b, "    %s: %v: skipped\n", c.Name, fact)
		case c.Passed:
			p.Fprintf(&b, "    %s: %v: passed\n", c.Name, fact)
		case outcome:
			p.Fprintf(&b, "    %s: %v: failed (%v)\n", c.Name, fact, why)
		default:
			p.Fprintf(&b, "    %s: %v: failed\n", c.Name, fact)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteExplainJSON writes d as indented JSON, with "exitCode".
func WriteExplainJSON(w io.Writer, d Decision) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Decision
		ExitCode int `json:"exitCode"`
	}{d, ExplainExitCode(d)})
}
