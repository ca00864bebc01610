package main

import (
	"encoding/json"
	"io"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/gomirror/gomirror/client/explain"
	"github.com/gomirror/gomirror/i18n"
)

// newExplain returns `gomirror explain`: explain go command errors.
func newExplain() *cobra.Command {
	var asJSON, list bool
	cmd := &cobra.Command{
		Use:   "explain [FILE] | explain --list",
		Short: "Explain the errors in go command output",
		Long: `Read what the go command printed (from FILE, or standard input) and say, for
every error in it, what most likely caused it and how to fix it:

	go mod download 2>&1 | gomirror explain

An error is a line with the indented lines that continue it; progress lines
such as "go: downloading ..." are skipped. An error that matches no known
class is reported as unknown, with no guess.

--list prints the whole catalogue of classes as a table: id, symptom,
cause and fix, long cells wrapped to the terminal width (COLUMNS, else 100
columns); with --json, as a JSON array.

Output is in Chinese under a zh locale (LANG=zh_CN.UTF-8) or with
--lang zh; --json is always English.

Exit status: 0 once the input was read, whether or not its errors were all
explained (the summary line and --json's "unknown" count say); 1 for a usage
error or input that cannot be read.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := printer(cmd)
			if err != nil {
				return err
			}
			if list {
				if len(args) > 0 {
					return i18n.Errorf("explain --list takes no FILE")
				}
				if asJSON {
					enc := json.NewEncoder(cmd.OutOrStdout())
					enc.SetIndent("", "  ")
					return enc.Encode(explain.List())
				}
				return explain.WriteList(cmd.OutOrStdout(), p, terminalWidth())
			}
			var in io.Reader = cmd.InOrStdin()
			if len(args) == 1 && args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			errs, err := explain.Parse(in)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(explain.NewReport(errs))
			}
			return explain.WriteText(cmd.OutOrStdout(), p, errs)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the explanations (or with --list the catalogue) as JSON, always English")
	cmd.Flags().BoolVar(&list, "list", false, "print the catalogue of known error classes as a table")
	return cmd
}

// terminalWidth is the width explain --list wraps its table to: COLUMNS
// when it is a number of at least 40, else 100.
func terminalWidth() int {
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n >= 40 {
		return n
	}
	return 100
}
