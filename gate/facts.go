package gate

import (
	"context"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/policy"
)

// Facts returns the facts the gate's decisions use, for any module
// version, for decisions taken outside the request path (the policy check
// endpoint, api.PolicyOptions.Facts): fetched through the decorated mirror
// as a request's are (a zip for a licenses rule is filled and stored
// first), from the same caches.
func (g *Mirror) Facts() policy.Facts { return anyFacts{g} }

// anyFacts are a Mirror's facts for whatever version they are asked
// about.
type anyFacts struct{ g *Mirror }

var _ policy.Facts = anyFacts{}

func (a anyFacts) of(mv module.Version) (*facts, error) {
	m, err := layout.Escape(mv)
	if err != nil {
		return nil, err
	}
	return &facts{g: a.g, m: m}, nil
}

func (a anyFacts) Time(ctx context.Context, mv module.Version) (time.Time, error) {
	f, err := a.of(mv)
	if err != nil {
		return time.Time{}, err
	}
	return f.Time(ctx, mv)
}

func (a anyFacts) Retracted(ctx context.Context, mv module.Version) (string, bool, error) {
	f, err := a.of(mv)
	if err != nil {
		return "", false, err
	}
	return f.Retracted(ctx, mv)
}

func (a anyFacts) Licenses(ctx context.Context, mv module.Version) ([]string, error) {
	f, err := a.of(mv)
	if err != nil {
		return nil, err
	}
	return f.Licenses(ctx, mv)
}

func (a anyFacts) Vulns(ctx context.Context, mv module.Version) ([]policy.Advisory, error) {
	f, err := a.of(mv)
	if err != nil {
		return nil, err
	}
	return f.Vulns(ctx, mv)
}
