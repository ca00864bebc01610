package main

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gomirror/gomirror/i18n"
)

// helpTranslated are the commands (by command path less "gomirror ")
// whose whole help, Long text and every flag's usage included, is in the
// catalogue: the client tools, which a developer reads in their own
// language. Every command's Short is in the catalogue (the root's help
// lists them all). TestHelpTranslated holds both to it.
var helpTranslated = []string{
	"policy", "policy check", "policy explain",
	"setup", "bench",
	"warm", "graph",
	"doctor", "explain",
}

// localizeHelp makes `--help` (and `gomirror help CMD`) print in the
// language the command runs in: under Chinese, the command's texts and
// flag usages, its subcommands' Shorts and cobra's own headings come from
// the catalogue (i18n.Printer.Translate; a text the catalogue lacks stays
// English).
//
// Under Chinese the rendered help is post-processed too (localizeRendered):
// pflag's "(default …)" and cobra's "[flags]"/"[command]" are not in any
// template. Flag errors (unknown flag, missing or bad value) are
// translated for every command (flagError).
func localizeHelp(root *cobra.Command) {
	help := root.HelpFunc()
	root.SetHelpFunc(func(cmd *cobra.Command, args []string) {
		p, err := printer(cmd)
		if err != nil || !p.Chinese() {
			help(cmd, args)
			return
		}
		translateHelp(cmd, p)
		out := cmd.OutOrStdout()
		var b strings.Builder
		cmd.SetOut(&b)
		help(cmd, args)
		cmd.SetOut(out)
		io.WriteString(out, localizeRendered(b.String(), p))
	})
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return flagError(err) })
}

// flagDefault is pflag's default annotation, at the end of a flag's line.
var flagDefault = regexp.MustCompile(`(?m) \(default (.*)\)$`)

// localizeRendered puts what pflag and cobra add to a rendered help in p's
// language: the flags' "(default …)" and the usage lines' "[flags]" and
// "[command]".
func localizeRendered(help string, p *i18n.Printer) string {
	help = flagDefault.ReplaceAllStringFunc(help, func(m string) string {
		return p.Sprintf(" (default %s)", flagDefault.FindStringSubmatch(m)[1])
	})
	return strings.NewReplacer("[flags]", p.Sprintf("[flags]"), "[command]", p.Sprintf("[command]")).Replace(help)
}

// flagError is a flag parsing error of pflag as an i18n error, printed in
// the language the command runs in (other errors as they are).
func flagError(err error) error {
	var (
		notExist *pflag.NotExistError
		required *pflag.ValueRequiredError
		invalid  *pflag.InvalidValueError
		syntax   *pflag.InvalidSyntaxError
	)
	switch {
	case errors.As(err, &notExist) && notExist.GetSpecifiedShortnames() != "":
		return i18n.Errorf("unknown shorthand flag: %s in -%s", fmt.Sprintf("%q", rune(notExist.GetSpecifiedName()[0])), notExist.GetSpecifiedShortnames())
	case errors.As(err, &notExist):
		return i18n.Errorf("unknown flag: --%s", notExist.GetSpecifiedName())
	case errors.As(err, &required) && required.GetSpecifiedShortnames() != "":
		return i18n.Errorf("flag needs an argument: %s in -%s", fmt.Sprintf("%q", rune(required.GetSpecifiedName()[0])), required.GetSpecifiedShortnames())
	case errors.As(err, &required):
		return i18n.Errorf("flag needs an argument: --%s", required.GetSpecifiedName())
	case errors.As(err, &invalid):
		return i18n.Errorf("invalid argument %s for flag --%s: %v", fmt.Sprintf("%q", invalid.GetValue()), invalid.GetFlag().Name, errors.Unwrap(invalid))
	case errors.As(err, &syntax):
		return i18n.Errorf("bad flag syntax: %s", strings.TrimPrefix(err.Error(), "bad flag syntax: "))
	}
	return err
}

// translateHelp puts cmd's help texts in p's language, in place (the
// process prints the help and exits).
func translateHelp(cmd *cobra.Command, p *i18n.Printer) {
	cmd.Short, cmd.Long = p.Translate(cmd.Short), p.Translate(cmd.Long)
	for _, c := range cmd.Commands() {
		c.Short = p.Translate(c.Short)
	}
	flag := func(f *pflag.Flag) {
		if name, ok := strings.CutPrefix(f.Usage, "help for "); ok {
			f.Usage = p.Sprintf("help for %s", name) // cobra's own
			return
		}
		f.Usage = p.Translate(f.Usage)
	}
	cmd.LocalFlags().VisitAll(flag)
	cmd.InheritedFlags().VisitAll(flag)
	r := strings.NewReplacer(
		"Usage:", p.Sprintf("Usage:"),
		"Aliases:", p.Sprintf("Aliases:"),
		"Examples:", p.Sprintf("Examples:"),
		"Available Commands:", p.Sprintf("Available Commands:"),
		"Additional Commands:", p.Sprintf("Additional Commands:"),
		"Global Flags:", p.Sprintf("Global Flags:"),
		"\nFlags:", "\n"+p.Sprintf("Flags:"),
		"Additional help topics:", p.Sprintf("Additional help topics:"),
		`Use "{{.CommandPath}} [command] --help" for more information about a command.`,
		p.Sprintf(`Use "%s" for more information about a command.`, "{{.CommandPath}} [command] --help"),
	)
	cmd.SetUsageTemplate(r.Replace(cmd.UsageTemplate()))
}
