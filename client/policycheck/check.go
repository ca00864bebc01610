// Package policycheck is `gomirror policy check` and `gomirror policy
// explain`: it checks every module version a project uses against a
// dependency policy (package policy), decided by a gomirror server for the
// caller's token (Remote: POST /api/v1/policy/check) or locally from a
// policy file with facts fetched over the GOPROXY protocol (Local), and
// reports each refusal with its rule as text, JSON or SARIF 2.1.0, with an
// exit code for CI (ExitClean, ExitViolation, ExitUnchecked).
//
// The module versions a project uses ([Items]) are those of its build list
// as the go command gives it (`go list -m all`, through client/golist,
// without changing the project's files), each a [Code] item, and every
// module version of its go.sum, a [Code] item for a zip hash line and a
// [GoModOnly] item for a version with only a "/go.mod" line (only its
// go.mod is read: a licenses check, judged on the code, does not apply).
// Each is located at the go.mod require line naming it, else the go.sum
// line, else the go.mod replace line replacing by it, else the go.mod's
// module line, for SARIF. A project used through a
// workspace is resolved without it: the go.work's replacements and
// go.work.sum are checked too, and the report is incomplete.
package policycheck

import (
	"context"
	"fmt"

	"golang.org/x/mod/module"
)

// Query is one module version to decide, and how it is used.
type Query struct {
	Module module.Version
	Kind   Kind
	// ZipSum is the project's go.sum hash of the zip, if it has one: a
	// zip fetched for its licenses must match it.
	ZipSum string
}

// A Decider decides module versions against a policy.
type Decider interface {
	// Decide returns a decision for each query, in the same order. A
	// query that cannot be decided has a decision with Error set; an
	// error means none could be (the policy or the mirror is not
	// available).
	Decide(ctx context.Context, qs []Query) ([]Decision, error)
}

// Run decides every item of p (Items) with d.
func Run(ctx context.Context, p Project, r Resolver, d Decider) (*Report, error) {
	items, incomplete, err := Items(ctx, p, r)
	if err != nil {
		return nil, err
	}
	qs := make([]Query, len(items))
	for i, it := range items {
		qs[i] = Query{it.Module, it.Kind, it.ZipSum}
	}
	ds, err := d.Decide(ctx, qs)
	if err != nil {
		return nil, err
	}
	if len(ds) != len(qs) {
		return nil, fmt.Errorf("%d decisions for %d module versions", len(ds), len(qs))
	}
	return NewReport(items, ds, incomplete), nil
}
