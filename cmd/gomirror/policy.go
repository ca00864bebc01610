package main

import (
	"context"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomirror/gomirror/client/golist"
	"github.com/gomirror/gomirror/client/policycheck"
	"github.com/gomirror/gomirror/i18n"
)

// newPolicy returns `gomirror policy`: check a project, or explain a
// module version, against the dependency policy.
func newPolicy() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Check a project, or explain a module version, against the dependency policy",
	}
	cmd.AddCommand(newPolicyCheck(), newPolicyExplain())
	return cmd
}

// policyFlags are the flags check and explain share.
type policyFlags struct {
	opts      policycheck.Options
	tokenFile string
	json      bool
	timeout   time.Duration
}

func (f *policyFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.opts.Mirror, "mirror", "", "the gomirror server that decides, with its policy for your token (default: the first URL of go env GOPROXY, which is sent no token)")
	fl.StringVar(&f.opts.PolicyFile, "policy", "", "decide here with this policy file instead of asking a mirror")
	fl.StringVar(&f.opts.Proxy, "proxy", "", "module proxy the facts (with --policy) and the build list come from (default: the mirror, or the first URL of go env GOPROXY, which is sent no token)")
	fl.StringVar(&f.opts.VulnDB, "vulndb", "", "with --policy: the vulnerability database's URL (default: the proxy's /vuln)")
	fl.StringVar(&f.tokenFile, "token-file", "", "file holding the token (default: $"+policycheck.TokenEnv+"), sent only to the origin of --mirror, or of --proxy with --policy (and --vulndb if the same)")
	fl.StringVar(&f.opts.TokenName, "token-name", "", "with --policy: decide with the rule set of this token name")
	fl.BoolVar(&f.json, "json", false, "print the result as JSON")
	fl.DurationVar(&f.timeout, "timeout", 10*time.Minute, "time limit for the whole command (0: none)")
}

// usage wraps an argument error: exit status 2, "could not check".
func usage(err error) error {
	if err == nil {
		return nil
	}
	return &exitCodeError{code: policycheck.ExitUnchecked, err: err}
}

// setup reads the token and builds the checker; p prints its warnings
// and notes.
func (f *policyFlags) setup(cmd *cobra.Command, p *i18n.Printer) (context.Context, context.CancelFunc, *policycheck.Checker, error) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	cancel := context.CancelFunc(func() {})
	if f.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, f.timeout)
	}
	tok, err := policycheck.ReadToken(f.tokenFile)
	if err != nil {
		cancel()
		return nil, nil, nil, usage(err)
	}
	f.opts.Token = tok
	f.opts.Client = &http.Client{}
	f.opts.Go = golist.GoCommand{}
	f.opts.Warn = func(t i18n.Text) { p.Fprintf(cmd.ErrOrStderr(), "gomirror: warning: %v\n", t) }
	c, err := policycheck.NewChecker(ctx, f.opts)
	if err != nil {
		cancel()
		return nil, nil, nil, usage(err)
	}
	for _, n := range c.Notes {
		p.Fprintf(cmd.ErrOrStderr(), "gomirror: note: %v\n", n)
	}
	return ctx, cancel, c, nil
}

func newPolicyCheck() *cobra.Command {
	var (
		f     policyFlags
		sarif bool
		root  string
	)
	cmd := &cobra.Command{
		Use:   "check [--mirror URL | --policy FILE] [DIR | go.mod | go.sum]",
		Short: "Check every module version a project uses against the dependency policy (a CI gate)",
		Long: `Check every module version of a project's build list (as go list -m all gives
it, without changing go.mod or go.sum) and every module version in its go.sum
(including versions with only a /go.mod line, whose go.mod alone is read)
against the dependency policy, and print each refusal with its rule and reason.

The policy is the mirror's, decided by the mirror for your token
(--mirror URL, default the first URL of go env GOPROXY; the token comes from
--token-file or $` + policycheck.TokenEnv + `, never from the command line),
or a policy file decided here (--policy FILE), its facts (a version's time,
retractions, licenses from the zip, vulnerabilities) fetched from --proxy
and --vulndb.

The token goes only to a server you name: the origin (scheme, host,
port) of --mirror, or with --policy of --proxy (and --vulndb if it has the
same origin). A URL taken from go env GOPROXY, which may be any proxy, is
never sent the token (a note says so: name your mirror with --mirror), and
a token is never sent over plain http to a host other than loopback (an
error, exit status 2).

A project used through a workspace (go env GOWORK in its directory) is
resolved without it: the go.work's replacements and go.work.sum are checked
too, and the check is incomplete (exit 2 unless a violation is found).

Refusals by rules in mode warn are printed as warnings and do not fail.
--json prints a JSON report, --sarif a SARIF 2.1.0 log for code scanning
(GitHub: upload it with github/codeql-action/upload-sarif), each located at
the go.mod require line or go.sum line naming the module version. What
could not be checked is also printed on standard error, and a check that
could not be done at all still prints a valid JSON report or SARIF log
(its invocation not successful, with the reason).

Exit status: 0 when every module version is allowed, 1 when at least one is
refused by an enforced rule, 2 when the check could not be done or was
incomplete (no violation found, but the policy, the mirror, the build list
or a module version's decision was not available).`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usage(i18n.Errorf("give at most one directory, go.mod or go.sum"))
			}
			if f.json && sarif {
				return usage(i18n.Errorf("give --json or --sarif, not both"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			arg := ""
			if len(args) == 1 {
				arg = args[0]
			}
			out := cmd.OutOrStdout()
			p, err := printer(cmd)
			if err != nil {
				return usage(err)
			}
			write := func(rep *policycheck.Report) error {
				switch {
				case f.json:
					return rep.WriteJSON(out)
				case sarif:
					return rep.WriteSARIF(out, version(), root)
				}
				return rep.WriteText(out, p)
			}
			// fail ends a check that could not be done: with --json or
			// --sarif, a valid document saying so is printed all the same
			// (a CI step uploads it whatever the exit status).
			fail := func(err error) error {
				if f.json || sarif {
					write(policycheck.Failed(err))
				}
				return usage(err)
			}
			proj, err := policycheck.Locate(arg)
			if err != nil {
				return fail(err)
			}
			ctx, cancel, c, err := f.setup(cmd, p)
			if err != nil {
				return fail(err)
			}
			defer cancel()
			defer c.Close()
			switch w := cmd.ErrOrStderr(); {
			case proj.GoMod != "" && proj.GoSum != "":
				p.Fprintf(w, "checking %s and %s against %v\n", proj.GoMod, proj.GoSum, c.Where)
			case proj.GoMod != "":
				p.Fprintf(w, "checking %s against %v\n", proj.GoMod, c.Where)
			default:
				p.Fprintf(w, "checking %s against %v\n", proj.GoSum, c.Where)
			}
			rep, err := policycheck.Run(ctx, proj, c.Resolver, c.Decider)
			if err != nil {
				return fail(err)
			}
			if err := write(rep); err != nil {
				return usage(err)
			}
			if f.json || sarif {
				// The text report has them on standard output already.
				for _, s := range rep.NotCheckedIn(p) {
					p.Fprintf(cmd.ErrOrStderr(), "gomirror: not checked: %s\n", s)
				}
			}
			if code := rep.ExitCode(); code != policycheck.ExitClean {
				return &exitCodeError{code: code}
			}
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVar(&sarif, "sarif", false, "print a SARIF 2.1.0 log (for code scanning)")
	cmd.Flags().StringVar(&root, "sarif-root", ".", "with --sarif: the directory the locations are relative to (the repository's root)")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usage(err) })
	return cmd
}

func newPolicyExplain() *cobra.Command {
	var f policyFlags
	cmd := &cobra.Command{
		Use:   "explain module@version [--mirror URL | --policy FILE]",
		Short: "Say which rule of the dependency policy decides a module version, and why",
		Long: `Say which rule of the dependency policy decides module@version (its code,
as for a .zip) and why: the rule and its place in the policy file, the
reason, and each check of the rule that asked for a fact, with the fact and
its outcome (the checks run in order, and the first that fails decides).

The policy is the mirror's (--mirror URL, default the first URL of go env
GOPROXY, with the token of --token-file or $` + policycheck.TokenEnv + `) or a policy
file's (--policy FILE). The token goes only to the origin of --mirror, or
with --policy of --proxy (and --vulndb if the same), never to a URL taken
from go env GOPROXY, and never over plain http to a host other than
loopback. Exit status: 0 allowed (also with a warning), 1
refused, 2 not decided.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usage(i18n.Errorf("give one module@version"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := printer(cmd)
			if err != nil {
				return usage(err)
			}
			m, err := policycheck.ParseModuleVersion(args[0])
			if err != nil {
				return usage(err)
			}
			f.opts.Explain = true
			ctx, cancel, c, err := f.setup(cmd, p)
			if err != nil {
				return err
			}
			defer cancel()
			defer c.Close()
			d, err := policycheck.Explain(ctx, c.Decider, m)
			if err != nil {
				return usage(err)
			}
			if f.json {
				err = policycheck.WriteExplainJSON(cmd.OutOrStdout(), d)
			} else {
				err = policycheck.WriteExplain(cmd.OutOrStdout(), p, d)
			}
			if err != nil {
				return usage(err)
			}
			if code := policycheck.ExplainExitCode(d); code != policycheck.ExitClean {
				return &exitCodeError{code: code}
			}
			return nil
		},
	}
	f.add(cmd)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usage(err) })
	return cmd
}

// version is gomirror's module version as built ("(devel)" from a work
// tree), for the SARIF tool's version.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return ""
}
