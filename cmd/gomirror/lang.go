package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/gomirror/gomirror/i18n"
)

// langFlag is the root's persistent flag that chooses the language of the
// client tools' output.
const langFlag = "lang"

// printer returns the printer of the language cmd runs in: its --lang flag
// (inherited from the root), else the locale of the environment
// (i18n.Lang). An unsupported --lang is an error.
func printer(cmd *cobra.Command) (*i18n.Printer, error) {
	flag, _ := cmd.Flags().GetString(langFlag)
	tag, err := i18n.Lang(flag, os.Getenv)
	if err != nil {
		return nil, err
	}
	return i18n.NewPrinter(tag), nil
}
