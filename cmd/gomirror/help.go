package main

import (
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
func localizeHelp(root *cobra.Command) {
	help := root.HelpFunc()
	root.SetHelpFunc(func(cmd *cobra.Command, args []string) {
		if p, err := printer(cmd); err == nil && p.Chinese() {
			translateHelp(cmd, p)
		}
		help(cmd, args)
	})
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
