// Package config holds gomirror's typed configuration and loads it from, in
// increasing precedence: built-in defaults, a YAML file, GOMIRROR_* environment
// variables, and command-line flags. Every setting has one name, used as the
// YAML key, the flag (--name) and the environment variable (GOMIRROR_NAME,
// upper case with '-' as '_'). Load validates the result once.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/dustin/go-humanize"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/alert"
	"github.com/gomirror/gomirror/internal/clientaddr"
	"github.com/gomirror/gomirror/internal/netconf"
	"github.com/gomirror/gomirror/internal/redact"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/modpattern"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/upstream"
)

// Serve is the configuration of `gomirror serve`.
type Serve struct {
	Listen             string        `name:"listen" help:"address to listen on"`
	Storage            string        `name:"storage" help:"where artifacts are stored: fs (storage-dir) or s3 (the s3-* settings)"`
	StorageDir         string        `name:"storage-dir" help:"directory for stored artifacts with storage fs, and for gomirror's local work files with any storage (default <user cache dir>/gomirror)"`
	S3Endpoint         string        `name:"s3-endpoint" help:"S3 API host[:port], without a scheme"`
	S3Region           string        `name:"s3-region" help:"S3 region (default: discovered)"`
	S3Bucket           string        `name:"s3-bucket" help:"S3 bucket (must exist)"`
	S3Prefix           string        `name:"s3-prefix" help:"prefix for every object name in the bucket"`
	S3PathStyle        bool          `name:"s3-path-style" help:"path-style requests (endpoint/bucket/key), as MinIO and many S3-compatible stores need"`
	S3Insecure         bool          `name:"s3-insecure" help:"plain HTTP to the S3 endpoint instead of HTTPS"`
	S3AccessKey        string        `name:"s3-access-key" secret:"true" help:"S3 access key (default: AWS_/MINIO_ environment, AWS files, instance role); or s3-access-key-file"`
	S3SecretKey        string        `name:"s3-secret-key" secret:"true" help:"S3 secret key; on a command line it shows in ps: use s3-secret-key-file or the environment (GOMIRROR_S3_SECRET_KEY or AWS_SECRET_ACCESS_KEY)"`
	S3ZipRedirect      bool          `name:"s3-zip-redirect" help:"answer zip requests with a redirect to a presigned S3 URL instead of streaming them"`
	Upstream           string        `name:"upstream" help:"upstreams in GOPROXY syntax: URLs, direct, off, or names of upstream-groups (default: go env GOPROXY); user:password@ in a URL on a command line shows in ps: put credentials in upstream-netrc"`
	SumDB              string        `name:"sumdb" help:"checksum database in GOSUMDB syntax, or off (default: go env GOSUMDB)"`
	NoSumDB            string        `name:"nosumdb" help:"module path patterns exempt from checksum verification, GONOSUMDB syntax (default: go env GONOSUMDB)"`
	BundleTrust        string        `name:"bundle-trust" help:"verifier keys (space- or comma-separated; bundle keygen prints one) whose signature of a bundle's manifest bundle import trusts for modules exempt from the checksum database"`
	LogFormat          string        `name:"log-format" help:"log format: text or json"`
	LogLevel           string        `name:"log-level" help:"log level: debug, info, warn or error"`
	FreshTimeout       time.Duration `name:"fresh-timeout" help:"how long list and @latest wait for the upstream before serving the stored copy"`
	FetchTimeout       time.Duration `name:"fetch-timeout" help:"time limit for one upstream fetch, including verification"`
	Prefetch           int           `name:"prefetch" help:"how many .mod/.zip fills may run ahead of clients (after a .info miss: its .mod and .zip; after a .mod miss: the .mod files it requires) (0 disables)"`
	MemoryCache        int           `name:"memory-cache" help:"MiB of memory for stored .info and .mod files (each up to 64 KiB), answered from there without reading storage; least recently used first out (0 disables)"`
	NegativeTTL        time.Duration `name:"negative-ttl" help:"how long the upstream's \"not found\" is remembered (0 disables)"`
	ShutdownTimeout    time.Duration `name:"shutdown-timeout" help:"how long in-flight requests may take to finish on SIGINT/SIGTERM"`
	WriteTimeout       time.Duration `name:"write-timeout" help:"a response whose connection accepts none of it for this long is cut off (slow clients that keep reading are served to the end)"`
	MaxConns           int           `name:"max-conns" help:"most client connections open at once; when all are taken, a new one replaces the longest idle one, or waits to be accepted"`
	MaxConnsPerClient  int           `name:"max-conns-per-client" help:"most connections open at once from one client address (IPv6: one /64; trusted-proxies are not counted); more are closed at once (0: no limit)"`
	DirectDir          string        `name:"direct-dir" help:"work directory for direct (VCS) fetches (default <storage-dir>/.gomirror/direct)"`
	DirectProcs        int           `name:"direct-procs" help:"maximum concurrent go commands for direct fetches, in each of the two sandboxes (public modules, private modules)"`
	DirectCAFile       string        `name:"direct-ca-file" help:"PEM file of the certificate authorities that public direct fetches trust instead of the system's (for a network that inspects TLS); gomirror's own SSL_CERT_FILE is not passed on to them"`
	DirectQueueTimeout time.Duration `name:"direct-queue-timeout" help:"how long a direct fetch waits for a free go command slot before the client gets 503 with Retry-After"`
	ListTTL            time.Duration `name:"list-ttl" help:"how long list and @latest answers fetched directly from version control are reused before asking again"`

	DirectAllowNetworks string `name:"direct-allow-networks" help:"networks that public direct fetches and upstream redirects may reach although they are loopback, private, link-local or otherwise internal: CIDRs or addresses separated by commas (default none)"`

	Private string `name:"private" help:"private module path patterns, GOPRIVATE syntax, matched ignoring case: fetched only directly from version control, never named to an upstream proxy or the checksum database (default: go env GOPRIVATE, whatever else is set; \"\" for none)"`
	NoProxy string `name:"noproxy" help:"more patterns fetched only directly from version control, GONOPROXY syntax (added to private)"`

	VCSNetrc         string          `name:"vcs-netrc" help:".netrc file with credentials for version control hosts"`
	VCSSSHKey        string          `name:"vcs-ssh-key" help:"SSH private key for ssh:// and git@ remotes"`
	VCSSSHKnownHosts string          `name:"vcs-ssh-known-hosts" help:"known_hosts file for SSH remotes (unknown hosts are refused)"`
	VCSCredentials   []VCSCredential `name:"vcs-credentials" help:"per-host credentials for version control: a YAML list of {host, username, password-env | password-file}"`

	UpstreamGroups []UpstreamGroup `name:"upstream-groups" help:"named groups of equivalent mirrors that upstream may name: a YAML list of {name, mirrors, ...tuning}"`

	VulnDB        string        `name:"vulndb" help:"the Go vulnerability database served at /vuln/ (and read by the policy's deny-vulnerable): module (the OSV files of vulndb-module, fetched through this mirror and verified like any module), the http(s) URL of a vulnerability database, or off"`
	VulnDBModule  string        `name:"vulndb-module" help:"the module carrying the database in its data/osv directory, with vulndb module (a fork or an imported copy)"`
	VulnDBRefresh time.Duration `name:"vulndb-refresh" help:"how often the vulnerability database is refreshed (a failed refresh keeps the last good copy and is retried after at most 5m)"`

	Redis          string        `name:"redis" help:"Redis URL (redis://host:port/db) for replicas sharing one storage: cross-replica fill locks and a shared short-lived cache; a password in the URL on a command line shows in ps: use redis-password-file"`
	RedisLockTTL   time.Duration `name:"redis-lock-ttl" help:"how long a fill lock outlives a replica that stopped renewing it (died)"`
	RedisSharedTTL time.Duration `name:"redis-shared-ttl" help:"how long replicas share a list, @latest or checksum database tree head answer"`

	TLSCert string `name:"tls-cert" help:"TLS certificate file (PEM); serve HTTPS when set, together with tls-key"`
	TLSKey  string `name:"tls-key" help:"TLS private key file (PEM)"`

	Auth       string     `name:"auth" help:"who must present a token: off, private (private modules need one) or all"`
	TokensFile string     `name:"tokens-file" help:"file of hashed client tokens, managed with gomirror token"`
	AuthRules  []AuthRule `name:"auth-rules" help:"module patterns open only to named tokens: a YAML list of {modules, tokens}; first match wins"`

	AdminListen    string `name:"admin-listen" help:"a separate address for the operator endpoints (/metrics, /upstreams, /debug/pprof/); they then answer 404 on listen"`
	AdminAuth      string `name:"admin-auth" help:"who may use the operator endpoints: auto (anonymous only on a loopback listener, and on listen only with auth off and no trusted-proxies; else an admin token), token (always an admin token) or off (anyone)"`
	TrustedProxies string `name:"trusted-proxies" help:"reverse proxies (CIDRs or addresses) whose X-Forwarded-For is believed: the client address is its right-most address that is not a trusted proxy"`

	S3AccessKeyFile   string `name:"s3-access-key-file" help:"file holding the S3 access key, read once at start (instead of s3-access-key)"`
	S3SecretKeyFile   string `name:"s3-secret-key-file" help:"file holding the S3 secret key, read once at start (instead of s3-secret-key)"`
	RedisPasswordFile string `name:"redis-password-file" help:"file holding the Redis password, read once at start (instead of a password in the redis URL)"`
	UpstreamNetrc     string `name:"upstream-netrc" help:".netrc file with basic-auth credentials for upstream proxies: a machine entry (host[:port] as in the URL) applies to upstream and upstream-groups URLs without user:password@"`

	Database             string           `name:"database" help:"where the audit log, download statistics, catalog and alert history are kept: an SQLite file (default <storage-dir>/.gomirror/gomirror.db), a postgres:// URL that replicas share (a password in the URL on a command line shows in ps: use PGPASSFILE or database-password-file), or off"`
	DatabasePasswordFile string           `name:"database-password-file" help:"file holding the PostgreSQL password, read once at start (instead of a password in the database URL)"`
	AuditLog             string           `name:"audit-log" help:"also write every audit record as a JSON line to this file (appended), or - for standard output, for log shippers (default none)"`
	Alerts               []alert.Rule     `name:"alerts" help:"alert rules evaluated in-process: a YAML list of {name, kind, threshold, window, for, repeat, resolve, notifiers, ...} (see docs/operations.md, Alerts)"`
	Notifiers            []alert.Notifier `name:"notifiers" help:"where alerts are sent: a YAML list of {name, type: webhook|slack|dingtalk|wecom|feishu|email, ...} (see docs/operations.md, Alerts)"`
	AlertInterval        time.Duration    `name:"alert-interval" help:"how often the alert rules are evaluated"`
	AuditRetention       time.Duration    `name:"audit-retention" help:"how long audit records are kept (2160h: 90 days; 0: forever); their daily roll-ups (download statistics) are kept"`

	StorageMaxSize  string        `name:"storage-max-size" help:"quota of the stored module files (sumdb data, gomirror's own state and hash side-files not counted): 50GiB, 1.5GiB, 500MB (10^6 bytes; 500M is 500MiB), or bytes, any case; the garbage collector evicts least recently downloaded zips until under it (default none)"`
	Retention       string        `name:"retention" help:"evict the zip (with gc-evict-metadata, also the .mod and .info) of a version not downloaded for this long: 180d, 26w or a Go duration like 4320h (default none: kept)"`
	GCInterval      time.Duration `name:"gc-interval" help:"how often serve runs the garbage collector when storage-max-size or retention is set (also whenever stored bytes pass the quota)"`
	GCEvictMetadata bool          `name:"gc-evict-metadata" help:"evict a version's .mod and .info with its zip, instead of zips only (hash side-files always stay)"`
	GCEvictPrivate  bool          `name:"gc-evict-private" help:"let the garbage collector evict private modules (private, noproxy), which may not be fetched again if their origin is gone"`
	// MaxStoredBytes and RetentionPeriod are storage-max-size and
	// retention parsed by validation (0: none).
	MaxStoredBytes  int64         `name:"-"`
	RetentionPeriod time.Duration `name:"-"`

	Policy       string        `name:"policy" help:"the policy file (YAML): which modules and versions may be served, to whom (see docs/policy.md); read again when it changes"`
	PolicyReload time.Duration `name:"policy-reload" help:"how often the policy file is read to see whether it changed"`

	// GoEnv is how unset go-derived defaults are looked up; nil means
	// running `go env`. Tests replace it.
	GoEnv func(vars ...string) (map[string]string, error) `name:"-"`
}

// VCSCredential is a username and secret for one version control host. The
// secret itself is never part of the configuration: it is read from an
// environment variable or a file when the server starts.
type VCSCredential struct {
	// Host is a host name ("git.corp.example", meaning https) or a base URL
	// ("http://127.0.0.1:8080"), with a port if not the scheme's default.
	Host         string `yaml:"host"`
	Username     string `yaml:"username"`
	PasswordEnv  string `yaml:"password-env"`
	PasswordFile string `yaml:"password-file"`
}

// UpstreamGroup is a named set of equivalent mirrors. gomirror sends each
// request to the healthiest, hedges slow requests, retries failures on the
// next, and keeps a circuit breaker per mirror. Unset tuning fields take the
// defaults of upstream.GroupOptions.
type UpstreamGroup struct {
	Name            string        `yaml:"name"`
	Mirrors         []string      `yaml:"mirrors"`
	Timeout         time.Duration `yaml:"timeout"`
	Retries         *int          `yaml:"retries"`
	RetryBackoff    time.Duration `yaml:"retry-backoff"`
	MaxRetryAfter   time.Duration `yaml:"max-retry-after"`
	Hedge           *bool         `yaml:"hedge"`
	HedgeAfterMin   time.Duration `yaml:"hedge-after-min"`
	LatencyWeight   float64       `yaml:"latency-weight"`
	ErrorWeight     float64       `yaml:"error-weight"`
	SwitchThreshold float64       `yaml:"switch-threshold"`
	BreakerFailures int           `yaml:"breaker-failures"`
	BreakerCooldown time.Duration `yaml:"breaker-cooldown"`
	ProbeInterval   time.Duration `yaml:"probe-interval"`
	ProbePath       string        `yaml:"probe-path"`
	// Compare (default true) asks two mirrors for each list and @latest and
	// serves what one lacks and the checksum database confirms; LagWeight
	// (default 1; 0: lags are recorded, not scored) and LagHalfLife score
	// a lagging mirror down (upstream.GroupOptions).
	Compare     *bool         `yaml:"compare"`
	LagWeight   *float64      `yaml:"lag-weight"`
	LagHalfLife time.Duration `yaml:"lag-half-life"`
}

func (g UpstreamGroup) check(listen string) error {
	switch {
	case g.Name == "":
		return errors.New("name is required")
	case g.Name == "direct" || g.Name == "off" || g.Name == "noproxy" || strings.ContainsAny(g.Name, ",| :/"):
		return fmt.Errorf("name %q: want a plain word, not direct, off or a URL", g.Name)
	case len(g.Mirrors) == 0:
		return fmt.Errorf("group %s: mirrors is required", g.Name)
	}
	for _, m := range g.Mirrors {
		u, err := url.Parse(m)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("group %s: mirror %q: want an http(s) URL", g.Name, redact.URL(m))
		}
		if PointsAt(m, listen) {
			return fmt.Errorf("group %s: mirror %q points at this server's own address", g.Name, redact.URL(m))
		}
	}
	for _, d := range []time.Duration{g.Timeout, g.RetryBackoff, g.MaxRetryAfter, g.HedgeAfterMin, g.BreakerCooldown, g.LagHalfLife} {
		if d < 0 {
			return fmt.Errorf("group %s: durations must not be negative", g.Name)
		}
	}
	if g.LatencyWeight < 0 || g.ErrorWeight < 0 || (g.LagWeight != nil && *g.LagWeight < 0) || g.SwitchThreshold < 0 || g.BreakerFailures < 0 || (g.Retries != nil && *g.Retries < 0) {
		return fmt.Errorf("group %s: weights, thresholds and counts must not be negative", g.Name)
	}
	return nil
}

// AuthRule restricts the modules matching Modules (GOPRIVATE syntax) to the
// client tokens named in Tokens.
type AuthRule struct {
	Modules string   `yaml:"modules"`
	Tokens  []string `yaml:"tokens"`
}

// maxMemoryCache is the largest memory-cache, in MiB (64 GiB): more is a
// typing mistake.
const maxMemoryCache = 64 << 10

// Defaults returns the built-in defaults. Settings that default to what the
// go command says are filled in by Load only when nothing else sets them.
func Defaults() Serve {
	return Serve{
		Listen:             "127.0.0.1:3000",
		LogFormat:          "text",
		LogLevel:           "info",
		FreshTimeout:       3 * time.Second,
		FetchTimeout:       10 * time.Minute,
		Prefetch:           16,
		MemoryCache:        32,
		NegativeTTL:        time.Minute,
		ShutdownTimeout:    30 * time.Second,
		WriteTimeout:       time.Minute,
		MaxConns:           4096,
		MaxConnsPerClient:  256,
		DirectProcs:        4,
		DirectQueueTimeout: 30 * time.Second,
		ListTTL:            time.Minute,
		VulnDB:             "module",
		VulnDBModule:       "golang.org/x/vulndb",
		VulnDBRefresh:      time.Hour,
		Storage:            "fs",
		RedisLockTTL:       10 * time.Second,
		RedisSharedTTL:     5 * time.Second,
		Auth:               "off",
		AdminAuth:          "auto",
		AuditRetention:     90 * 24 * time.Hour,
		PolicyReload:       2 * time.Second,
		AlertInterval:      15 * time.Second,
		GCInterval:         time.Hour,
	}
}

// Error is an invalid setting.
type Error struct {
	Key    string // the setting's name
	Source string // "flag", "env GOMIRROR_X", "file F", or "default"
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("config: %s (from %s): %v", e.Key, e.Source, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// field is one setting of a config struct.
type field struct {
	name, help string
	secret     bool // tagged secret:"true": its value is never shown
	v          reflect.Value
}

func fields(cfg any) []field {
	v := reflect.ValueOf(cfg).Elem()
	var fs []field
	for i := 0; i < v.NumField(); i++ {
		sf := v.Type().Field(i)
		name := sf.Tag.Get("name")
		if name == "" || name == "-" {
			continue
		}
		fs = append(fs, field{name: name, help: sf.Tag.Get("help"), secret: sf.Tag.Get("secret") == "true", v: v.Field(i)})
	}
	return fs
}

var _ storage.Settings = (*Serve)(nil)

// Setting returns the value of setting name ("s3-bucket") as text (bools
// "true" or "false", durations as time.Duration prints them), and whether
// c has such a setting. Storage drivers read their settings through it
// (it makes *Serve a storage.Settings).
func (c *Serve) Setting(name string) (string, bool) {
	for _, f := range fields(c) {
		if f.name == name {
			return fmt.Sprint(f.v.Interface()), true
		}
	}
	return "", false
}

// EnvName is the environment variable for setting name.
func EnvName(name string) string {
	return "GOMIRROR_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// RegisterFlags defines a flag for every setting of cfg (a pointer to a
// config struct), with cfg's current values shown as defaults. A default
// shown in --help never holds a secret: the value of a setting tagged
// secret:"true" is shown as "(hidden)", and URLs lose their userinfo.
func RegisterFlags(flags *pflag.FlagSet, cfg any) {
	for _, f := range fields(cfg) {
		help := f.help
		switch p := f.v.Addr().Interface().(type) {
		case *string:
			flags.String(f.name, *p, help)
			fl := flags.Lookup(f.name)
			switch {
			case f.secret && *p != "":
				fl.DefValue = "(hidden)"
			default:
				fl.DefValue = redact.List(*p)
			}
		case *int:
			flags.Int(f.name, *p, help)
		case *bool:
			flags.Bool(f.name, *p, help)
		case *time.Duration:
			flags.Duration(f.name, *p, help)
		}
	}
}

// Sources are the places settings come from, besides the defaults.
type Sources struct {
	File  string // YAML file path; empty for none
	Env   func(string) (string, bool)
	Flags *pflag.FlagSet // flags registered with RegisterFlags, already parsed
}

// apply sets cfg (a pointer to a config struct) from the file, the
// environment and the changed flags, in that order.
func apply(cfg any, src Sources) error {
	fs := fields(cfg)
	if src.File != "" {
		b, err := os.ReadFile(src.File)
		if err != nil {
			return &Error{Key: "config", Source: "flag --config", Err: err}
		}
		var raw map[string]yaml.Node
		if err := yaml.Unmarshal(b, &raw); err != nil {
			return &Error{Key: "config", Source: "file " + src.File, Err: err}
		}
		known := map[string]field{}
		for _, f := range fs {
			known[f.name] = f
		}
		for key, node := range raw {
			f, ok := known[key]
			if !ok {
				return &Error{Key: key, Source: "file " + src.File, Err: errors.New("unknown setting")}
			}
			if structured(f.v) {
				if err := node.Decode(f.v.Addr().Interface()); err != nil {
					return &Error{Key: key, Source: "file " + src.File, Err: err}
				}
				continue
			}
			if node.Kind != yaml.ScalarNode {
				return &Error{Key: key, Source: "file " + src.File, Err: errors.New("must be a single value")}
			}
			if err := set(f.v, node.Value); err != nil {
				return &Error{Key: key, Source: "file " + src.File, Err: err}
			}
		}
	}
	if src.Env != nil {
		for _, f := range fs {
			if val, ok := src.Env(EnvName(f.name)); ok {
				if err := set(f.v, val); err != nil {
					return &Error{Key: f.name, Source: "env " + EnvName(f.name), Err: err}
				}
			}
		}
	}
	if src.Flags != nil {
		for _, f := range fs {
			if fl := src.Flags.Lookup(f.name); fl != nil && fl.Changed {
				if err := set(f.v, fl.Value.String()); err != nil {
					return &Error{Key: f.name, Source: "flag --" + f.name, Err: err}
				}
			}
		}
	}
	return nil
}

// structured reports whether a setting is a list or a struct: YAML only in
// the file, YAML (or JSON) text in the environment, and no flag.
func structured(v reflect.Value) bool {
	k := v.Kind()
	return k == reflect.Slice || k == reflect.Struct || k == reflect.Map
}

// set parses s into the setting v.
func set(v reflect.Value, s string) error {
	if structured(v) {
		if err := yaml.Unmarshal([]byte(s), v.Addr().Interface()); err != nil {
			return fmt.Errorf("not valid YAML for this setting: %v", err)
		}
		return nil
	}
	switch p := v.Addr().Interface().(type) {
	case *string:
		*p = s
	case *int:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("not an integer: %q", s)
		}
		*p = n
	case *bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("not a boolean: %q", s)
		}
		*p = b
	case *time.Duration:
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("not a duration (like 30s or 5m): %q", s)
		}
		*p = d
	default:
		return fmt.Errorf("unsupported setting type %s", v.Type())
	}
	return nil
}

// which reports where setting name of cfg was last set, for error messages.
func which(name string, src Sources) string {
	if src.Flags != nil {
		if fl := src.Flags.Lookup(name); fl != nil && fl.Changed {
			return "flag --" + name
		}
	}
	if src.Env != nil {
		if _, ok := src.Env(EnvName(name)); ok {
			return "env " + EnvName(name)
		}
	}
	if inFile(name, src) {
		return "file " + src.File
	}
	return "default"
}

// inFile reports whether the config file of src sets name.
func inFile(name string, src Sources) bool {
	if src.File == "" {
		return false
	}
	b, err := os.ReadFile(src.File)
	if err != nil {
		return false
	}
	var raw map[string]yaml.Node
	if yaml.Unmarshal(b, &raw) != nil {
		return false
	}
	_, ok := raw[name]
	return ok
}

// LoadServe builds the serve configuration from defaults and src, fills the
// go-derived defaults, and validates it.
func LoadServe(src Sources, goEnv func(vars ...string) (map[string]string, error)) (*Serve, error) {
	cfg := Defaults()
	if err := apply(&cfg, src); err != nil {
		return nil, err
	}
	cfg.GoEnv = goEnv
	if err := cfg.fillFromGoEnv(src); err != nil {
		return nil, err
	}
	if err := cfg.validate(src); err != nil {
		return nil, err
	}
	return &cfg, nil
}

func (c *Serve) fillFromGoEnv(src Sources) error {
	if c.StorageDir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return &Error{Key: "storage-dir", Source: "default", Err: err}
		}
		c.StorageDir = dir + string(os.PathSeparator) + "gomirror"
	}
	if c.DirectDir == "" {
		c.DirectDir = c.StorageDir + string(os.PathSeparator) + filepath.FromSlash(layout.DirectDir)
	}
	if c.Database == "" {
		c.Database = c.StorageDir + string(os.PathSeparator) + filepath.FromSlash(layout.DatabaseFile)
	}
	// private follows go env GOPRIVATE whatever else is set: a mirror
	// given its upstream explicitly must not silently lose the private
	// protection of its environment. Only an explicit value, even an empty
	// one, replaces it.
	needPrivate := which("private", src) == "default"
	if c.Upstream != "" && c.SumDB != "" {
		if !needPrivate {
			return nil
		}
		env, err := c.GoEnv("GOPRIVATE")
		if err != nil {
			return &Error{Key: "private", Source: "default", Err: fmt.Errorf("asking the go command (go env GOPRIVATE): %w; set private explicitly (\"\" for none)", err)}
		}
		c.Private = env["GOPRIVATE"]
		return nil
	}
	env, err := c.GoEnv("GOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE")
	if err != nil {
		return &Error{Key: "upstream", Source: "default", Err: fmt.Errorf("asking the go command (go env): %w; set upstream and sumdb explicitly", err)}
	}
	if needPrivate {
		c.Private = env["GOPRIVATE"]
	}
	fromGoEnv := c.Upstream == ""
	if c.Upstream == "" {
		c.Upstream = env["GOPROXY"]
	}
	if c.SumDB == "" {
		c.SumDB = env["GOSUMDB"]
		if c.NoSumDB == "" && which("nosumdb", src) == "default" {
			c.NoSumDB = env["GONOSUMDB"]
		}
	}
	if fromGoEnv && PointsAt(c.Upstream, c.Listen) {
		// `go env -w GOPROXY=<this server>` would make gomirror its own
		// upstream. Use the go command's defaults without the user's go env
		// file instead.
		envOff, err := c.GoEnv("GOPROXY", "GOENV=off")
		if err == nil && !PointsAt(envOff["GOPROXY"], c.Listen) {
			c.Upstream = envOff["GOPROXY"]
		}
	}
	if c.Upstream == "" {
		c.Upstream = "off"
	}
	if c.SumDB == "" {
		c.SumDB = "off"
	}
	return nil
}

// PointsAt reports whether the GOPROXY-syntax list names a proxy at the
// listen address.
func PointsAt(list, listen string) bool {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	for _, e := range upstream.SplitList(list) {
		u, err := url.Parse(e.Value)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			continue
		}
		h, p := u.Hostname(), u.Port()
		if p == "" {
			p = netconf.DefaultPort(u.Scheme)
		}
		if p != port {
			continue
		}
		if h == host || (isLoopback(h) && (isLoopback(host) || host == "" || host == "0.0.0.0" || host == "::")) {
			return true
		}
	}
	return false
}

func isLoopback(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}

func (c *Serve) validate(src Sources) error {
	bad := func(key string, err error) error { return &Error{Key: key, Source: which(key, src), Err: err} }
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return bad("listen", err)
	}
	if strings.TrimSpace(c.Upstream) == "" {
		return bad("upstream", errors.New("empty; use \"off\" to serve from storage only"))
	}
	if PointsAt(c.Upstream, c.Listen) {
		return bad("upstream", fmt.Errorf("%q points at this server's own address %s", redact.List(c.Upstream), c.Listen))
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return bad("log-format", fmt.Errorf("%q: want text or json", c.LogFormat))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return bad("log-level", fmt.Errorf("%q: want debug, info, warn or error", c.LogLevel))
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"fresh-timeout", c.FreshTimeout}, {"fetch-timeout", c.FetchTimeout}, {"shutdown-timeout", c.ShutdownTimeout}, {"write-timeout", c.WriteTimeout}} {
		if d.v <= 0 {
			return bad(d.key, fmt.Errorf("must be positive, not %v", d.v))
		}
	}
	if c.Prefetch < 0 {
		return bad("prefetch", fmt.Errorf("must not be negative, not %d", c.Prefetch))
	}
	if c.MemoryCache < 0 || c.MemoryCache > maxMemoryCache {
		return bad("memory-cache", fmt.Errorf("must be between 0 and %d (MiB), not %d", maxMemoryCache, c.MemoryCache))
	}
	if c.NegativeTTL < 0 {
		return bad("negative-ttl", fmt.Errorf("must not be negative, not %v", c.NegativeTTL))
	}
	if c.MaxConns < 1 {
		return bad("max-conns", fmt.Errorf("must be at least 1, not %d", c.MaxConns))
	}
	if c.MaxConnsPerClient < 0 {
		return bad("max-conns-per-client", fmt.Errorf("must not be negative, not %d", c.MaxConnsPerClient))
	}
	if c.DirectProcs < 1 {
		return bad("direct-procs", fmt.Errorf("must be at least 1, not %d", c.DirectProcs))
	}
	if c.DirectQueueTimeout <= 0 {
		return bad("direct-queue-timeout", fmt.Errorf("must be positive, not %v", c.DirectQueueTimeout))
	}
	switch c.Storage {
	case "fs":
	case "s3":
		if c.S3Endpoint == "" || c.S3Bucket == "" {
			key := "s3-endpoint"
			if c.S3Endpoint != "" {
				key = "s3-bucket"
			}
			return bad(key, errors.New("required with storage s3"))
		}
		if strings.Contains(c.S3Endpoint, "://") {
			return bad("s3-endpoint", fmt.Errorf("%q: give host[:port] without a scheme (s3-insecure for plain HTTP)", c.S3Endpoint))
		}
		if (c.S3AccessKey == "" && c.S3AccessKeyFile == "") != (c.S3SecretKey == "" && c.S3SecretKeyFile == "") {
			return bad("s3-access-key", errors.New("s3-access-key and s3-secret-key (or their -file settings) go together"))
		}
	default:
		// Other drivers (storage/mem, for tests) are accepted where the
		// program has registered them; they are not offered to users.
		if !slices.Contains(storage.Drivers(), c.Storage) {
			return bad("storage", fmt.Errorf("%q: want fs or s3", c.Storage))
		}
	}
	if err := c.validateGC(bad); err != nil {
		return err
	}
	if c.S3ZipRedirect && c.Storage != "s3" {
		return bad("s3-zip-redirect", errors.New("needs storage s3"))
	}
	if c.Redis != "" && !strings.HasPrefix(c.Redis, "redis://") && !strings.HasPrefix(c.Redis, "rediss://") {
		return bad("redis", errors.New("want a URL like redis://host:port/db or rediss://..."))
	}
	if c.RedisLockTTL < 100*time.Millisecond {
		return bad("redis-lock-ttl", fmt.Errorf("%v: want at least 100ms", c.RedisLockTTL))
	}
	if c.RedisSharedTTL < 0 {
		return bad("redis-shared-ttl", fmt.Errorf("must not be negative, not %v", c.RedisSharedTTL))
	}
	if c.ListTTL < 0 {
		return bad("list-ttl", fmt.Errorf("must not be negative, not %v", c.ListTTL))
	}
	switch c.VulnDB {
	case "module", "off":
	default:
		u, err := url.Parse(c.VulnDB)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return bad("vulndb", fmt.Errorf("%q: want module, off or an http(s) URL", redact.URL(c.VulnDB)))
		}
		if PointsAt(c.VulnDB, c.Listen) {
			return bad("vulndb", errors.New("points at this server's own address"))
		}
	}
	if err := module.CheckPath(c.VulnDBModule); err != nil {
		return bad("vulndb-module", err)
	}
	if c.VulnDBRefresh < time.Minute {
		return bad("vulndb-refresh", fmt.Errorf("%v: want at least 1m", c.VulnDBRefresh))
	}
	if _, err := netconf.ParseNetworks(c.DirectAllowNetworks); err != nil {
		return bad("direct-allow-networks", err)
	}
	for _, p := range []struct{ key, v string }{{"private", c.Private}, {"noproxy", c.NoProxy}, {"nosumdb", c.NoSumDB}} {
		if _, err := modpattern.Parse(p.v); err != nil {
			return bad(p.key, err)
		}
	}
	groups := map[string]bool{}
	for i, g := range c.UpstreamGroups {
		if err := g.check(c.Listen); err != nil {
			return bad("upstream-groups", fmt.Errorf("entry %d: %w", i+1, err))
		}
		if groups[g.Name] {
			return bad("upstream-groups", fmt.Errorf("group %s is defined twice", g.Name))
		}
		groups[g.Name] = true
	}
	for _, e := range upstream.SplitList(c.Upstream) {
		elem := e.Value
		if elem != "direct" && elem != "off" && !strings.Contains(elem, "://") && !groups[elem] {
			return bad("upstream", fmt.Errorf("%q is not a URL, direct, off or the name of an upstream group", redact.URL(elem)))
		}
	}
	for i, vc := range c.VCSCredentials {
		if err := vc.check(); err != nil {
			return bad("vcs-credentials", fmt.Errorf("entry %d: %w", i+1, err))
		}
	}
	for _, f := range []struct{ key, v string }{{"vcs-netrc", c.VCSNetrc}, {"direct-ca-file", c.DirectCAFile}, {"vcs-ssh-key", c.VCSSSHKey}, {"vcs-ssh-known-hosts", c.VCSSSHKnownHosts}, {"tls-cert", c.TLSCert}, {"tls-key", c.TLSKey}} {
		if f.v == "" {
			continue
		}
		if _, err := os.Stat(f.v); err != nil {
			return bad(f.key, err)
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		key := "tls-key"
		if c.TLSCert == "" {
			key = "tls-cert"
		}
		return bad(key, errors.New("tls-cert and tls-key go together"))
	}
	switch c.Auth {
	case "off":
	case "private", "all":
		if c.TokensFile == "" {
			return bad("tokens-file", fmt.Errorf("required with auth %q", c.Auth))
		}
		if c.TLSCert == "" {
			return bad("auth", errors.New("needs tls-cert and tls-key: the go command sends credentials only over HTTPS"))
		}
	default:
		return bad("auth", fmt.Errorf("%q: want off, private or all", c.Auth))
	}
	if err := c.validateEdge(bad); err != nil {
		return err
	}
	for i, r := range c.AuthRules {
		if strings.TrimSpace(r.Modules) == "" || len(r.Tokens) == 0 {
			return bad("auth-rules", fmt.Errorf("entry %d: needs modules and at least one token name", i+1))
		}
		if _, err := modpattern.Parse(r.Modules); err != nil {
			return bad("auth-rules", fmt.Errorf("entry %d: %w", i+1, err))
		}
	}
	if len(c.AuthRules) > 0 && c.Auth == "off" {
		return bad("auth-rules", errors.New("have no effect with auth off"))
	}
	if c.PostgresDatabase() {
		u, err := url.Parse(c.Database)
		if err != nil {
			return bad("database", redact.Err(err))
		}
		if u.Host == "" && u.Query().Get("host") == "" {
			return bad("database", fmt.Errorf("%s names no host", redact.URL(c.Database)))
		}
	} else {
		if scheme, _, ok := strings.Cut(c.Database, "://"); ok && !strings.ContainsAny(scheme, `/\`) {
			// mysql://, sqlite://: not an SQLite file to create by that name.
			return bad("database", fmt.Errorf("%s: want an SQLite file, a postgres:// URL or off", redact.URL(c.Database)))
		}
		if c.DatabasePasswordFile != "" {
			return bad("database-password-file", errors.New("needs a postgres:// database"))
		}
	}
	if c.AuditLog != "" && c.DatabaseOff() {
		return bad("audit-log", errors.New("has no effect with database off: audit records are written through the database's recorder"))
	}
	if err := alert.Validate(c.Alerts, c.Notifiers); err != nil {
		key := "alerts"
		if strings.HasPrefix(err.Error(), "notifier") {
			key = "notifiers"
		}
		return bad(key, err)
	}
	if c.AlertInterval < time.Second {
		return bad("alert-interval", fmt.Errorf("%v is less than a second", c.AlertInterval))
	}
	if c.AuditRetention < 0 {
		return bad("audit-retention", errors.New("negative"))
	}
	if c.AuditRetention > 0 && c.AuditRetention < 24*time.Hour {
		return bad("audit-retention", fmt.Errorf("%v is less than a day; records are pruned daily", c.AuditRetention))
	}
	if c.PolicyReload < 100*time.Millisecond {
		return bad("policy-reload", fmt.Errorf("%v is less than 100ms", c.PolicyReload))
	}
	return nil
}

// PostgresDatabase reports whether database names a PostgreSQL database
// (a postgres:// or postgresql:// URL) rather than an SQLite file or off.
func (c *Serve) PostgresDatabase() bool {
	return strings.HasPrefix(c.Database, "postgres://") || strings.HasPrefix(c.Database, "postgresql://")
}

// DatabaseOff reports whether the database is turned off.
func (c *Serve) DatabaseOff() bool { return c.Database == "off" }

// validateEdge checks the settings of secrets kept in files and of who may
// reach what: admin-listen, admin-auth, trusted-proxies.
func (c *Serve) validateEdge(bad func(string, error) error) error {
	for _, f := range []struct{ key, file, inlineKey, inline string }{
		{"s3-access-key-file", c.S3AccessKeyFile, "s3-access-key", c.S3AccessKey},
		{"s3-secret-key-file", c.S3SecretKeyFile, "s3-secret-key", c.S3SecretKey},
		{"redis-password-file", c.RedisPasswordFile, "redis", redisPassword(c.Redis)},
		{"database-password-file", c.DatabasePasswordFile, "database", urlPassword(c.Database)},
		{"upstream-netrc", c.UpstreamNetrc, "", ""},
	} {
		if f.file == "" {
			continue
		}
		if f.inline != "" {
			what := f.inlineKey
			if f.key == "redis-password-file" || f.key == "database-password-file" {
				what = "a password in the " + f.inlineKey + " URL"
			}
			return bad(f.key, fmt.Errorf("give either %s or %s, not both", f.key, what))
		}
		if err := readable(f.file); err != nil {
			return bad(f.key, err)
		}
	}
	if c.RedisPasswordFile != "" && c.Redis == "" {
		return bad("redis-password-file", errors.New("needs redis"))
	}
	if c.AdminListen != "" {
		if _, _, err := net.SplitHostPort(c.AdminListen); err != nil {
			return bad("admin-listen", err)
		}
		if _, port, _ := net.SplitHostPort(c.AdminListen); c.AdminListen == c.Listen && port != "0" {
			return bad("admin-listen", fmt.Errorf("%s is listen too: give another address", c.AdminListen))
		}
	}
	switch c.AdminAuth {
	case "auto", "off":
	case "token":
		if c.TokensFile == "" {
			return bad("tokens-file", errors.New("required with admin-auth token"))
		}
	default:
		return bad("admin-auth", fmt.Errorf("%q: want auto, token or off", c.AdminAuth))
	}
	if _, err := clientaddr.Parse(c.TrustedProxies); err != nil {
		return bad("trusted-proxies", err)
	}
	return nil
}

// readable checks that file can be opened for reading, without reading it.
func readable(file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return fmt.Errorf("%s is a directory", file)
	}
	return nil
}

// redisPassword returns the password in a Redis URL, or "".
func redisPassword(raw string) string { return urlPassword(raw) }

// urlPassword returns the password in a URL's userinfo, or "".
func urlPassword(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return ""
	}
	p, _ := u.User.Password()
	return p
}

// ReadSecretFile returns the contents of a file holding one secret (such
// as s3-secret-key-file), without a trailing newline. Errors name the file,
// never its contents.
func ReadSecretFile(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("%s is empty", file)
	}
	return s, nil
}

// AdminAnonymous reports whether the operator endpoints are open without a
// token, and on which listener they are served (admin-listen if set, else
// listen). With admin-auth auto they are anonymous only on a loopback
// listener, and on the main listener only with auth off and no
// trusted-proxies too (a server that asks clients for tokens asks its
// operators for one as well; behind a reverse proxy on the same host, a
// loopback listener serves everyone the proxy serves).
func (c *Serve) AdminAnonymous() (anonymous bool, on string) {
	on = c.Listen
	if c.AdminListen != "" {
		on = c.AdminListen
	}
	switch c.AdminAuth {
	case "off":
		return true, on
	case "token":
		return false, on
	}
	host, _, _ := net.SplitHostPort(on)
	return isLoopback(host) && (c.AdminListen != "" || c.Auth == "off" && strings.TrimSpace(c.TrustedProxies) == ""), on
}

// LoopbackListen reports whether the listen address addr accepts only
// loopback connections (a loopback IP or localhost, not an unspecified
// address).
func LoopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && isLoopback(host)
}

// NoProxyPatterns returns the module path patterns fetched only from
// version control: private and noproxy together. The error is a bad
// pattern, which only a configuration that was not validated can have.
func (c *Serve) NoProxyPatterns() (modpattern.List, error) { return joinPatterns(c.Private, c.NoProxy) }

// AuthRulePatterns returns the module path patterns of all auth-rules
// together: the modules open only to named tokens. The error is as for
// NoProxyPatterns.
func (c *Serve) AuthRulePatterns() (modpattern.List, error) {
	lists := make([]string, len(c.AuthRules))
	for i, r := range c.AuthRules {
		lists[i] = r.Modules
	}
	return joinPatterns(lists...)
}

// NoSumDBPatterns returns the module path patterns never looked up in the
// checksum database: private and nosumdb together. The error is as for
// NoProxyPatterns.
func (c *Serve) NoSumDBPatterns() (modpattern.List, error) { return joinPatterns(c.Private, c.NoSumDB) }

// BundleTrustKeys returns the verifier keys of setting bundle-trust.
func (c *Serve) BundleTrustKeys() []string {
	return strings.FieldsFunc(c.BundleTrust, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
}

// joinPatterns parses GOPRIVATE-syntax lists and joins them.
func joinPatterns(lists ...string) (modpattern.List, error) {
	parsed := make([]modpattern.List, len(lists))
	for i, l := range lists {
		var err error
		if parsed[i], err = modpattern.Parse(l); err != nil {
			return modpattern.List{}, err
		}
	}
	return modpattern.Join(parsed...), nil
}

func (vc VCSCredential) check() error {
	if vc.Host == "" {
		return errors.New("host is required")
	}
	if strings.Contains(vc.Host, "://") {
		u, err := url.Parse(vc.Host)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return fmt.Errorf("host %q: want a host name or an http(s) base URL without credentials", vc.Host)
		}
	} else if strings.ContainsAny(vc.Host, "/@ ") {
		return fmt.Errorf("host %q: want a host name or an http(s) base URL", vc.Host)
	}
	if vc.Username == "" {
		return fmt.Errorf("host %s: username is required", vc.Host)
	}
	if (vc.PasswordEnv == "") == (vc.PasswordFile == "") {
		return fmt.Errorf("host %s: give exactly one of password-env and password-file", vc.Host)
	}
	return nil
}

// validateGC parses storage-max-size and retention into MaxStoredBytes and
// RetentionPeriod.
func (c *Serve) validateGC(bad func(string, error) error) error {
	n, err := ParseSize(c.StorageMaxSize)
	if err != nil {
		return bad("storage-max-size", err)
	}
	c.MaxStoredBytes = n
	d, err := ParseRetention(c.Retention)
	if err != nil {
		return bad("retention", err)
	}
	if d > 0 && d < time.Hour {
		return bad("retention", fmt.Errorf("%v is less than an hour: access times are recorded every 30s and a version just fetched could go at once", d))
	}
	c.RetentionPeriod = d
	if c.GCEnabled() && c.GCInterval < time.Minute {
		return bad("gc-interval", fmt.Errorf("must be at least 1m, not %v", c.GCInterval))
	}
	return nil
}

// GCEnabled reports whether a quota or a retention is set.
func (c *Serve) GCEnabled() bool { return c.MaxStoredBytes > 0 || c.RetentionPeriod > 0 }

// ParseSize parses a byte size: a number, possibly with a fraction,
// followed by an optional unit, in any case and with optional space:
// KiB, MiB, GiB, TiB in powers of 1024; KB, MB, GB, TB in powers of 1000;
// a single letter K, M, G or T is the binary one (500M is 500 MiB, as
// before; 500MB is 500×10^6). "50GiB", "1.5gib", "500MB" and "1234" are
// sizes; "" and "0" are 0 (no limit). A fraction needs a unit. The units
// beyond that are github.com/dustin/go-humanize's ParseBytes.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	bad := fmt.Errorf("%q: want a size like 50GiB, 1.5GiB, 500MB or a number of bytes", s)
	in := s
	// A single-letter unit is binary: humanize reads it as decimal.
	if n := len(in); n > 0 && strings.ContainsRune("kmgtKMGT", rune(in[n-1])) {
		in += "iB"
	}
	num := strings.TrimRightFunc(in, func(r rune) bool { return r < '0' || r > '9' })
	if strings.ContainsAny(in[len(num):], "0123456789") || num == "" {
		return 0, bad
	}
	if strings.Contains(num, ".") && strings.TrimSpace(in[len(num):]) == "" {
		return 0, bad // a fraction of a byte
	}
	if strings.HasPrefix(in, "-") || strings.HasPrefix(in, "+") {
		return 0, bad
	}
	n, err := humanize.ParseBytes(in)
	if err != nil {
		return 0, bad
	}
	if n > 1<<62 {
		return 0, fmt.Errorf("%q: too large", s)
	}
	return int64(n), nil
}

// ParseRetention parses a retention period: a whole number of days ("180d")
// or weeks ("26w"), or a Go duration ("4320h"). "" and "0" are 0 (none).
func ParseRetention(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	for _, u := range []struct {
		suffix string
		d      time.Duration
	}{{"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour}} {
		if before, ok := strings.CutSuffix(s, u.suffix); ok {
			n, err := strconv.Atoi(before)
			if err != nil || n < 0 || n > 100*365 {
				break
			}
			return time.Duration(n) * u.d, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q: want a period like 180d, 26w or 4320h", s)
	}
	return d, nil
}
