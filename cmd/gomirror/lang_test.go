package main

import (
	"strings"
	"testing"
)

// TestLangFlag: an unsupported --lang is refused by any command, in the
// language of the locale; a supported one is taken.
func TestLangFlag(t *testing.T) {
	t.Setenv("LC_ALL", "")
	t.Setenv("LC_MESSAGES", "")
	t.Setenv("LANG", "zh_CN.UTF-8")
	root := newRoot()
	root.SetArgs([]string{"--lang", "fr", "token", "list"})
	cmd, err := root.ExecuteC()
	if err == nil {
		t.Fatal("--lang fr was accepted")
	}
	_, msg := exitStatus(err, errorPrinter(cmd))
	if !strings.Contains(msg, "不支持的语言") {
		t.Errorf("error under LANG=zh_CN.UTF-8: %q; want it in Chinese", msg)
	}
	t.Setenv("LANG", "C")
	root = newRoot()
	root.SetArgs([]string{"--lang", "zh", "explain", "--help"})
	if cmd, err := root.ExecuteC(); err != nil {
		t.Fatalf("--lang zh: %v", err)
	} else if p, err := printer(cmd); err != nil || !p.Chinese() {
		t.Errorf("printer under --lang zh: %v, %v", p, err)
	}
}
