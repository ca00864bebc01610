package policycheck

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"golang.org/x/mod/module"
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

// WriteExplain writes d for people: the verdict and rule, the reason, and
// each check that asked for a fact with what it found and its outcome.
func WriteExplain(w io.Writer, d Decision) error {
	var b strings.Builder
	mv := d.Module + "@" + d.Version
	switch {
	case d.Error != "":
		fmt.Fprintf(&b, "%s: not decided: %s\n", mv, d.Error)
		_, err := io.WriteString(w, b.String())
		return err
	case d.Violation():
		fmt.Fprintf(&b, "%s: refused by %s\n", mv, d.Where())
	case d.Warned():
		fmt.Fprintf(&b, "%s: allowed with a warning: refused by %s in mode warn\n", mv, d.Where())
	default:
		fmt.Fprintf(&b, "%s: allowed by %s\n", mv, d.Where())
	}
	fmt.Fprintf(&b, "  reason: %s\n", d.Reason)
	if len(d.Checks) == 0 {
		b.WriteString("  checks: none that needs a fact ran\n")
	} else {
		b.WriteString("  checks (in order; the first that fails decides):\n")
	}
	for _, c := range d.Checks {
		verdict := "passed"
		if !c.Passed {
			verdict = "failed"
		}
		if c.Outcome == "skipped" {
			verdict = "skipped"
		}
		fmt.Fprintf(&b, "    %s: %s: %s", c.Name, c.Fact, verdict)
		if !c.Passed && c.Outcome != "" {
			fmt.Fprintf(&b, " (%s)", c.Outcome)
		}
		b.WriteString("\n")
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
