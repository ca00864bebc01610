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
// found and its outcome. The reason, the checks' names, facts and
// outcomes and a decider's error are the policy engine's (or the
// mirror's) data and stay as they are.
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
	p.Fprintf(&b, "  reason: %s\n", d.Reason)
	if len(d.Checks) == 0 {
		p.Fprintf(&b, "  checks: none that needs a fact ran\n")
	} else {
		p.Fprintf(&b, "  checks (in order; the first that fails decides):\n")
	}
	for _, c := range d.Checks {
		outcome := !c.Passed && c.Outcome != ""
		switch {
		case c.Outcome == "skipped" && outcome:
			p.Fprintf(&b, "    %s: %s: skipped (%s)\n", c.Name, c.Fact, c.Outcome)
		case c.Outcome == "skipped":
			p.Fprintf(&b, "    %s: %s: skipped\n", c.Name, c.Fact)
		case c.Passed:
			p.Fprintf(&b, "    %s: %s: passed\n", c.Name, c.Fact)
		case outcome:
			p.Fprintf(&b, "    %s: %s: failed (%s)\n", c.Name, c.Fact, c.Outcome)
		default:
			p.Fprintf(&b, "    %s: %s: failed\n", c.Name, c.Fact)
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
