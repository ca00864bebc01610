package policy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/Masterminds/semver/v3"
	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/modpattern"
	"golang.org/x/mod/module"
	xsemver "golang.org/x/mod/semver"
)

// Kind is what a decision is for: it says which checks can run.
type Kind uint8

const (
	// KindInfo is a version's .info (or a query resolved to the version).
	KindInfo Kind = iota + 1
	// KindMod is a version's .mod.
	KindMod
	// KindZip is a version's .zip: the only request kind whose decision
	// judges licenses.
	KindZip
	// KindList is a version judged to leave it out of a list or @latest
	// answer: licenses are not judged, and a fact that is not at hand may
	// be answered with ErrUnknown (the check is then skipped).
	KindList
	// KindCheck is a version judged by `gomirror policy check` or
	// `explain`: every check runs.
	KindCheck
)

func (k Kind) String() string {
	switch k {
	case KindInfo:
		return "info"
	case KindMod:
		return "mod"
	case KindZip:
		return "zip"
	case KindList:
		return "list"
	case KindCheck:
		return "check"
	}
	return "unknown"
}

// Subject is who asks.
type Subject struct {
	// Token is the name of the request's token (auth.Identity), "" for
	// none. It selects the rule set.
	Token string
}

// Advisory is a vulnerability advisory affecting a module version.
type Advisory struct {
	ID      string   // GO-YYYY-NNNN
	Aliases []string // CVE-..., GHSA-...
	Summary string
}

// Facts answers what a rule's checks need to know about a module version.
// Decide calls a method only when a matching rule has the check that needs
// it, at most once per decision, and never for a version no rule judges.
// A method may return an error wrapping ErrUnknown when the fact is not at
// hand for this kind of decision (KindList), or cannot be learnt now (the
// gate's retractions while the latest go.mod cannot be fetched): the check
// is then skipped and the decision is not to be cached. Any other error
// fails the decision.
type Facts interface {
	// Time is the version's time, from its .info.
	Time(ctx context.Context, m module.Version) (time.Time, error)
	// Retracted reports whether the module's latest go.mod retracts m,
	// with the retraction's rationale.
	Retracted(ctx context.Context, m module.Version) (rationale string, retracted bool, err error)
	// Licenses are the SPDX identifiers found in m's zip's license files.
	Licenses(ctx context.Context, m module.Version) ([]string, error)
	// Vulns are the advisories affecting m. Without a vulnerability
	// database it returns an error wrapping ErrNoVulnDB.
	Vulns(ctx context.Context, m module.Version) ([]Advisory, error)
}

// ErrUnknown is wrapped by a Facts method's error when the fact is not at
// hand for a KindList decision.
var ErrUnknown = errors.New("fact not known here")

// ErrNoVulnDB is wrapped by Facts.Vulns's error when no vulnerability
// database is available: a deny-vulnerable rule then refuses, with the
// reason "vulnerability database not available" (a 503 instead of a 403
// while the database loads: see RefusedError.Unavailable).
var ErrNoVulnDB = errors.New("vulnerability database not available")

// Decision is the policy's answer for a module version.
type Decision struct {
	Module module.Version
	// Allowed is false when the deciding rule (or the default) refuses the
	// version. Whether it is served then depends on Mode: see Refused and
	// Warned.
	Allowed bool
	// Mode is the deciding rule's mode (for the default, the file's
	// top-level mode).
	Mode Mode
	// Rule names the deciding rule: its name, or "rule N"; "" when no rule
	// matched and the default decided.
	Rule string
	// Set is the rule set's name, "" for the top-level rules.
	Set string
	// File and Line locate the deciding rule (or the default) in the
	// file. File is the file's base name: a decision is shown to clients,
	// who need not learn where the server keeps its files.
	File string
	Line int
	// Reason says why, in words: "denied", "published
	// 2024-01-02T03:04:05Z, min-age is 14 days: refused until ...", "affected by GO-2024-0001", "allowed".
	Reason string
	// ReasonText is Reason as a message for a person (its String is
	// Reason), which a client tool renders in the user's language; JSON,
	// HTTP and the audit log keep Reason.
	ReasonText i18n.Text
	// Until, when not zero, is when the decision stops holding (a min-age
	// refusal ends then); a cache must not keep it longer.
	Until time.Time

	facts    factSet // which facts were asked for
	unknown  bool    // a fact was ErrUnknown or the vuln DB unavailable: do not cache
	noVulnDB bool    // refused for want of the vulnerability database
}

type factSet uint8

const (
	factTime factSet = 1 << iota
	factRetracted
	factLicenses
	factVulns
)

// Refused reports whether the version must not be served: refused by an
// enforced rule or the default.
func (d Decision) Refused() bool { return !d.Allowed && d.Mode == Enforce }

// Warned reports whether the version is served although a rule in warn
// mode refuses it: the decision is to be recorded.
func (d Decision) Warned() bool { return !d.Allowed && d.Mode == Warn }

// Matched reports whether a rule (not the default) decided.
func (d Decision) Matched() bool { return d.Rule != "" }

// Cacheable reports whether the decision may be kept for later requests
// (until Until, if set): false when a fact was not at hand or the
// vulnerability database was not available.
func (d Decision) Cacheable() bool { return !d.unknown }

// AskedRetracted reports whether the decision asked for the retraction
// fact (a cache keeps such a decision no longer than it keeps that fact).
func (d Decision) AskedRetracted() bool { return d.facts&factRetracted != 0 }

// Where is the decision's rule and place: `rule "no-old-yaml"
// (policy.yaml:12)`, `set "strict" rule 3 (policy.yaml:20)`, `the default
// (policy.yaml:1)`.
func (d Decision) Where() string {
	var b strings.Builder
	if d.Set != "" {
		fmt.Fprintf(&b, "set %q ", d.Set)
	}
	switch {
	case d.Rule == "":
		b.WriteString("default")
	case strings.HasPrefix(d.Rule, "rule "):
		b.WriteString(d.Rule)
	default:
		fmt.Fprintf(&b, "rule %q", d.Rule)
	}
	fmt.Fprintf(&b, " (%s:%d)", d.File, d.Line)
	return b.String()
}

// String is the decision as a client reads it in a 403 body, one line:
//
//	gomirror policy: example.com/m@v1.2.3 refused by rule "no-old-yaml" (policy.yaml:12): denied for versions <2.4.0
func (d Decision) String() string {
	return fmt.Sprintf("gomirror policy: %s@%s %s", d.Module.Path, d.Module.Version, d.Summary())
}

// Summary is String without the module version, for a record that has it
// (the audit log):
//
//	refused by rule "no-old-yaml" (policy.yaml:12): denied for versions <2.4.0
//
// A decision that could not be made for want of the vulnerability
// database while it loads (Unavailable) says so:
//
//	not decided by rule "vulns" (policy.yaml:3): it needs the vulnerability database, which is loading; retry
func (d Decision) Summary() string {
	if d.Unavailable() {
		return "not decided by " + d.Where() + ": it needs the vulnerability database, which is loading; retry"
	}
	verb := "allowed by"
	switch {
	case d.Refused():
		verb = "refused by"
	case d.Warned():
		verb = "warned by"
	}
	return verb + " " + d.Where() + ": " + d.Reason
}

// RefusedError is the error of a request the policy refuses: proxy.Status
// answers it with 403 and its text (the Decision's String) as the body,
// which the go command prints.
type RefusedError struct {
	Decision Decision
}

func (e *RefusedError) Error() string { return e.Decision.String() }

// Unavailable reports whether the refusal is only for want of the
// vulnerability database while it loads (Facts.Vulns's error wraps
// ErrNoVulnDB and an error whose Unavailable method reports true, as
// vulndb.ErrNotLoaded): nothing was judged, and a later request may be
// served. (No database at all stays a 403: retrying changes nothing.) proxy.Status answers such a
// refusal 503 with Retry-After instead of 403.
func (e *RefusedError) Unavailable() bool { return e.Decision.Unavailable() }

// Unavailable reports whether the decision refuses only for want of the
// vulnerability database while it loads (see RefusedError.Unavailable).
func (d Decision) Unavailable() bool { return d.noVulnDB && d.Refused() }

// Decide decides whether m (a canonical version) may be served to subj for
// a request of kind k, asking facts only for what the deciding rule's
// checks need. Its error is a fact's error (other than ErrUnknown and
// ErrNoVulnDB) or an invalid version; a decision that refuses is not an
// error (see RefusedError). The nil *Policy allows everything.
func (p *Policy) Decide(ctx context.Context, subj Subject, m module.Version, k Kind, facts Facts) (Decision, error) {
	if p == nil {
		d := Decision{Module: m, Allowed: true}
		d.because(i18n.T("no policy"))
		return d, nil
	}
	if c := xsemver.Canonical(m.Version); c == "" || c != m.Version && c+"+incompatible" != m.Version {
		return Decision{}, fmt.Errorf("policy: %s@%s: not a canonical version", m.Path, m.Version)
	}
	set := p.setFor(subj.Token)
	d := Decision{Module: m, File: p.base, Set: set.name}
	var sv, base *semver.Version
	var buf [32]int
	for _, i := range set.candidates(m.Path, buf[:0]) {
		r := set.rules[i]
		if !r.modules.Match(m.Path) {
			continue
		}
		if r.versions != nil {
			if sv == nil {
				v, err := semver.NewVersion(m.Version)
				if err != nil {
					return Decision{}, fmt.Errorf("policy: %s@%s: %v", m.Path, m.Version, err)
				}
				sv = v
				base = untaggedBase(m.Version)
			}
			if !r.versions.Check(sv) && (base == nil || !r.versions.Check(base)) {
				continue
			}
		}
		d.Rule = r.name
		if d.Rule == "" {
			d.Rule = fmt.Sprintf("rule %d", r.index)
		}
		d.Line = r.line
		d.Mode = r.mode
		err := r.judge(ctx, &d, m, k, facts)
		return d, err
	}
	d.Line = set.defaultLine
	d.Mode = set.defaultMode
	if set.defaultDeny {
		d.because(i18n.T("no rule matches, and the default is deny"))
		return d, nil
	}
	d.Allowed = true
	d.because(i18n.T("no rule matches, and the default is allow"))
	return d, nil
}

// untaggedBase is X.0.0 for a pseudo-version of an untagged major,
// vX.0.0-TS-HASH, else nil. Semver orders such a pseudo-version below
// X.0.0, so that a range starting at X.0.0 ("*", ">=0.0.0", "2.x", "^0")
// would not cover it; Decide matches it as X.0.0 too (and as itself: "<1.0.0"
// covers v1.0.0-TS-HASH).
func untaggedBase(v string) *semver.Version {
	if !module.IsPseudoVersion(v) {
		return nil
	}
	if b, err := module.PseudoVersionBase(v); err != nil || b != "" {
		return nil
	}
	x, err := semver.NewVersion(xsemver.Major(v) + ".0.0")
	if err != nil {
		return nil
	}
	return x
}

// candidates appends to out, in order, the indexes of the rules of s that
// can match path (the index's nodes along the folded path's elements),
// and returns it.
func (s *ruleSet) candidates(path string, out []int) []int {
	n := s.index
	out = append(out, n.rules...)
	rest := modpattern.Fold(path)
	for n.kids != nil && rest != "" {
		var e string
		e, rest, _ = strings.Cut(rest, "/")
		if n = n.kids[e]; n == nil {
			break
		}
		out = append(out, n.rules...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// setFor is the rule set of a token.
func (p *Policy) setFor(token string) *ruleSet {
	if token != "" && len(p.byToken) > 0 {
		if i, ok := p.byToken[token]; ok {
			return p.sets[i]
		}
	}
	return p.top
}

// SetFor returns the name of the rule set that applies to subj ("" for
// the top-level rules).
func (p *Policy) SetFor(subj Subject) string {
	if p == nil {
		return ""
	}
	return p.setFor(subj.Token).name
}

// judge fills d for rule r, which matches m.
func (r *rule) judge(ctx context.Context, d *Decision, m module.Version, k Kind, facts Facts) error {
	if r.deny {
		d.because(i18n.T("denied"))
		if r.verText != "" {
			d.because(i18n.T("denied for versions %s", r.verText))
		}
		return nil
	}
	if r.denyPseudo && module.IsPseudoVersion(m.Version) {
		d.because(i18n.T("pseudo-versions are denied"))
		return nil
	}
	if r.minAgeDays > 0 {
		var t time.Time
		var err error
		if module.IsPseudoVersion(m.Version) {
			// Its own timestamp, part of the version (which the
			// checksum database covers), not the upstream's word.
			t, err = module.PseudoVersionTime(m.Version)
		} else {
			d.facts |= factTime
			t, err = facts.Time(ctx, m)
		}
		switch {
		case errors.Is(err, ErrUnknown):
			d.unknown = true
		case err != nil:
			return fmt.Errorf("policy: time of %s@%s: %w", m.Path, m.Version, err)
		default:
			ripe := t.Add(time.Duration(r.minAgeDays) * 24 * time.Hour)
			if now := time.Now(); now.Before(ripe) {
				// Dates, not an age: the decision is cached until ripe.
				d.because(i18n.T("published %s, min-age is %s days: refused until %s", t.UTC().Format(time.RFC3339), strconv.Itoa(r.minAgeDays), ripe.UTC().Format(time.RFC3339)))
				d.Until = ripe
				return nil
			}
		}
	}
	if r.denyRetracted {
		d.facts |= factRetracted
		why, retracted, err := facts.Retracted(ctx, m)
		switch {
		case errors.Is(err, ErrUnknown):
			d.unknown = true
		case err != nil:
			return fmt.Errorf("policy: retractions of %s: %w", m.Path, err)
		case retracted:
			d.because(i18n.T("retracted"))
			if why != "" {
				d.because(i18n.T("retracted: %s", oneLine(why)))
			}
			return nil
		}
	}
	if r.denyVuln {
		d.facts |= factVulns
		advs, err := facts.Vulns(ctx, m)
		switch {
		case errors.Is(err, ErrNoVulnDB):
			var un interface{ Unavailable() bool }
			d.unknown, d.noVulnDB = true, errors.As(err, &un) && un.Unavailable()
			d.because(i18n.T("vulnerability database not available")) // ErrNoVulnDB's text
			return nil
		case errors.Is(err, ErrUnknown):
			d.unknown = true
		case err != nil:
			return fmt.Errorf("policy: vulnerabilities of %s@%s: %w", m.Path, m.Version, err)
		default:
			var ids []string
			for _, a := range advs {
				if !r.excepted(a) {
					ids = append(ids, a.ID)
				}
			}
			if len(ids) > 0 {
				slices.Sort(ids)
				ids = slices.Compact(ids)
				d.because(i18n.T("affected by %s", idList(ids)))
				return nil
			}
		}
	}
	if r.licenses != nil && (k == KindZip || k == KindCheck) {
		d.facts |= factLicenses
		ids, err := facts.Licenses(ctx, m)
		switch {
		case errors.Is(err, ErrUnknown):
			d.unknown = true
		case err != nil:
			return fmt.Errorf("policy: licenses of %s@%s: %w", m.Path, m.Version, err)
		case len(ids) == 0:
			d.because(i18n.T("no license found; allowed: %s", strings.Join(r.licenseList, ", ")))
			return nil
		default:
			var bad []string
			for _, id := range ids {
				if !r.licenses[id] {
					bad = append(bad, id)
				}
			}
			if len(bad) > 0 {
				d.because(i18n.T("license %s not allowed; allowed: %s", strings.Join(bad, ", "), strings.Join(r.licenseList, ", ")))
				return nil
			}
		}
	}
	d.Allowed = true
	d.because(i18n.T("allowed"))
	return nil
}

// because sets d's reason to t: ReasonText, and Reason its English.
func (d *Decision) because(t i18n.Text) { d.ReasonText, d.Reason = t, t.String() }

func (r *rule) excepted(a Advisory) bool {
	if r.except[a.ID] {
		return true
	}
	for _, al := range a.Aliases {
		if r.except[al] {
			return true
		}
	}
	return false
}

// maxIDs is how many advisory IDs a reason names: the go command prints
// a 403 body's first line only up to 648 bytes ("[Truncated: too long.]").
const maxIDs = 10

// idList is ids, comma-separated, the first maxIDs of them and "and K
// more".
func idList(ids []string) string {
	if len(ids) <= maxIDs {
		return strings.Join(ids, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(ids[:maxIDs], ", "), len(ids)-maxIDs)
}

// oneLine keeps a rationale (from a go.mod, so from the module's author)
// to one short line of graphic text: the go command drops a 403 body
// with a rune that is not graphic (unicode.IsGraphic) whole, so that a
// rationale with U+0085, U+200B or U+202E would hide the reason. Controls
// become spaces; other runes that are not graphic are dropped; it is cut
// at 200 bytes, on a rune boundary.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r < 0x20 || r == 0x7f:
			return ' '
		case r == utf8.RuneError || !unicode.IsGraphic(r):
			return -1
		}
		return r
	}, s)
	if len(s) > 200 {
		cut := 200
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return strings.TrimSpace(s)
}
