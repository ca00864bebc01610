package i18n_test

import (
	"encoding/json"
	"strings"
	"testing"

	"golang.org/x/text/language"

	"github.com/gomirror/gomirror/i18n"
)

// TestEveryMessageTranslated fails when a message lacks its Chinese
// translation, or a key is given twice (the second would be lost).
func TestEveryMessageTranslated(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range i18n.Messages() {
		if seen[m.EN] {
			t.Errorf("message %q given twice", m.EN)
		}
		seen[m.EN] = true
		if strings.TrimSpace(m.ZH) == "" {
			t.Errorf("message %q has no Chinese translation", m.EN)
		}
		if strings.Count(m.EN, "%") != strings.Count(m.ZH, "%") {
			t.Errorf("message %q: its translation %q has other verbs", m.EN, m.ZH)
		}
	}
	if len(seen) == 0 {
		t.Fatal("no messages")
	}
}

// TestMatch checks the choice of language: the cookie first, then
// Accept-Language, then English.
func TestMatch(t *testing.T) {
	c := i18n.Default()
	for _, tt := range []struct {
		cookie, accept string
		want           language.Tag
	}{
		{"", "", language.English},
		{"", "zh-CN,zh;q=0.9,en;q=0.8", language.SimplifiedChinese},
		{"", "zh", language.SimplifiedChinese},
		{"", "fr-FR, en;q=0.5", language.English},
		{"", "de", language.English},
		{"en", "zh-CN", language.English},
		{"zh", "en-US", language.SimplifiedChinese},
		{"xx-bogus!", "zh-CN", language.SimplifiedChinese},
	} {
		if got := c.Match(tt.cookie, tt.accept); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.cookie, tt.accept, got, tt.want)
		}
	}
	if got := i18n.Code(language.SimplifiedChinese); got != "zh" {
		t.Errorf("Code(zh-Hans) = %q", got)
	}
}

// TestPrinter checks that a printer translates, with arguments, and that
// an unknown key is shown as it is.
func TestPrinter(t *testing.T) {
	c := i18n.Default()
	zh := c.Printer(language.SimplifiedChinese)
	if got := zh.Sprintf("%d modules, %d versions", 3, 5); got != "3 个模块，5 个版本" {
		t.Errorf("zh: %q", got)
	}
	if got := c.Printer(language.English).Sprintf("Overview"); got != "Overview" {
		t.Errorf("en: %q", got)
	}
	if !c.Has("Overview") || c.Has("no such message") {
		t.Error("Has")
	}
}

// TestTextJSONRoundTrip checks that a Text marshalled into JSON (a
// report's field) reads back: as the English string, rendered as it is in
// any language, a '%' included.
func TestTextJSONRoundTrip(t *testing.T) {
	in := []i18n.Text{i18n.T("the build list of %s could not be resolved, so only its requirements and go.sum were checked: %v", "go.mod", "exit status 1"), {Key: "%v", Args: []any{"100% sure"}}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out []i18n.Text
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if len(out) != len(in) {
		t.Fatalf("got %d texts, want %d", len(out), len(in))
	}
	zh := i18n.NewPrinter(language.SimplifiedChinese)
	for i := range in {
		if got, want := out[i].String(), in[i].String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
		if got, want := zh.Text(out[i]), in[i].String(); got != want {
			t.Errorf("zh.Text = %q, want %q", got, want)
		}
	}
	b2, _ := json.Marshal(out)
	if string(b2) != string(b) {
		t.Errorf("re-marshalled %s, want %s", b2, b)
	}
}
