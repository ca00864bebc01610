package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gomirror/gomirror/i18n"
)

// TestHelpTranslated fails when a command's Short, or any help text of a
// client tool (helpTranslated), is not in the catalogue: under Chinese it
// would print in English.
func TestHelpTranslated(t *testing.T) {
	cat := i18n.Default()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		path := strings.TrimPrefix(c.CommandPath(), "gomirror ")
		if c.Short != "" && !cat.Has(c.Short) && (c.Parent() == nil || c.Parent().Name() != "completion") {
			t.Errorf("%s: Short %q is not in the catalogue", path, c.Short)
		}
		if slices.Contains(helpTranslated, path) {
			if c.Long != "" && !cat.Has(c.Long) {
				t.Errorf("%s: Long is not in the catalogue:\n%s", path, c.Long)
			}
			c.LocalFlags().VisitAll(func(f *pflag.Flag) {
				if f.Name != "help" && !cat.Has(f.Usage) {
					t.Errorf("%s --%s: usage %q is not in the catalogue", path, f.Name, f.Usage)
				}
			})
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	root := newRoot()
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	walk(root)
}

// TestHelpChinese: --help under a Chinese locale prints the command's
// texts and cobra's headings in Chinese, and under C in English.
func TestHelpChinese(t *testing.T) {
	t.Setenv("LC_ALL", "")
	t.Setenv("LC_MESSAGES", "")
	for _, tt := range []struct {
		lang    string
		args    []string
		want    []string
		wantNot []string
	}{
		{"zh_CN.UTF-8", []string{"--help"}, []string{"用法：", "可用命令：", "自建的 Go 模块镜像", "运行模块镜像", "显示任意命令的帮助"}, []string{"Available Commands:", "Usage:", "Help about any command"}},
		{"C", []string{"--help"}, []string{"Usage:", "Available Commands:", "A self-hosted Go module mirror"}, nil},
		{"zh_CN.UTF-8", []string{"warm", "--help"}, []string{"通过 --mirror 指定的镜像拉取", "同时拉取的文件数", "校验和数据库查询结果"}, []string{"Fetch through the mirror", "files fetched at the same time"}},
		{"zh_CN.UTF-8", []string{"graph", "--help"}, []string{"模块依赖图", "只保留从主模块到该模块的依赖路径"}, []string{"Print the module requirement graph", "keep only the requirement paths"}},
		{"zh_CN.UTF-8", []string{"doctor", "--help"}, []string{"检查本机 go 命令的设置", "go 命令从不通过代理读取它", "其他代理列出的版本，只有发布时间早于此值时才算缺失"}, []string{"Check this machine", "a step slower than this"}},
		{"zh_CN.UTF-8", []string{"explain", "--help"}, []string{"读取 go 命令的输出", "以表格形式打印已知错误类别的目录"}, []string{"Read what the go command printed", "print the catalogue"}},
		{"C", []string{"--lang", "zh", "token", "--help"}, []string{"用法：", "可用命令："}, []string{"Usage:"}},
		{"zh_CN.UTF-8", []string{"policy", "check", "--help"}, []string{"按依赖策略检查项目构建列表", "以 JSON 格式输出结果", "输出 SARIF 2.1.0 日志"}, []string{"Check every module version", "print the result as JSON", "Usage:"}},
		{"zh_CN.UTF-8", []string{"policy", "explain", "--help"}, []string{"说明依赖策略中哪条规则决定了 module@version", "不询问镜像，直接在本机按这个策略文件判定"}, []string{"Say which rule", "decide here with"}},
	} {
		t.Setenv("LANG", tt.lang)
		root := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetArgs(tt.args)
		if err := root.Execute(); err != nil {
			t.Fatalf("%s %v: %v", tt.lang, tt.args, err)
		}
		for _, w := range tt.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("LANG=%s %v: no %q in:\n%s", tt.lang, tt.args, w, out.String())
			}
		}
		for _, w := range tt.wantNot {
			if strings.Contains(out.String(), w) {
				t.Errorf("LANG=%s %v: %q left in:\n%s", tt.lang, tt.args, w, out.String())
			}
		}
		if tt.lang == "C" && len(tt.wantNot) == 0 && strings.IndexFunc(out.String(), func(r rune) bool { return unicode.Is(unicode.Han, r) }) >= 0 {
			t.Errorf("LANG=C %v: Chinese in:\n%s", tt.args, out.String())
		}
	}
}

// TestHelpChineseNoCobraEnglish: under Chinese, pflag's "(default …)"
// annotations and cobra's "[flags]"/"[command]" in usage lines are
// Chinese too; under C they stay as cobra prints them.
func TestHelpChineseNoCobraEnglish(t *testing.T) {
	t.Setenv("LC_ALL", "")
	t.Setenv("LC_MESSAGES", "")
	help := func(lang string, args ...string) string {
		t.Helper()
		t.Setenv("LANG", lang)
		root := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetArgs(args)
		if err := root.Execute(); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	zh := help("zh_CN.UTF-8", "graph", "--help")
	for _, english := range []string{"(default ", "[flags]"} {
		if strings.Contains(zh, english) {
			t.Errorf("%q left in:\n%s", english, zh)
		}
	}
	if !strings.Contains(zh, `（默认 "mermaid"）`) || !strings.Contains(zh, "[选项]") {
		t.Errorf("no Chinese default or [选项]:\n%s", zh)
	}
	if root := help("zh_CN.UTF-8", "--help"); strings.Contains(root, "[command]") || !strings.Contains(root, "[命令]") {
		t.Errorf("[command] in the root's help:\n%s", root)
	}
	if en := help("C", "graph", "--help"); !strings.Contains(en, `(default "mermaid")`) || !strings.Contains(en, "[flags]") {
		t.Errorf("English help changed:\n%s", en)
	}
}

// TestFlagErrorChinese: a flag error (unknown flag, missing argument, bad
// value) is printed in the language the command runs in.
func TestFlagErrorChinese(t *testing.T) {
	t.Setenv("LC_ALL", "")
	t.Setenv("LC_MESSAGES", "")
	t.Setenv("LANG", "zh_CN.UTF-8")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"setup", "--bogus"}, "未知标志：--bogus"},
		{[]string{"bench", "--samples"}, "标志需要一个参数：--samples"},
		{[]string{"bench", "--samples", "x"}, `标志 --samples 的参数 "x" 无效`},
		{[]string{"graph", "-Z"}, "未知短标志"},
	} {
		root := newRoot()
		root.SetOut(&bytes.Buffer{})
		root.SetErr(&bytes.Buffer{})
		root.SetArgs(tt.args)
		cmd, err := root.ExecuteC()
		if err == nil {
			t.Fatalf("%v: no error", tt.args)
		}
		code, msg := exitStatus(err, errorPrinter(cmd))
		if code != 1 || !strings.Contains(msg, tt.want) || strings.Contains(msg, "flag") {
			t.Errorf("%v: exit %d, %q; want %q", tt.args, code, msg, tt.want)
		}
	}
	t.Setenv("LANG", "C")
	root := newRoot()
	root.SetArgs([]string{"setup", "--bogus"})
	cmd, err := root.ExecuteC()
	if _, msg := exitStatus(err, errorPrinter(cmd)); !strings.Contains(msg, "unknown flag: --bogus") {
		t.Errorf("C: %q", msg)
	}
}
