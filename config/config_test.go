package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/gomirror/gomirror/config"
)

// fakeGoEnv answers like `go env` from vars, with offVars as the answer when
// asked with GOENV=off, and records every call.
type fakeGoEnv struct {
	vars, offVars map[string]string
	err           error

	mu    sync.Mutex
	calls [][]string
}

func (g *fakeGoEnv) GoEnv(vars ...string) (map[string]string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = append(g.calls, slices.Clone(vars))
	if g.err != nil {
		return nil, g.err
	}
	src := g.vars
	if slices.Contains(vars, "GOENV=off") && g.offVars != nil {
		src = g.offVars
	}
	out := map[string]string{}
	for _, v := range vars {
		if !strings.Contains(v, "=") {
			out[v] = src[v]
		}
	}
	return out, nil
}

func (g *fakeGoEnv) askedWithGOENVOff() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.ContainsFunc(g.calls, func(c []string) bool { return slices.Contains(c, "GOENV=off") })
}

func (g *fakeGoEnv) numCalls() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.calls)
}

// goEnvAnswer is what the fake go command says unless a test wants otherwise.
var goEnvAnswer = map[string]string{
	"GOPROXY":   "http://127.0.0.1:9/goenv-proxy,direct",
	"GOSUMDB":   "sum.example.test+goenvkey",
	"GONOSUMDB": "example.test/private",
}

// sources builds Sources from a YAML file body (none if empty), an
// environment and command-line arguments.
func sources(t *testing.T, yaml string, env map[string]string, args ...string) config.Sources {
	t.Helper()
	var src config.Sources
	if yaml != "" {
		src.File = filepath.Join(t.TempDir(), "gomirror.yaml")
		if err := os.WriteFile(src.File, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src.Env = func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	flags := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	defaults := config.Defaults()
	config.RegisterFlags(flags, &defaults)
	if err := flags.Parse(args); err != nil {
		t.Fatalf("parsing %q: %v", args, err)
	}
	src.Flags = flags
	return src
}

func load(t *testing.T, src config.Sources, g *fakeGoEnv) (*config.Serve, error) {
	t.Helper()
	if g == nil {
		g = &fakeGoEnv{vars: goEnvAnswer}
	}
	return config.LoadServe(src, g.GoEnv)
}

func TestPrecedenceFlagEnvFileDefault(t *testing.T) {
	const (
		fileYAML = "log-level: warn\ndirect-procs: 5\nfresh-timeout: 4s\n"
	)
	env := map[string]string{
		"GOMIRROR_LOG_LEVEL":     "error",
		"GOMIRROR_DIRECT_PROCS":  "6",
		"GOMIRROR_FRESH_TIMEOUT": "5s",
	}
	flags := []string{"--log-level=debug", "--direct-procs=7", "--fresh-timeout=6s"}
	def := config.Defaults()

	type want struct {
		level string
		procs int
		fresh time.Duration
	}
	fromDefault := want{def.LogLevel, def.DirectProcs, def.FreshTimeout}
	fromFile := want{"warn", 5, 4 * time.Second}
	fromEnv := want{"error", 6, 5 * time.Second}
	fromFlag := want{"debug", 7, 6 * time.Second}
	if fromDefault == fromFile || fromDefault == fromEnv || fromDefault == fromFlag {
		t.Fatalf("the layers must differ from the defaults %+v", fromDefault)
	}

	tests := []struct {
		name             string
		file, env, flags bool
		want             want
	}{
		{"defaults alone", false, false, false, fromDefault},
		{"file beats default", true, false, false, fromFile},
		{"env beats default", false, true, false, fromEnv},
		{"env beats file", true, true, false, fromEnv},
		{"flag beats default", false, false, true, fromFlag},
		{"flag beats file", true, false, true, fromFlag},
		{"flag beats env", false, true, true, fromFlag},
		{"flag beats env and file", true, true, true, fromFlag},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var y string
			var e map[string]string
			var a []string
			if tt.file {
				y = fileYAML
			}
			if tt.env {
				e = env
			}
			if tt.flags {
				a = flags
			}
			cfg, err := load(t, sources(t, y, e, a...), nil)
			if err != nil {
				t.Fatal(err)
			}
			got := want{cfg.LogLevel, cfg.DirectProcs, cfg.FreshTimeout}
			if got != tt.want {
				t.Errorf("got %+v; want %+v", got, tt.want)
			}
		})
	}

	t.Run("a flag given its default value still wins", func(t *testing.T) {
		cfg, err := load(t, sources(t, fileYAML, env, "--log-level="+def.LogLevel), nil)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.LogLevel != def.LogLevel {
			t.Errorf("log-level = %q; want the flag's %q", cfg.LogLevel, def.LogLevel)
		}
	})
}

func TestInvalidSettings(t *testing.T) {
	tests := []struct {
		name       string
		yaml       string
		env        map[string]string
		args       []string
		wantKey    string
		wantSource string // "file" stands for "file <the file's path>"
		wantMsg    string
	}{
		{"unknown key in the file", "listen: 127.0.0.1:1\nbogus-key: 1\n", nil, nil, "bogus-key", "file", "unknown setting"},
		{"a list in the file", "upstream: [a, b]\n", nil, nil, "upstream", "file", "single value"},
		{"a mapping in the file", "listen:\n  host: 127.0.0.1\n", nil, nil, "listen", "file", "single value"},
		{"bad duration in the file", "fresh-timeout: soon\n", nil, nil, "fresh-timeout", "file", "not a duration"},
		{"bad duration in the env", "", map[string]string{"GOMIRROR_FETCH_TIMEOUT": "10"}, nil,
			"fetch-timeout", "env GOMIRROR_FETCH_TIMEOUT", "not a duration"},
		{"bad int in the file", "direct-procs: many\n", nil, nil, "direct-procs", "file", "not an integer"},
		{"bad int in the env", "", map[string]string{"GOMIRROR_DIRECT_PROCS": "1.5"}, nil,
			"direct-procs", "env GOMIRROR_DIRECT_PROCS", "not an integer"},
		{"bad log-format from a flag", "", nil, []string{"--log-format=xml"}, "log-format", "flag --log-format", "want text or json"},
		{"bad log-format from the env", "", map[string]string{"GOMIRROR_LOG_FORMAT": "xml"}, nil,
			"log-format", "env GOMIRROR_LOG_FORMAT", "want text or json"},
		{"bad log-format from the file", "log-format: xml\n", nil, nil, "log-format", "file", "want text or json"},
		{"bad log-level from the file", "log-level: loud\n", nil, nil, "log-level", "file", "want debug"},
		{"negative duration from a flag", "", nil, []string{"--shutdown-timeout=-1s"}, "shutdown-timeout", "flag --shutdown-timeout", "must be positive"},
		{"zero procs from the env", "", map[string]string{"GOMIRROR_DIRECT_PROCS": "0"}, nil,
			"direct-procs", "env GOMIRROR_DIRECT_PROCS", "at least 1"},
		{"zero write-timeout from a flag", "", nil, []string{"--write-timeout=0s"}, "write-timeout", "flag --write-timeout", "must be positive"},
		{"zero max-conns from the file", "max-conns: 0\n", nil, nil, "max-conns", "file", "at least 1"},
		{"bad storage-max-size", "storage-max-size: lots\n", nil, nil, "storage-max-size", "file", "want a size"},
		{"negative storage-max-size", "", nil, []string{"--storage-max-size=-1GiB"}, "storage-max-size", "flag --storage-max-size", "want a size"},
		{"bad retention", "retention: forever\n", nil, nil, "retention", "file", "want a period"},
		{"retention under an hour", "", map[string]string{"GOMIRROR_RETENTION": "10m"}, nil, "retention", "env GOMIRROR_RETENTION", "less than an hour"},
		{"gc-interval too short", "gc-interval: 1s\nretention: 180d\n", nil, nil, "gc-interval", "file", "at least 1m"},
		{"listen without a port", "", nil, []string{"--listen=localhost"}, "listen", "flag --listen", "port"},
		{"malformed YAML", "listen: [\n", nil, nil, "config", "file", "yaml"},
		{"a YAML list at the top", "- listen\n", nil, nil, "config", "file", "yaml"},
		{"unknown auth mode", "auth: some\n", nil, nil, "auth", "file", "want off, private or all"},
		{"auth without a tokens file", "auth: private\n", nil, nil, "tokens-file", "default", "required"},
		{"auth without TLS", "auth: all\ntokens-file: /tmp/t.json\n", nil, nil, "auth", "file", "only over HTTPS"},
		{"tls-key without tls-cert", "", nil, []string{"--tls-key=" + os.DevNull}, "tls-cert", "default", "go together"},
		{"a TLS file that does not exist", "tls-cert: /nonexistent/cert.pem\n", nil, nil, "tls-cert", "file", "no such file"},
		{"VCS credential without a secret source", "vcs-credentials:\n  - host: git.corp.example\n    username: bot\n", nil, nil,
			"vcs-credentials", "file", "exactly one of password-env and password-file"},
		{"VCS credential with both secret sources", "", map[string]string{"GOMIRROR_VCS_CREDENTIALS": `[{host: git.corp.example, username: bot, password-env: A, password-file: /b}]`}, nil,
			"vcs-credentials", "env GOMIRROR_VCS_CREDENTIALS", "exactly one"},
		{"VCS credential host with credentials in it", "vcs-credentials:\n  - {host: 'https://u:p@git.corp.example', username: bot, password-env: X}\n", nil, nil,
			"vcs-credentials", "file", "without credentials"},
		{"VCS credentials not a list", "", map[string]string{"GOMIRROR_VCS_CREDENTIALS": "host: x"}, nil,
			"vcs-credentials", "env GOMIRROR_VCS_CREDENTIALS", "YAML"},
		{"bad private pattern", "", nil, []string{"--private=corp.example/[x"}, "private", "flag --private", "bad pattern"},
		{"auth rules with auth off", "auth-rules:\n  - {modules: corp.example, tokens: [ci]}\n", nil, nil, "auth-rules", "file", "no effect"},
		{"negative list-ttl", "", nil, []string{"--list-ttl=-1s"}, "list-ttl", "flag --list-ttl", "negative"},
		{"vulndb neither module, off nor a URL", "vulndb: modules\n", nil, nil, "vulndb", "file", "want module, off or an http(s) URL"},
		{"vulndb a file URL", "", nil, []string{"--vulndb=file:///srv/vulndb"}, "vulndb", "flag --vulndb", "http(s) URL"},
		{"vulndb pointing at the mirror itself", "", nil, []string{"--vulndb=http://127.0.0.1:3000/vuln"}, "vulndb", "flag --vulndb", "own address"},
		{"vulndb-module not a module path", "vulndb-module: golang.org/x/vulndb@v1\n", nil, nil, "vulndb-module", "file", "malformed"},
		{"vulndb-refresh too short", "", map[string]string{"GOMIRROR_VULNDB_REFRESH": "10s"}, nil, "vulndb-refresh", "env GOMIRROR_VULNDB_REFRESH", "at least 1m"},
		{"negative memory-cache", "", nil, []string{"--memory-cache=-1"}, "memory-cache", "flag --memory-cache", "between 0 and"},
		{"memory-cache in bytes, not MiB", "memory-cache: 33554432\n", nil, nil, "memory-cache", "file", "between 0 and 65536 (MiB)"},
		{"direct-allow-networks with a host name", "direct-allow-networks: 10.0.0.0/8, git.corp.example\n", nil, nil,
			"direct-allow-networks", "file", "not an IP address"},
		{"direct-allow-networks with host bits", "", map[string]string{"GOMIRROR_DIRECT_ALLOW_NETWORKS": "10.1.2.3/8"}, nil,
			"direct-allow-networks", "env GOMIRROR_DIRECT_ALLOW_NETWORKS", "did you mean 10.0.0.0/8"},
		{"unknown storage", "storage: nfs\n", nil, nil, "storage", "file", "want fs or s3"},
		{"s3 without an endpoint", "storage: s3\ns3-bucket: b\n", nil, nil, "s3-endpoint", "default", "required with storage s3"},
		{"s3 without a bucket", "storage: s3\ns3-endpoint: minio.lan:9000\n", nil, nil, "s3-bucket", "default", "required with storage s3"},
		{"s3 endpoint with a scheme", "", nil, []string{"--storage=s3", "--s3-bucket=b", "--s3-endpoint=https://minio.lan"}, "s3-endpoint", "flag --s3-endpoint", "without a scheme"},
		{"s3 access key without its secret", "", map[string]string{"GOMIRROR_S3_ACCESS_KEY": "AK"}, []string{"--storage=s3", "--s3-bucket=b", "--s3-endpoint=minio.lan"}, "s3-access-key", "env GOMIRROR_S3_ACCESS_KEY", "go together"},
		{"zip redirect without s3", "s3-zip-redirect: true\n", nil, nil, "s3-zip-redirect", "file", "needs storage s3"},
		{"postgres URL without a host", "database: postgres:///gomirror\n", nil, nil, "database", "file", "names no host"},
		{"postgres URL that does not parse", "", nil, []string{"--database=postgres://u:secret@[::1/gomirror"}, "database", "flag --database", "database"},
		{"a database URL of another kind", "", map[string]string{"GOMIRROR_DATABASE": "mysql://u@db.corp.example/gomirror"}, nil,
			"database", "env GOMIRROR_DATABASE", "want an SQLite file, a postgres:// URL or off"},
		{"database-password-file with SQLite", "database-password-file: " + os.DevNull + "\n", nil, nil,
			"database-password-file", "file", "needs a postgres:// database"},
		{"database-password-file with database off", "", nil, []string{"--database=off", "--database-password-file=" + os.DevNull},
			"database-password-file", "flag --database-password-file", "needs a postgres:// database"},
		{"database-password-file and a password in the URL", "database: postgres://u:secret@db.corp.example/gomirror\ndatabase-password-file: " + os.DevNull + "\n", nil, nil,
			"database-password-file", "file", "not both"},
		{"database-password-file that does not exist", "", nil, []string{"--database=postgres://u@db.corp.example/gomirror", "--database-password-file=/nonexistent/pgpass"},
			"database-password-file", "flag --database-password-file", "no such file"},
		{"audit-log with database off", "database: off\naudit-log: '-'\n", nil, nil, "audit-log", "file", "database off"},
		{"negative audit-retention", "", nil, []string{"--audit-retention=-24h"}, "audit-retention", "flag --audit-retention", "negative"},
		{"audit-retention under a day", "", map[string]string{"GOMIRROR_AUDIT_RETENTION": "23h"}, nil,
			"audit-retention", "env GOMIRROR_AUDIT_RETENTION", "less than a day"},
		{"audit-retention not a duration", "audit-retention: 90d\n", nil, nil, "audit-retention", "file", "not a duration"},
		{"an alert rule of no kind", "alerts:\n  - {name: errs, kind: bogus, threshold: 5}\n", nil, nil, "alerts", "file", `alert rule "errs"`},
		{"an alert rule without a name", "", map[string]string{"GOMIRROR_ALERTS": "[{kind: error-rate, threshold: 5, window: 5m}]"}, nil,
			"alerts", "env GOMIRROR_ALERTS", "name"},
		{"an alert rule naming an unknown notifier", "alerts:\n  - {name: errs, kind: error-rate, threshold: 5, window: 5m, notifiers: [pager]}\n", nil, nil,
			"alerts", "file", `alert rule "errs": notifiers: no notifier is named "pager"`},
		{"alerts not a list", "alerts: many\n", nil, nil, "alerts", "file", "yaml"},
		{"a notifier of no type", "notifiers:\n  - {name: ops, type: pigeon, url: 'http://127.0.0.1:9/x'}\n", nil, nil,
			"notifiers", "file", `notifier "ops": type`},
		{"two notifiers of one name", "", map[string]string{"GOMIRROR_NOTIFIERS": "[{name: ops, type: webhook, url: 'http://127.0.0.1:9/a'}, {name: ops, type: webhook, url: 'http://127.0.0.1:9/b'}]"}, nil,
			"notifiers", "env GOMIRROR_NOTIFIERS", "given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := sources(t, tt.yaml, tt.env, tt.args...)
			wantSource := tt.wantSource
			if wantSource == "file" {
				wantSource = "file " + src.File
			}
			cfg, err := load(t, src, nil)
			if err == nil {
				t.Fatalf("LoadServe = %+v; want an error", cfg)
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %#v is not a *config.Error", err)
			}
			if ce.Key != tt.wantKey || ce.Source != wantSource {
				t.Errorf("Error{Key: %q, Source: %q}; want {%q, %q}", ce.Key, ce.Source, tt.wantKey, wantSource)
			}
			msg := err.Error()
			if strings.Contains(msg, "secret@") {
				t.Errorf("message %q shows a password", msg)
			}
			for _, want := range []string{tt.wantKey, wantSource, tt.wantMsg} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not mention %q", msg, want)
				}
			}
		})
	}

	t.Run("a missing config file", func(t *testing.T) {
		src := sources(t, "", nil)
		src.File = filepath.Join(t.TempDir(), "nonexistent.yaml")
		_, err := load(t, src, nil)
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Key != "config" || !errors.Is(err, os.ErrNotExist) {
			t.Errorf("LoadServe = %v; want a config.Error for key config wrapping not-exist", err)
		}
	})
}

func TestGoEnvDefaults(t *testing.T) {
	tests := []struct {
		name      string
		yaml      string
		env       map[string]string
		args      []string
		goenv     map[string]string
		wantUp    string
		wantSum   string
		wantNoSum string
		wantCalls int // -1: any number
	}{
		{"nothing set: all three from go env", "", nil, nil, goEnvAnswer,
			goEnvAnswer["GOPROXY"], goEnvAnswer["GOSUMDB"], goEnvAnswer["GONOSUMDB"], 1},
		{"a config file that sets none of them: all three from go env", "listen: 127.0.0.1:3001\n", nil, nil, goEnvAnswer,
			goEnvAnswer["GOPROXY"], goEnvAnswer["GOSUMDB"], goEnvAnswer["GONOSUMDB"], 1},
		{"upstream set: it is kept", "", nil, []string{"--upstream=http://127.0.0.1:7/mine"}, goEnvAnswer,
			"http://127.0.0.1:7/mine", goEnvAnswer["GOSUMDB"], goEnvAnswer["GONOSUMDB"], 1},
		{"sumdb set: it is kept and nosumdb is not taken from go env", "", map[string]string{"GOMIRROR_SUMDB": "off"}, nil, goEnvAnswer,
			goEnvAnswer["GOPROXY"], "off", "", 1},
		{"nosumdb set in the file: it is kept", "nosumdb: example.test/mine\n", nil, nil, goEnvAnswer,
			goEnvAnswer["GOPROXY"], goEnvAnswer["GOSUMDB"], "example.test/mine", 1},
		{"nosumdb set empty in the env: it stays empty", "", map[string]string{"GOMIRROR_NOSUMDB": ""}, nil, goEnvAnswer,
			goEnvAnswer["GOPROXY"], goEnvAnswer["GOSUMDB"], "", 1},
		{"nosumdb set empty in the file: it stays empty", "nosumdb: \"\"\n", nil, nil, goEnvAnswer,
			goEnvAnswer["GOPROXY"], goEnvAnswer["GOSUMDB"], "", 1},
		{"upstream and sumdb set: go env is asked only for GOPRIVATE", "upstream: off\n", nil, []string{"--sumdb=off"}, goEnvAnswer,
			"off", "off", "", 1},
		{"go env says nothing: off", "", nil, nil, map[string]string{},
			"off", "off", "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &fakeGoEnv{vars: tt.goenv}
			cfg, err := load(t, sources(t, tt.yaml, tt.env, tt.args...), g)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Upstream != tt.wantUp || cfg.SumDB != tt.wantSum || cfg.NoSumDB != tt.wantNoSum {
				t.Errorf("upstream, sumdb, nosumdb = %q, %q, %q; want %q, %q, %q",
					cfg.Upstream, cfg.SumDB, cfg.NoSumDB, tt.wantUp, tt.wantSum, tt.wantNoSum)
			}
			if tt.wantCalls >= 0 && g.numCalls() != tt.wantCalls {
				t.Errorf("go env asked %d times (%q); want %d", g.numCalls(), g.calls, tt.wantCalls)
			}
		})
	}

	t.Run("go env failing is an error naming upstream", func(t *testing.T) {
		g := &fakeGoEnv{err: errors.New("exec: go: not found")}
		_, err := load(t, sources(t, "", nil), g)
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Key != "upstream" || !strings.Contains(err.Error(), "go env") {
			t.Errorf("LoadServe = %v; want a config.Error for upstream that mentions go env", err)
		}
	})
	t.Run("go env failing does not matter when upstream, sumdb and private are set", func(t *testing.T) {
		g := &fakeGoEnv{err: errors.New("exec: go: not found")}
		if _, err := load(t, sources(t, "", nil, "--upstream=off", "--sumdb=off", "--private="), g); err != nil {
			t.Errorf("LoadServe: %v", err)
		}
	})
}

func TestSelfLoopGuard(t *testing.T) {
	const listen = "127.0.0.1:3000"
	self := "http://localhost:3000"
	fallback := "http://127.0.0.1:9/default-proxy,direct"
	tests := []struct {
		name       string
		goenv      string // GOPROXY from go env
		goenvOff   string // GOPROXY from go env with GOENV=off
		args       []string
		wantUp     string // "" when an error is wanted
		wantSource string // of the error
		wantOff    bool   // GOENV=off is asked
	}{
		{"go env points at us: the GOENV=off answer is used", self, fallback, nil, fallback, "", true},
		{"go env does not point at us: it is used as is", fallback, "http://127.0.0.1:8/other", nil, fallback, "", false},
		{"both answers point at us: refused", self, self + "/", nil, "", "default", true},
		{"an explicit upstream pointing at us is refused, not replaced", fallback, fallback,
			[]string{"--upstream=" + self}, "", "flag --upstream", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &fakeGoEnv{
				vars:    map[string]string{"GOPROXY": tt.goenv, "GOSUMDB": "off"},
				offVars: map[string]string{"GOPROXY": tt.goenvOff, "GOSUMDB": "off"},
			}
			args := append([]string{"--listen=" + listen}, tt.args...)
			cfg, err := load(t, sources(t, "", nil, args...), g)
			if g.askedWithGOENVOff() != tt.wantOff {
				t.Errorf("asked go env with GOENV=off: %v; want %v (calls %q)", !tt.wantOff, tt.wantOff, g.calls)
			}
			if tt.wantUp != "" {
				if err != nil {
					t.Fatal(err)
				}
				if cfg.Upstream != tt.wantUp {
					t.Errorf("upstream = %q; want %q", cfg.Upstream, tt.wantUp)
				}
				return
			}
			var ce *config.Error
			if !errors.As(err, &ce) || ce.Key != "upstream" || ce.Source != tt.wantSource {
				t.Fatalf("LoadServe error %v; want a config.Error for upstream from %s", err, tt.wantSource)
			}
			if !strings.Contains(err.Error(), "points at this server") {
				t.Errorf("error %q does not say why", err)
			}
		})
	}
}

func TestPointsAt(t *testing.T) {
	tests := []struct {
		name   string
		list   string
		listen string
		want   bool
	}{
		{"same address", "http://127.0.0.1:3000", "127.0.0.1:3000", true},
		{"https and a path", "https://127.0.0.1:3000/go/", "127.0.0.1:3000", true},
		{"localhost for 127.0.0.1", "http://localhost:3000", "127.0.0.1:3000", true},
		{"IPv6 loopback for 127.0.0.1", "http://[::1]:3000", "127.0.0.1:3000", true},
		{"loopback for all interfaces", "http://127.0.0.1:3000", "0.0.0.0:3000", true},
		{"loopback for an empty host", "http://localhost:3000", ":3000", true},
		{"loopback for IPv6 any", "http://127.0.0.1:3000", "[::]:3000", true},
		{"later in a list", "direct,http://127.0.0.1:1|http://localhost:3000,off", "127.0.0.1:3000", true},
		{"spaces around elements", " http://127.0.0.1:3000 ", "127.0.0.1:3000", true},
		{"same host name", "http://mirror.example.test:3000", "mirror.example.test:3000", true},
		{"credentials before the host", "http://user:pw@127.0.0.1:3000", "127.0.0.1:3000", true},
		{"default http port", "http://127.0.0.1/", "127.0.0.1:80", true},
		{"default https port", "https://localhost", "127.0.0.1:443", true},

		{"another port", "http://127.0.0.1:3001", "127.0.0.1:3000", false},
		{"a port that only starts the same", "http://127.0.0.1:30000", "127.0.0.1:3000", false},
		{"another host", "http://192.0.2.1:3000", "127.0.0.1:3000", false},
		{"loopback proxy, server on another address", "http://127.0.0.1:3000", "192.0.2.1:3000", false},
		{"a host name for all interfaces", "http://mirror.example.test:3000", "0.0.0.0:3000", false},
		{"direct and off only", "direct,off", "127.0.0.1:3000", false},
		{"a bad listen address", "http://127.0.0.1:3000", "nonsense", false},
		{"the port in the path only", "http://127.0.0.1:1/127.0.0.1:3000", "127.0.0.1:3000", false},
		{"empty list", "", "127.0.0.1:3000", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := config.PointsAt(tt.list, tt.listen); got != tt.want {
				t.Errorf("PointsAt(%q, %q) = %v; want %v", tt.list, tt.listen, got, tt.want)
			}
		})
	}
}

func TestStructuredSettings(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := `private: corp.example,*.corp.example
vcs-credentials:
  - host: git.corp.example
    username: bot
    password-env: CORP_TOKEN
  - host: http://127.0.0.1:8080
    username: ci
    password-file: ` + secretFile + `
auth: private
tokens-file: /etc/gomirror/tokens.json
tls-cert: ` + os.DevNull + `
tls-key: ` + os.DevNull + `
auth-rules:
  - modules: corp.example/payroll
    tokens: [payroll-ci, alice]
`
	cfg, err := load(t, sources(t, yaml, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	wantCreds := []config.VCSCredential{
		{Host: "git.corp.example", Username: "bot", PasswordEnv: "CORP_TOKEN"},
		{Host: "http://127.0.0.1:8080", Username: "ci", PasswordFile: secretFile},
	}
	if !slices.Equal(cfg.VCSCredentials, wantCreds) {
		t.Errorf("vcs-credentials = %+v, want %+v", cfg.VCSCredentials, wantCreds)
	}
	if len(cfg.AuthRules) != 1 || cfg.AuthRules[0].Modules != "corp.example/payroll" || !slices.Equal(cfg.AuthRules[0].Tokens, []string{"payroll-ci", "alice"}) {
		t.Errorf("auth-rules = %+v", cfg.AuthRules)
	}
	if cfg.Private != "corp.example,*.corp.example" || cfg.Auth != "private" {
		t.Errorf("private = %q, auth = %q", cfg.Private, cfg.Auth)
	}

	// The environment replaces the file's list as a whole, in YAML flow syntax.
	env := map[string]string{"GOMIRROR_VCS_CREDENTIALS": `[{host: git.other.example, username: u, password-env: OTHER}]`}
	cfg, err = load(t, sources(t, yaml, env), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.VCSCredentials) != 1 || cfg.VCSCredentials[0].Host != "git.other.example" {
		t.Errorf("vcs-credentials from env = %+v", cfg.VCSCredentials)
	}
}

// TestPrivateDefaultsToGoEnv: private is go env GOPRIVATE whatever else is
// set (issue 11: --upstream given with GOPRIVATE in the environment used to
// drop private protection silently); only an explicit value, even an empty
// one, replaces it.
func TestPrivateDefaultsToGoEnv(t *testing.T) {
	goenv := map[string]string{"GOPROXY": "http://127.0.0.1:9/p", "GOSUMDB": "off", "GOPRIVATE": "corp.example"}
	tests := []struct {
		name      string
		yaml      string
		env       map[string]string
		args      []string
		want      string
		wantCalls [][]string
	}{
		{"nothing set", "", nil, nil, "corp.example",
			[][]string{{"GOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE"}}},
		{"upstream given as a flag", "", nil, []string{"--upstream=http://127.0.0.1:7/mine"}, "corp.example",
			[][]string{{"GOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE"}}},
		{"upstream given in the environment", "", map[string]string{"GOMIRROR_UPSTREAM": "http://127.0.0.1:7/mine"}, nil, "corp.example",
			[][]string{{"GOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE"}}},
		{"upstream and sumdb given: go env is asked for GOPRIVATE alone", "upstream: http://127.0.0.1:7/mine\n", nil, []string{"--sumdb=off"}, "corp.example",
			[][]string{{"GOPRIVATE"}}},
		{"a flag replaces it", "", nil, []string{"--upstream=http://127.0.0.1:7/mine", "--private=other.example"}, "other.example",
			[][]string{{"GOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE"}}},
		{"an empty flag turns it off", "", nil, []string{"--upstream=http://127.0.0.1:7/mine", "--private="}, "",
			[][]string{{"GOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE"}}},
		{"an empty env var turns it off", "", map[string]string{"GOMIRROR_PRIVATE": ""}, nil, "",
			[][]string{{"GOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE"}}},
		{"empty in the file turns it off", "private: \"\"\n", nil, []string{"--upstream=http://127.0.0.1:7/mine"}, "",
			[][]string{{"GOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE"}}},
		{"all three given: go env is not asked", "private: \"\"\n", nil, []string{"--upstream=off", "--sumdb=off"}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &fakeGoEnv{vars: goenv}
			cfg, err := load(t, sources(t, tt.yaml, tt.env, tt.args...), g)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Private != tt.want {
				t.Errorf("private = %q, want %q", cfg.Private, tt.want)
			}
			if !slices.EqualFunc(g.calls, tt.wantCalls, slices.Equal) {
				t.Errorf("go env asked %q, want %q", g.calls, tt.wantCalls)
			}
		})
	}

	t.Run("go env failing is an error naming private when it is not given", func(t *testing.T) {
		g := &fakeGoEnv{err: errors.New("exec: go: not found")}
		_, err := load(t, sources(t, "", nil, "--upstream=off", "--sumdb=off"), g)
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Key != "private" || !strings.Contains(err.Error(), "GOPRIVATE") {
			t.Errorf("LoadServe = %v; want a config.Error for private that mentions GOPRIVATE", err)
		}
	})
}

func TestDirectAllowNetworks(t *testing.T) {
	cfg, err := load(t, sources(t, "direct-allow-networks: 10.20.0.0/16, 192.168.1.5 fd00:1::/48\n", nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DirectAllowNetworks != "10.20.0.0/16, 192.168.1.5 fd00:1::/48" {
		t.Errorf("direct-allow-networks = %q", cfg.DirectAllowNetworks)
	}
	cfg, err = load(t, sources(t, "", nil, "--direct-allow-networks=127.0.0.0/8"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DirectAllowNetworks != "127.0.0.0/8" {
		t.Errorf("from a flag: %q", cfg.DirectAllowNetworks)
	}
}

// TestRecordsSettings checks the valid values of the database, audit and
// alert settings.
func TestRecordsSettings(t *testing.T) {
	dir := t.TempDir()
	pass := filepath.Join(dir, "pgpass")
	if err := os.WriteFile(pass, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name          string
		yaml          string
		args          []string
		database      string
		postgres, off bool
		auditLog      string
		retention     time.Duration
	}{
		{"defaults", "", []string{"--storage-dir=" + dir}, filepath.Join(dir, ".gomirror", "gomirror.db"), false, false, "", 90 * 24 * time.Hour},
		{"an SQLite file", "database: " + filepath.Join(dir, "x.db") + "\n", nil, filepath.Join(dir, "x.db"), false, false, "", 90 * 24 * time.Hour},
		{"off", "database: 'off'\n", nil, "off", false, true, "", 90 * 24 * time.Hour},
		{"postgres with a password file", "", []string{"--database=postgres://gomirror@db.corp.example:5432/gomirror", "--database-password-file=" + pass},
			"postgres://gomirror@db.corp.example:5432/gomirror", true, false, "", 90 * 24 * time.Hour},
		{"postgresql through a socket", "database: postgresql:///gomirror?host=/run/postgresql\n", nil, "postgresql:///gomirror?host=/run/postgresql", true, false, "", 90 * 24 * time.Hour},
		{"audit log to stdout, kept forever", "audit-log: '-'\naudit-retention: 0s\n", []string{"--storage-dir=" + dir}, filepath.Join(dir, ".gomirror", "gomirror.db"), false, false, "-", 0},
		{"audit log to a file, kept a day", "", []string{"--storage-dir=" + dir, "--audit-log=" + filepath.Join(dir, "audit.jsonl"), "--audit-retention=24h"},
			filepath.Join(dir, ".gomirror", "gomirror.db"), false, false, filepath.Join(dir, "audit.jsonl"), 24 * time.Hour},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := load(t, sources(t, tt.yaml, nil, tt.args...), nil)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Database != tt.database || cfg.PostgresDatabase() != tt.postgres || cfg.DatabaseOff() != tt.off ||
				cfg.AuditLog != tt.auditLog || cfg.AuditRetention != tt.retention {
				t.Errorf("database %q (postgres %v, off %v), audit-log %q, audit-retention %v; want %q (%v, %v), %q, %v",
					cfg.Database, cfg.PostgresDatabase(), cfg.DatabaseOff(), cfg.AuditLog, cfg.AuditRetention,
					tt.database, tt.postgres, tt.off, tt.auditLog, tt.retention)
			}
		})
	}

	// Alert rules and notifiers, from the file or the environment.
	yaml := `alerts:
  - {name: errors, kind: error-rate, threshold: 5, window: 5m, notifiers: [ops]}
notifiers:
  - {name: ops, type: webhook, url: 'http://127.0.0.1:9/hook'}
`
	cfg, err := load(t, sources(t, yaml, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Alerts) != 1 || cfg.Alerts[0].Name != "errors" || len(cfg.Notifiers) != 1 || cfg.Notifiers[0].Name != "ops" {
		t.Errorf("alerts %+v, notifiers %+v", cfg.Alerts, cfg.Notifiers)
	}
	env := map[string]string{"GOMIRROR_ALERTS": "[{name: slow, kind: error-rate, threshold: 1, window: 1m}]", "GOMIRROR_NOTIFIERS": "[]"}
	cfg, err = load(t, sources(t, yaml, env), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Alerts) != 1 || cfg.Alerts[0].Name != "slow" || len(cfg.Notifiers) != 0 {
		t.Errorf("from the environment: alerts %+v, notifiers %+v", cfg.Alerts, cfg.Notifiers)
	}
}

func TestParseSizeAndRetention(t *testing.T) {
	sizes := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"", 0, true}, {"0", 0, true}, {"1234", 1234, true}, {"50GiB", 50 << 30, true}, {"50G", 50 << 30, true},
		{"500MB", 500e6, true}, {"2 TiB", 2 << 40, true}, {"8KiB", 8 << 10, true}, {"1B", 1, true},
		{"1.5GiB", 3 << 29, true}, {"50gib", 50 << 30, true}, {"500m", 500 << 20, true}, {"500mb", 500e6, true}, {"1.5g", 3 << 29, true},
		{"GiB", 0, false}, {"-1", 0, false}, {"9999999TiB", 0, false}, {"5XB", 0, false}, {"1.5", 0, false},
	}
	for _, tt := range sizes {
		got, err := config.ParseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	periods := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, true}, {"0", 0, true}, {"180d", 180 * 24 * time.Hour, true}, {"2w", 14 * 24 * time.Hour, true},
		{"4320h", 4320 * time.Hour, true}, {"1.5d", 0, false}, {"-3d", 0, false}, {"soon", 0, false}, {"-1h", 0, false},
	}
	for _, tt := range periods {
		got, err := config.ParseRetention(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseRetention(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// TestGCIntervalOnlyWithGC: gc-interval is checked only when a quota or a
// retention is set (it means nothing otherwise).
func TestGCIntervalOnlyWithGC(t *testing.T) {
	if _, err := load(t, sources(t, "gc-interval: 1s\n", nil), nil); err != nil {
		t.Errorf("gc-interval 1s without quota or retention: %v", err)
	}
}
