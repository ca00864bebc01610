package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomirror/gomirror/client/mirrorbench"
	"github.com/gomirror/gomirror/client/mirrors"
	"github.com/gomirror/gomirror/client/setup"
	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/internal/gocmd"
	"github.com/gomirror/gomirror/internal/redact"
	"github.com/gomirror/gomirror/internal/tty"
)

// fastestTimeout is --timeout's default for --fastest: the limit of one
// request to one mirror.
const fastestTimeout = 5 * time.Second

// checkTimeout is --timeout's default for the check of a URL.
const checkTimeout = 10 * time.Second

// newSetup returns `gomirror setup`: point the go command at a mirror, or
// at the fastest of the catalogue, switch profiles, print the settings for
// CI, or undo.
func newSetup() *cobra.Command { return newSetupWith(tty.IsTerminal) }

// newSetupWith is newSetup asking isTerminal whether its standard input
// is a terminal to ask --fastest's question on (tests give their own).
func newSetupWith(isTerminal func(any) bool) *cobra.Command {
	var (
		sumdb, private, nosumdb, noproxy string
		probe, shell                     string
		undo, print, noCheck             bool
		timeout                          time.Duration
		fastest, yes, list               bool
		profile, catFile                 string
		modules                          []string
		samples                          int
	)
	var defaults []string
	for _, m := range mirrorbench.DefaultModules {
		defaults = append(defaults, m.String())
	}
	cmd := &cobra.Command{
		Use: `setup [--sumdb DB] [--private PATTERNS] [--nosumdb PATTERNS] [--noproxy PATTERNS] URL
  gomirror setup --fastest [--yes] [--catalogue FILE]
  gomirror setup --profile NAME [URL [--sumdb ... --private ... --nosumdb ... --noproxy ...]]
  gomirror setup --list
  gomirror setup --print [--shell sh|fish|powershell] URL
  gomirror setup --undo`,
		Short: "Point the go command at a mirror (go env -w GOPROXY=URL), the fastest public one, or a saved profile; or undo that",
		Long: `Point the go command at the mirror at URL: check that URL answers the module
proxy protocol, save the current settings, then run

	go env -w GOPROXY=URL [GOSUMDB=... GOPRIVATE=... GONOSUMDB=... GONOPROXY=...]

(the other variables only when their flag is given). The go command writes
them to the file GOENV names (see go env GOENV); the settings from before the
first setup are saved next to it, in ` + setup.StateFileName + `, until
'gomirror setup --undo' puts them back: variables the GOENV file set get their
old values, the others are removed from it. Running setup again (any form)
before undo keeps the original saved settings.

The check is GET URL/<probe module>/@v/list: a 200 with a plain-text version
list, or a 404 or 410 with a plain-text message, is a module proxy; anything
else (no answer, a TLS error, 5xx, an HTML page) is refused and nothing is
changed. --no-check skips it.

--fastest measures the mirrors of the catalogue (the go command's default
proxy and the public mirrors gomirror knows, as 'gomirror bench' with no URL
does; --catalogue FILE replaces the built-in list, and the user's file
$XDG_CONFIG_HOME/gomirror/mirrors.yaml changes it): --samples rounds of the
--modules' list, .info, .mod and .zip, each request limited by --timeout
(5s by default), a mirror given up on after ` + strconv.Itoa(mirrorbench.CatalogueMaxFailures) + ` failures in a row. It prints
the table and sets GOPROXY=<fastest>,<second>,direct, the fallback order the
guides recommend, after asking "y/N" on the terminal; --yes sets it without
asking (for scripts). Only mirrors that answered every request of the run
stand in that list (the go command falls through to the next only on 404
and 410, so a mirror that fails in second place would stop the build); with
one such mirror it is <fastest>,direct. Without a terminal and without
--yes it refuses before measuring anything. When the chosen mirror does not
proxy the checksum database (or that is not known), it says what that means
for GOSUMDB.

Profiles are named sets of these settings, kept in ` + setup.ProfilesFileName + `
next to the GOENV file (mode 0600):

	gomirror setup --profile office https://mirror.corp.example --private 'corp.example/*'
	gomirror setup --profile home https://goproxy.cn
	gomirror setup --profile office     # switch back
	gomirror setup --list               # the profiles, * marks the active one

--profile NAME with a URL (and the optional --sumdb, --private, --nosumdb,
--noproxy) saves the profile NAME (replacing one of that name) and switches
to it; --profile NAME alone switches to the saved profile. A switch sets the
profile's variables and puts back, for every other variable gomirror has
changed, its value from before the first setup (and says so); --undo still
restores everything from before the first setup. Setups run at the same
time wait for each other (a lock file, ` + setup.LockFileName + `, next to the GOENV file).

With --print, nothing is changed: the settings are printed as commands for
the shell given with --shell, for CI, e.g. eval "$(gomirror setup --print URL)".`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case undo, list, fastest:
				return cobra.NoArgs(cmd, args)
			case profile != "":
				return cobra.MaximumNArgs(1)(cmd, args)
			case len(args) != 1:
				return i18n.Errorf("give the mirror URL (or --fastest, --profile NAME, --list, --undo)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			p, err := printer(cmd)
			if err != nil {
				return err
			}
			goCmd := gocmd.Cmd{Stderr: cmd.ErrOrStderr()}
			stderr := cmd.ErrOrStderr()
			changed := func(names ...string) string {
				for _, f := range names {
					if cmd.Flags().Changed(f) {
						return f
					}
				}
				return ""
			}
			settingFlags := []string{"sumdb", "private", "nosumdb", "noproxy"}
			checkFlags := []string{"probe-module", "no-check"}
			fastestFlags := []string{"yes", "catalogue", "modules", "samples"}

			if undo || list {
				mode, other := "undo", "list"
				if list {
					mode, other = "list", "undo"
				}
				if f := changed(append(append(append([]string{"print", "shell", "timeout", "fastest", "profile", other}, settingFlags...), checkFlags...), fastestFlags...)...); f != "" {
					return i18n.Errorf("--%s takes no other flags (got --%s)", mode, f)
				}
				if list {
					return listProfiles(ctx, cmd.OutOrStdout(), p, goCmd)
				}
				return runUndo(ctx, stderr, p, goCmd)
			}
			if f := changed(fastestFlags...); f != "" && !fastest {
				return i18n.Errorf("--%s goes with --fastest", f)
			}
			if fastest {
				if f := changed(append(append([]string{"print", "shell", "profile"}, settingFlags...), checkFlags...)...); f != "" {
					return i18n.Errorf("--fastest takes no --%s", f)
				}
				if !cmd.Flags().Changed("timeout") {
					timeout = fastestTimeout
				}
				return runFastest(ctx, cmd, p, goCmd, fastestOptions{catalogue: catFile, modules: modules, samples: samples, timeout: timeout, yes: yes, isTerminal: isTerminal})
			}

			extra := map[string]string{}
			for _, x := range []struct{ flag, key, val string }{
				{"sumdb", "GOSUMDB", sumdb},
				{"private", "GOPRIVATE", private},
				{"nosumdb", "GONOSUMDB", nosumdb},
				{"noproxy", "GONOPROXY", noproxy},
			} {
				if cmd.Flags().Changed(x.flag) {
					extra[x.key] = x.val
				}
			}
			if profile != "" {
				if err := setup.CheckProfileName(profile); err != nil {
					return err
				}
				if f := changed("print", "shell"); f != "" {
					return i18n.Errorf("--profile takes no --%s", f)
				}
				if len(args) == 0 {
					if f := changed(append(settingFlags, checkFlags...)...); f != "" {
						return i18n.Errorf("--%s goes with a URL: gomirror setup --profile NAME URL --%s ...", f, f)
					}
					return switchProfile(ctx, stderr, p, goCmd, profile, nil)
				}
			}
			settings, err := setup.Settings(args[0], extra)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("shell") && !print {
				return i18n.Errorf("--shell goes with --print")
			}
			if print {
				// Refuse an unknown shell before any network traffic.
				if _, err := setup.Exports(shell, []setup.Setting{{Key: "GOPROXY"}}); err != nil {
					return err
				}
			}
			if !cmd.Flags().Changed("timeout") {
				timeout = checkTimeout
			} else if timeout <= 0 {
				return i18n.Errorf("--timeout %s: want a positive duration", timeout.String())
			}
			if !noCheck {
				cctx, cancel := context.WithTimeout(ctx, timeout)
				err := setup.Check(cctx, &http.Client{}, settings[0].Value, probe)
				cancel()
				if err != nil {
					return i18n.Errorf("%v; nothing changed (--no-check skips this check)", err)
				}
			}
			if print {
				out, err := setup.Exports(shell, settings)
				if err != nil {
					return err
				}
				fmt.Fprint(cmd.OutOrStdout(), out)
				return nil
			}
			if profile != "" {
				return switchProfile(ctx, stderr, p, goCmd, profile, settings)
			}
			return applyLocked(ctx, stderr, p, goCmd, settings)
		},
	}
	f := cmd.Flags()
	f.StringVar(&sumdb, "sumdb", "", "also set GOSUMDB")
	f.StringVar(&private, "private", "", "also set GOPRIVATE")
	f.StringVar(&nosumdb, "nosumdb", "", "also set GONOSUMDB")
	f.StringVar(&noproxy, "noproxy", "", "also set GONOPROXY")
	f.StringVar(&probe, "probe-module", setup.DefaultProbeModule, "module whose version list the check asks for")
	f.BoolVar(&noCheck, "no-check", false, "do not check that URL is a module proxy")
	f.DurationVar(&timeout, "timeout", 0, "time limit for the check (default 10s); with --fastest, for each request (default 5s)")
	f.BoolVar(&print, "print", false, "print shell commands setting the variables instead of changing anything")
	f.StringVar(&shell, "shell", "sh", "shell for --print: sh, fish or powershell")
	f.BoolVar(&undo, "undo", false, "restore the settings from before the first setup")
	f.BoolVar(&fastest, "fastest", false, "measure the catalogue's mirrors and set GOPROXY=<fastest>,<second>,direct")
	f.BoolVar(&yes, "yes", false, "with --fastest: set GOPROXY without asking")
	f.StringVar(&catFile, "catalogue", "", "with --fastest: the mirror catalogue file to use instead of the built-in one")
	f.StringSliceVar(&modules, "modules", defaults, "with --fastest: module versions to fetch, as path@version, comma-separated")
	f.IntVar(&samples, "samples", 1, "with --fastest: how many times to fetch each artifact from each mirror")
	f.StringVar(&profile, "profile", "", "with a URL: save the settings as profile NAME and switch to it; alone: switch to profile NAME")
	f.BoolVar(&list, "list", false, "list the saved profiles (* marks the active one)")
	return cmd
}

// reportApplied says what Apply or Switch wrote, and how to undo it.
// Values are shown without the userinfo of their URLs (redact.Text): a
// user name is often a token, and this output lands in terminals and CI
// logs; the GOENV file holds them as given.
func reportApplied(w io.Writer, p *i18n.Printer, settings []setup.Setting, res *setup.Result) {
	for _, s := range settings {
		p.Fprintf(w, "%s=%s written to %s\n", s.Key, redact.Text(s.Value), res.GOENV)
		if eff := res.Effective[s.Key]; eff != s.Value {
			p.Fprintf(w, "  but the environment variable %s=%s overrides it\n", s.Key, redact.Text(eff))
		}
	}
	for _, k := range res.Reset {
		p.Fprintf(w, "%s put back to its value from before the first setup (now %q)\n", k, redact.Text(res.Effective[k]))
	}
	if res.Kept {
		p.Fprintf(w, "The settings from before the first setup stay saved in %s; undo with: gomirror setup --undo\n", res.StateFile)
	} else {
		p.Fprintf(w, "The previous settings are saved in %s; undo with: gomirror setup --undo\n", res.StateFile)
	}
}

// applyLocked applies settings (setup URL, --fastest) under the setup
// lock and records that no profile is active.
func applyLocked(ctx context.Context, w io.Writer, p *i18n.Printer, goCmd gocmd.Cmd, settings []setup.Setting) error {
	return setup.Locked(ctx, goCmd, func() error {
		ps, path, err := profilesForActive(ctx, w, p, goCmd)
		if err != nil {
			return err
		}
		res, err := setup.Apply(ctx, goCmd, settings)
		if err != nil {
			return err
		}
		reportApplied(w, p, settings, res)
		clearActive(w, p, path, ps)
		return nil
	})
}

func runUndo(ctx context.Context, w io.Writer, p *i18n.Printer, goCmd gocmd.Cmd) error {
	return setup.Locked(ctx, goCmd, func() error {
		ps, path, err := profilesForActive(ctx, w, p, goCmd)
		if err != nil {
			return err
		}
		res, state, err := setup.Undo(ctx, goCmd)
		if errors.Is(err, setup.ErrNoState) {
			return i18n.Errorf("nothing to undo: %v (gomirror setup has not changed this GOENV file, or it was undone already)", err)
		}
		if err != nil {
			return err
		}
		for _, k := range setup.Keys {
			v, ok := state.Vars[k]
			if !ok {
				continue
			}
			if v.InFile {
				p.Fprintf(w, "%s restored to %q in %s\n", k, redact.Text(v.Value), res.GOENV)
			} else {
				p.Fprintf(w, "%s removed from %s (now %q)\n", k, res.GOENV, redact.Text(res.Effective[k]))
			}
		}
		clearActive(w, p, path, ps)
		return nil
	})
}

// profilesPath is the profiles file of the go command's GOENV file.
func profilesPath(ctx context.Context, goCmd gocmd.Cmd) (string, error) {
	goenv, err := setup.EnvFile(ctx, goCmd)
	if err != nil {
		return "", err
	}
	return setup.ProfilesPath(goenv), nil
}

// profilesForActive reads the profiles file before a change that is no
// profile's (setup URL, --fastest, --undo), so that the change can then
// record "no active profile". A profiles file that cannot be read is only
// warned about (and left alone): it must not stop, or turn into a failure,
// a change that does not need it. ps is nil when there is nothing to
// record.
func profilesForActive(ctx context.Context, w io.Writer, p *i18n.Printer, goCmd gocmd.Cmd) (ps *setup.Profiles, path string, err error) {
	if path, err = profilesPath(ctx, goCmd); err != nil {
		return nil, "", err
	}
	if _, err := os.Stat(path); err != nil {
		return nil, path, nil // no profiles: nothing to record
	}
	ps, err = setup.ReadProfiles(path)
	if err != nil {
		p.Fprintf(w, "warning: %v; it is left as it is (the active profile is not recorded)\n", err)
		return nil, path, nil
	}
	return ps, path, nil
}

// clearActive records in ps (read by profilesForActive) that no profile is
// active. The change is made already: a failure to write is a warning.
func clearActive(w io.Writer, p *i18n.Printer, path string, ps *setup.Profiles) {
	if ps == nil || ps.Active == "" {
		return
	}
	ps.Active = ""
	if err := setup.WriteProfiles(path, ps); err != nil {
		p.Fprintf(w, "warning: recording that no profile is active: %v\n", err)
	}
}

// switchProfile saves settings as profile name (unless nil) and switches
// to the profile, under the setup lock.
func switchProfile(ctx context.Context, w io.Writer, p *i18n.Printer, goCmd gocmd.Cmd, name string, settings []setup.Setting) error {
	return setup.Locked(ctx, goCmd, func() error {
		path, err := profilesPath(ctx, goCmd)
		if err != nil {
			return err
		}
		ps, err := setup.ReadProfiles(path)
		if err != nil {
			return i18n.Errorf("%v; nothing changed (fix or remove the file)", err)
		}
		if settings == nil {
			var ok bool
			if settings, ok = ps.Profiles[name]; !ok {
				return i18n.Errorf("no profile %s (create it with: gomirror setup --profile %s URL)", name, name)
			}
		} else {
			ps.Profiles[name] = settings
			if err := setup.WriteProfiles(path, ps); err != nil {
				return err
			}
			p.Fprintf(w, "Profile %s saved in %s\n", name, path)
		}
		res, err := setup.Switch(ctx, goCmd, settings)
		if err != nil {
			return err
		}
		p.Fprintf(w, "Switched to profile %s\n", name)
		reportApplied(w, p, settings, res)
		ps.Active = name
		if err := setup.WriteProfiles(path, ps); err != nil {
			p.Fprintf(w, "warning: recording that profile %s is active: %v\n", name, err)
		}
		return nil
	})
}

func listProfiles(ctx context.Context, w io.Writer, p *i18n.Printer, goCmd gocmd.Cmd) error {
	path, err := profilesPath(ctx, goCmd)
	if err != nil {
		return err
	}
	ps, err := setup.ReadProfiles(path)
	if err != nil {
		return err
	}
	if len(ps.Profiles) == 0 {
		p.Fprintf(w, "No profiles yet; save one with: gomirror setup --profile NAME URL\n")
		return nil
	}
	rows := [][]string{{"", p.Sprintf("PROFILE"), p.Sprintf("SETTINGS")}}
	for _, name := range ps.Names() {
		mark := ""
		if name == ps.Active {
			mark = "*"
		}
		var kv []string
		for _, s := range ps.Profiles[name] {
			kv = append(kv, s.Key+"="+redact.Text(s.Value))
		}
		rows = append(rows, []string{mark, name, strings.Join(kv, " ")})
	}
	return i18n.WriteTable(w, rows)
}

type fastestOptions struct {
	catalogue string
	modules   []string
	samples   int
	timeout   time.Duration
	yes       bool
	// isTerminal says whether standard input is a terminal to ask on.
	isTerminal func(any) bool
}

// runFastest measures the catalogue's mirrors, shows the table and sets
// GOPROXY to the two best and direct, once the user confirms.
func runFastest(ctx context.Context, cmd *cobra.Command, p *i18n.Printer, goCmd gocmd.Cmd, o fastestOptions) error {
	stderr, stdout := cmd.ErrOrStderr(), cmd.OutOrStdout()
	mods, err := mirrorbench.ParseModules(o.modules)
	if err != nil {
		return i18n.Errorf("--modules: %v", err)
	}
	if o.samples < 1 {
		return i18n.Errorf("--samples %s: want at least 1", fmt.Sprint(o.samples))
	}
	if o.timeout <= 0 {
		return i18n.Errorf("--timeout %s: want a positive duration", o.timeout.String())
	}
	// Refuse what would fail at the end before measuring anything: no
	// terminal to confirm on, a GOENV that is off or not a file.
	in := cmd.InOrStdin()
	if !o.yes && !o.isTerminal(in) {
		return i18n.Errorf("no terminal to confirm on: run again with --yes to set GOPROXY to the fastest mirrors without asking; nothing measured, nothing changed")
	}
	if _, err := setup.EnvFile(ctx, goCmd); err != nil {
		return err
	}
	cat, err := mirrors.Load(ctx, goCmd, mirrors.Sources{Catalogue: o.catalogue, User: mirrors.UserFile()})
	if err != nil {
		return err
	}
	for _, w := range cat.Warnings {
		p.Fprintf(stderr, "warning: %s\n", w)
	}
	cfg := mirrorbench.Config{Mirrors: cat.URLs(), Modules: mods, Samples: o.samples, Timeout: o.timeout, MaxFailures: mirrorbench.CatalogueMaxFailures}
	for _, m := range cat.Mirrors {
		cfg.IDs = append(cfg.IDs, m.ID)
		cfg.Names = append(cfg.Names, m.Title(i18n.English()))
		cfg.Titles = append(cfg.Titles, m.Title(p))
	}
	p.Fprintf(stderr, "measuring %s mirrors of the catalogue (each request limited to %s)...\n", fmt.Sprint(len(cfg.Mirrors)), o.timeout.String())
	rep, err := mirrorbench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if err := rep.WriteTable(stdout, p); err != nil {
		return err
	}
	ranking := rep.Fallback()
	if len(ranking) == 0 {
		return i18n.Errorf("no mirror of the catalogue answered every request; nothing changed")
	}
	value, err := setup.ProxyList(append(ranking[:min(2, len(ranking)):min(2, len(ranking))], "direct")...)
	if err != nil {
		return err
	}
	p.Fprintf(stdout, "\nSetting: GOPROXY=%s\n", value)
	if best, ok := cat.Find(ranking[0]); ok {
		env, err := gocmd.Env(ctx, goCmd, "GOSUMDB")
		if err != nil {
			return err
		}
		if note := mirrors.SumDBNote(best, env["GOSUMDB"]); !note.IsZero() {
			fmt.Fprintln(stdout, p.Text(note))
		}
	}
	if !o.yes {
		ok, err := confirm(in, stderr, p.Sprintf("Set GOPROXY=%s? [y/N] ", value))
		if err != nil {
			return err
		}
		if !ok {
			p.Fprintf(stderr, "Nothing changed.\n")
			return nil
		}
	}
	return applyLocked(ctx, stderr, p, goCmd, []setup.Setting{{Key: "GOPROXY", Value: value}})
}

// confirm writes question to w and reads one line from r: true for y or
// yes (either case) or 是, false for anything else, an empty line and end
// of input included.
func confirm(r io.Reader, w io.Writer, question string) (bool, error) {
	io.WriteString(w, question)
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes", "是", "是的", "好":
		return true, nil
	}
	return false, nil
}
