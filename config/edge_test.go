package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/gomirror/gomirror/config"
)

const fileSecret = "contents-n0t-for-logs"

// secretFile writes fileSecret (with a newline) to a new file.
func secretFile(t *testing.T) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(f, []byte(fileSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestEdgeSettingErrors(t *testing.T) {
	f := secretFile(t)
	s3 := []string{"--storage=s3", "--s3-bucket=b", "--s3-endpoint=minio.lan"}
	for _, tt := range []struct {
		name    string
		args    []string
		env     map[string]string
		wantKey string
		wantMsg string
	}{
		{"secret key inline and from a file", append(s3, "--s3-access-key-file="+f, "--s3-secret-key-file="+f), map[string]string{"GOMIRROR_S3_SECRET_KEY": "inline"}, "s3-secret-key-file", "not both"},
		{"access key inline and from a file", append(s3, "--s3-access-key=AK", "--s3-access-key-file="+f, "--s3-secret-key-file="+f), nil, "s3-access-key-file", "not both"},
		{"access key file without a secret", append(s3, "--s3-access-key-file="+f), nil, "s3-access-key", "go together"},
		{"unreadable secret key file", append(s3, "--s3-access-key=AK", "--s3-secret-key-file=/nonexistent/secret"), nil, "s3-secret-key-file", "no such file"},
		{"a directory as a secret file", append(s3, "--s3-access-key=AK", "--s3-secret-key-file="+t.TempDir()), nil, "s3-secret-key-file", "directory"},
		{"redis password twice", []string{"--redis=redis://:inline@127.0.0.1:6379/0", "--redis-password-file=" + f}, nil, "redis-password-file", "not both"},
		{"redis password file without redis", []string{"--redis-password-file=" + f}, nil, "redis-password-file", "needs redis"},
		{"missing upstream netrc", []string{"--upstream-netrc=/nonexistent/netrc"}, nil, "upstream-netrc", "no such file"},
		{"unknown admin-auth", []string{"--admin-auth=maybe"}, nil, "admin-auth", "want auto, token or off"},
		{"admin-auth token without tokens", []string{"--admin-auth=token"}, nil, "tokens-file", "admin-auth token"},
		{"admin-listen not an address", []string{"--admin-listen=3001"}, nil, "admin-listen", "missing port"},
		{"admin-listen is listen", []string{"--admin-listen=127.0.0.1:3000"}, nil, "admin-listen", "another address"},
		{"upstream without a scheme, with credentials", []string{"--upstream=alice:" + fileSecret + "@127.0.0.1:1"}, nil, "upstream", "is not a URL"},
		{"upstream pointing at itself, with credentials", []string{"--upstream=http://alice:" + fileSecret + "@127.0.0.1:3000"}, nil, "upstream", "own address"},
		{"group mirror not http, with credentials", nil, map[string]string{"GOMIRROR_UPSTREAM_GROUPS": "[{name: g, mirrors: ['ftp://alice:" + fileSecret + "@127.0.0.1:1']}]"}, "upstream-groups", "want an http(s) URL"},
		{"group lag-weight negative", nil, map[string]string{"GOMIRROR_UPSTREAM_GROUPS": "[{name: g, mirrors: ['http://127.0.0.1:1'], lag-weight: -1}]"}, "upstream-groups", "must not be negative"},
		{"trusted-proxies not networks", []string{"--trusted-proxies=10.0.0.0/8,proxy.lan"}, nil, "trusted-proxies", `"proxy.lan"`},
		{"trusted-proxies with host bits", []string{"--trusted-proxies=192.168.1.7/24"}, nil, "trusted-proxies", `"192.168.1.7/24": address bits set after the prefix length; did you mean 192.168.1.0/24?`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, sources(t, "", tt.env, tt.args...), nil)
			var ce *config.Error
			if !errors.As(err, &ce) || ce.Key != tt.wantKey || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("LoadServe error %v; want a config.Error for %s saying %q", err, tt.wantKey, tt.wantMsg)
			}
			if strings.Contains(err.Error(), fileSecret) || strings.Contains(err.Error(), "inline") {
				t.Errorf("the error shows a secret: %v", err)
			}
		})
	}
}

func TestEdgeSettingsLoad(t *testing.T) {
	f := secretFile(t)
	cfg, err := load(t, sources(t, "admin-listen: 127.0.0.1:3001\nadmin-auth: off\ntrusted-proxies: 10.0.0.0/8, 192.168.1.7\n",
		map[string]string{"GOMIRROR_S3_SECRET_KEY_FILE": f},
		"--storage=s3", "--s3-bucket=b", "--s3-endpoint=minio.lan", "--s3-access-key-file="+f,
		"--redis=redis://127.0.0.1:6379/0", "--redis-password-file="+f, "--upstream-netrc="+f), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AdminListen != "127.0.0.1:3001" || cfg.AdminAuth != "off" || cfg.S3SecretKeyFile != f || cfg.RedisPasswordFile != f || cfg.UpstreamNetrc != f {
		t.Errorf("settings not loaded: %+v", cfg)
	}
	// Files are read where they are used, once; the config holds names.
	if cfg.S3SecretKey != "" || cfg.S3AccessKey != "" {
		t.Error("the config holds the secret read from a file")
	}
	got, err := config.ReadSecretFile(f)
	if err != nil || got != fileSecret {
		t.Errorf("ReadSecretFile = %q, %v; want the contents without the newline", got, err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	if _, err := config.ReadSecretFile(empty); err == nil {
		t.Error("ReadSecretFile of an empty file succeeded")
	}
}

// TestHelpShowsNoSecrets: --help shows the values a flag set was built
// from as defaults; a secret must not be among them.
func TestHelpShowsNoSecrets(t *testing.T) {
	const secret = "h3lp-s3cret"
	cfg := config.Defaults()
	cfg.Upstream = "http://user:" + secret + "@127.0.0.1:1|https://" + secret + "@127.0.0.1:2,direct"
	cfg.Redis = "redis://:" + secret + "@127.0.0.1:6379/0"
	cfg.S3AccessKey, cfg.S3SecretKey = secret+"-ak", secret
	flags := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	config.RegisterFlags(flags, &cfg)
	help := flags.FlagUsages()
	if strings.Contains(help, secret) {
		t.Errorf("--help shows the secret:\n%s", help)
	}
	for _, want := range []string{`"http://127.0.0.1:1|https://127.0.0.1:2,direct"`, `"redis://127.0.0.1:6379/0"`, `"(hidden)"`} {
		if !strings.Contains(help, want) {
			t.Errorf("--help lacks the redacted default %s", want)
		}
	}
	// The flags still carry the real values.
	if v, _ := flags.GetString("s3-secret-key"); v != secret {
		t.Errorf("s3-secret-key flag value %q; the redaction must only change what help shows", v)
	}
	// The help of the settings that hold secrets steers to the file settings.
	for name, want := range map[string]string{"s3-secret-key": "s3-secret-key-file", "upstream": "upstream-netrc", "redis": "redis-password-file"} {
		if u := flags.Lookup(name).Usage; !strings.Contains(u, want) || !strings.Contains(u, "ps") {
			t.Errorf("--%s help %q does not point to %s", name, u, want)
		}
	}
}

func TestAdminAnonymous(t *testing.T) {
	for _, tt := range []struct {
		listen, adminListen, auth, adminAuth string
		trustedProxies                       string
		want                                 bool
	}{
		{"127.0.0.1:3000", "", "off", "auto", "", true},
		{"[::1]:3000", "", "off", "auto", "", true},
		{"localhost:3000", "", "off", "auto", "", true},
		{"127.0.0.1:3000", "", "private", "auto", "", false}, // a server that asks clients for tokens
		{"0.0.0.0:3000", "", "off", "auto", "", false},
		{":3000", "", "off", "auto", "", false},
		{"10.1.2.3:3000", "", "off", "auto", "", false},
		{"0.0.0.0:3000", "127.0.0.1:3001", "all", "auto", "", true}, // the separate loopback port
		{"0.0.0.0:3000", "0.0.0.0:3001", "off", "auto", "", false},
		{"127.0.0.1:3000", "", "off", "token", "", false},
		{"0.0.0.0:3000", "", "all", "off", "", true},
		// A reverse proxy on the same host forwards everyone to loopback.
		{"127.0.0.1:3000", "", "off", "auto", "127.0.0.1", false},
		{"127.0.0.1:3000", "127.0.0.1:3001", "off", "auto", "127.0.0.1", true},
	} {
		c := config.Defaults()
		c.Listen, c.AdminListen, c.Auth, c.AdminAuth, c.TrustedProxies = tt.listen, tt.adminListen, tt.auth, tt.adminAuth, tt.trustedProxies
		if got, _ := c.AdminAnonymous(); got != tt.want {
			t.Errorf("listen %s, admin-listen %q, auth %s, admin-auth %s: anonymous %v; want %v", tt.listen, tt.adminListen, tt.auth, tt.adminAuth, got, tt.want)
		}
	}
}
