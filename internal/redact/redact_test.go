package redact

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

const secret = "s3cr3t-pa55"

func TestURL(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"direct", "direct"},
		{"off", "off"},
		{"https://proxy.example/", "https://proxy.example/"},
		{"http://user:" + secret + "@127.0.0.1:8080/base", "http://127.0.0.1:8080/base"},
		{"https://" + secret + "@proxy.example", "https://proxy.example"},                            // token as user name
		{"http://user:" + secret + "@127.0.0.1:8080/%zz", "http://127.0.0.1:8080/%zz"},               // does not parse
		{"http://user:pa/" + secret + "@127.0.0.1", "http://127.0.0.1"},                              // unescaped '/' in the password
		{"redis://:" + secret + "@127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},                     // password only
		{"user:" + secret + "@127.0.0.1:8080", "127.0.0.1:8080"},                                     // no scheme
		{"https://proxy.example/github.com/x/@v/list", "https://proxy.example/github.com/x/@v/list"}, // '@' in the path
		{"postgres://127.0.0.1:5432/db?password=" + secret + "&sslmode=disable", "postgres://127.0.0.1:5432/db?sslmode=disable"},
		{"postgres://u:" + secret + "@127.0.0.1/db?sslpassword=" + secret, "postgres://127.0.0.1/db"},
		{"postgres://127.0.0.1/%zz?password=" + secret, "postgres://127.0.0.1/%zz"}, // does not parse
	} {
		if got := URL(tt.in); got != tt.want {
			t.Errorf("URL(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestList(t *testing.T) {
	in := "http://user:" + secret + "@127.0.0.1:1|grp,https://" + secret + "@127.0.0.1:2,direct"
	want := "http://127.0.0.1:1|grp,https://127.0.0.1:2,direct"
	if got := List(in); got != want {
		t.Errorf("List = %q; want %q", got, want)
	}
}

func TestTextAndErr(t *testing.T) {
	inner := errors.New(`failed to parse Location header "http://a:` + secret + `@other.example/x": bad`)
	ue := &url.Error{Op: "Get", URL: "http://" + secret + "@127.0.0.1:9/github.com/x/@v/v1.0.0.info", Err: inner}
	if got := Text(`Get "http://u:p@` + secret + `@127.0.0.1/x/@v/list": refused`); strings.Contains(got, secret) || !strings.Contains(got, "http://127.0.0.1/x/@v/list") {
		t.Errorf("Text with an unescaped '@' in the password = %q", got)
	}
	if got := Text("see http://127.0.0.1/a/@v/list and mail user@example.com"); got != "see http://127.0.0.1/a/@v/list and mail user@example.com" {
		t.Errorf("Text changed text without userinfo: %q", got)
	}
	err := Err(fmt.Errorf("info x from proxy: %w", ue))
	if strings.Contains(err.Error(), secret) {
		t.Errorf("Err(...).Error() = %q: contains the secret", err)
	}
	if !strings.Contains(err.Error(), "http://127.0.0.1:9/github.com/x/@v/v1.0.0.info") {
		t.Errorf("Err(...).Error() = %q: lost the URL", err)
	}
	var got *url.Error
	if !errors.As(err, &got) || strings.Contains(got.URL, secret) {
		t.Errorf("the *url.Error in the chain still has the secret in its URL: %v", got)
	}
	if !errors.Is(err, inner) {
		t.Error("Err broke the error chain")
	}
	if Err(nil) != nil {
		t.Error("Err(nil) != nil")
	}
	plain := errors.New("no URL here")
	if Err(plain) != plain {
		t.Error("Err wrapped an error without credentials")
	}
}
