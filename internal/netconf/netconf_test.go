package netconf

import (
	"net/url"
	"strings"
	"testing"
)

func TestParseNetworks(t *testing.T) {
	tests := []struct {
		in   string
		want string // prefixes joined by " "; "error: ..." for an error that says ...
	}{
		{"", ""},
		{" , ", ""},
		{"10.0.0.0/8, 192.168.1.5, fd00::/8", "10.0.0.0/8 192.168.1.5/32 fd00::/8"},
		{"10.0.0.0/8 172.16.0.0/12\n::1", "10.0.0.0/8 172.16.0.0/12 ::1/128"},
		{"10.0.0.0/8, 192.0.2.7 ,2001:db8::/32", "10.0.0.0/8 192.0.2.7/32 2001:db8::/32"},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8"},
		{"::ffff:10.0.0.1", "10.0.0.1/32"},
		{"10.1.2.3/8", `error: "10.1.2.3/8": address bits set after the prefix length; did you mean 10.0.0.0/8?`},
		{"10.0.0.0/33", `error: "10.0.0.0/33": not a network`},
		{"10.0.0.1/8/2", `error: "10.0.0.1/8/2": not a network`},
		{"corp.example", `error: "corp.example": not an IP address`},
		{"10.0.0.0/8,proxy.lan", `error: "proxy.lan"`},
		{"fe80::1%eth0", `error: "fe80::1%eth0"`},
		{"10.0.0.0/8,,bogus", `error: "bogus"`},
	}
	for _, tt := range tests {
		got, err := ParseNetworks(tt.in)
		if want, ok := strings.CutPrefix(tt.want, "error: "); ok {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("ParseNetworks(%q) = %v, %v; want an error with %s", tt.in, got, err, want)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseNetworks(%q): %v", tt.in, err)
			continue
		}
		var s []string
		for _, p := range got {
			s = append(s, p.String())
		}
		if strings.Join(s, " ") != tt.want {
			t.Errorf("ParseNetworks(%q) = %v; want %s", tt.in, s, tt.want)
		}
	}
}

func TestHostPort(t *testing.T) {
	tests := []struct{ url, want string }{
		{"http://mirror.example", "mirror.example:80"},
		{"https://Mirror.Example/base", "Mirror.Example:443"},
		{"https://u:p@mirror.example:8443/", "mirror.example:8443"},
		{"https://[fd00::5]/", "[fd00::5]:443"},
		{"socks5://proxy.example", "proxy.example:1080"},
		{"socks5h://proxy.example", "proxy.example:1080"},
		{"ftp://files.example", ""},
		{"ftp://files.example:21", "files.example:21"},
		{"file:///srv/mirror", ""},
		{"http://:8080", ""},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := HostPort(u); got != tt.want {
			t.Errorf("HostPort(%s) = %q; want %q", tt.url, got, tt.want)
		}
	}
}
