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
