package doctor

import (
	"errors"
	"fmt"
	"go/version"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/net/http/httpproxy"

	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/internal/diskspace"
	"github.com/gomirror/gomirror/internal/redact"
	"github.com/gomirror/gomirror/modpattern"
	"github.com/gomirror/gomirror/upstream"
)

// checkVersion reports `go version` output, warning below go1.21.
func checkVersion(out string) Result {
	r := Result{Check: "go-version", Status: OK, Message: i18n.T("%s", out)}
	f := strings.Fields(out)
	v := ""
	if len(f) >= 3 && f[0] == "go" && f[1] == "version" {
		v = f[2]
	}
	switch {
	case !version.IsValid(v):
		r.Message = i18n.T("%s (not a release version; not compared)", out)
	case version.Compare(v, "go1.21") < 0:
		r.Status, r.Problem = Warn, "old-go"
		r.Message = i18n.T("%s is older than go1.21, which lacks toolchain management (GOTOOLCHAIN) and the go line checks of newer modules", v)
		r.Fix = i18n.T("Install a current Go release from https://go.dev/dl/.")
	}
	return r
}

// proxySpec is one GOPROXY entry, as the go command reads it.
type proxySpec struct {
	URL             string
	FallBackOnError bool // followed by '|'
}

// parseGOPROXY parses GOPROXY the way the go command does
// (cmd/go/internal/modfetch/proxy.go): entries separated by ',' or '|',
// "direct" and "off" end the list, and an entry containing '.', ':' or '/'
// but no ":/" and not an absolute path gets "https://". ignored are the
// entries after "direct" or "off".
func parseGOPROXY(s string) (list []proxySpec, ignored []string, err error) {
	stopped := false
	for _, e := range upstream.SplitList(s) {
		u, fallBack := e.Value, e.FallOnAnyErr
		if stopped {
			ignored = append(ignored, u)
			continue
		}
		if u == "off" || u == "direct" {
			list = append(list, proxySpec{URL: u})
			stopped = true
			continue
		}
		if strings.ContainsAny(u, ".:/") && !strings.Contains(u, ":/") && !filepath.IsAbs(u) && !path.IsAbs(u) {
			u = "https://" + u
		}
		pu, perr := url.Parse(u)
		if perr != nil {
			return nil, nil, fmt.Errorf("invalid proxy URL %q: %v", u, perr)
		}
		switch pu.Scheme {
		case "http", "https":
			if pu.Host == "" {
				return nil, nil, fmt.Errorf("invalid proxy URL %q: no host", u)
			}
		case "file":
		default:
			return nil, nil, fmt.Errorf("invalid proxy URL %q: scheme must be https, http or file", u)
		}
		list = append(list, proxySpec{URL: strings.TrimRight(u, "/"), FallBackOnError: fallBack})
	}
	if len(list) == 0 {
		return nil, nil, errors.New("GOPROXY has no entries")
	}
	return list, ignored, nil
}

// redactGOPROXY is a GOPROXY value (or any list of URLs separated by ',',
// '|' or spaces) with every URL's password replaced (redact).
func redactGOPROXY(v string) string {
	var b strings.Builder
	start := 0
	for i := 0; i <= len(v); i++ {
		if i == len(v) || v[i] == ',' || v[i] == '|' || v[i] == ' ' {
			b.WriteString(redact.URL(v[start:i]))
			if i < len(v) {
				b.WriteByte(v[i])
			}
			start = i + 1
		}
	}
	return b.String()
}

// checkGOPROXY checks GOPROXY's syntax and shape and returns the proxy URLs
// (http, https and file) to check.
func checkGOPROXY(v string) ([]string, []Result) {
	list, ignored, err := parseGOPROXY(v)
	v = redactGOPROXY(v)
	base := Result{Check: "goproxy", Target: v}
	if err != nil {
		r := base
		r.Status, r.Problem = Fail, "goproxy-syntax"
		r.Message = i18n.T("GOPROXY=%q cannot be used: %v; every go command that downloads will fail", v, err)
		r.Fix = i18n.T("Set a valid list, e.g. go env -w GOPROXY=https://your-mirror.example,direct")
		return nil, []Result{r}
	}
	var urls, shown []string // shown: without passwords
	hasDirect, hasOff := false, false
	for _, p := range list {
		switch p.URL {
		case "direct":
			hasDirect = true
		case "off":
			hasOff = true
		default:
			urls = append(urls, p.URL)
			shown = append(shown, redact.URL(p.URL))
		}
	}
	var out []Result
	if hasOff {
		r := base
		r.Status, r.Problem = Fail, "goproxy-off"
		r.Message = i18n.T("GOPROXY ends in \"off\": nothing can be downloaded; any module not already in the module cache fails with \"module lookup disabled by GOPROXY=off\"")
		r.Fix = i18n.T("Point it at your mirror, e.g. gomirror setup https://your-mirror.example (or go env -w GOPROXY=https://your-mirror.example,direct)")
		if len(urls) > 0 {
			r.Message = i18n.T("GOPROXY ends in \"off\" after %s: a module those proxies do not have cannot be downloaded", strings.Join(shown, ", "))
			r.Status = Warn
			r.Fix = i18n.T("If the proxies should not be the only source, end the list with direct: go env -w GOPROXY=%s,direct", strings.Join(shown, ","))
		}
		out = append(out, r)
	} else if !hasDirect {
		r := base
		r.Status, r.Problem = Warn, "no-direct"
		r.Message = i18n.T("GOPROXY has no \"direct\" fallback: a module the proxies answer 404/410 for (one they cannot reach, e.g. a private one) cannot be fetched from its origin")
		r.Fix = i18n.T("go env -w GOPROXY=%s,direct (or list private modules in GOPRIVATE, which bypasses GOPROXY for them)", strings.Join(shown, ","))
		out = append(out, r)
	}
	if len(ignored) > 0 {
		r := base
		r.Status, r.Problem = Warn, "goproxy-ignored"
		r.Message = i18n.T("GOPROXY entries after \"direct\"/\"off\" are never used: %s", redactGOPROXY(strings.Join(ignored, ", ")))
		r.Fix = i18n.T("Move them before direct, or remove them.")
		out = append(out, r)
	}
	if len(out) == 0 {
		r := base
		r.Status = OK
		r.Message = i18n.T("proxy URLs: %d, with direct fallback", len(urls))
		out = append(out, r)
	}
	return urls, out
}

// goPatterns parses a go env list of module path patterns (GOPRIVATE
// syntax) as the go command reads it, keeping apart the patterns it can
// never match because path.Match rejects them.
func goPatterns(s string) (l modpattern.List, bad []string) {
	for p := range strings.SplitSeq(s, ",") {
		one, err := modpattern.Parse(p)
		if err != nil {
			bad = append(bad, strings.TrimSpace(p))
			continue
		}
		l = modpattern.Join(l, one)
	}
	return l, bad
}

// covered reports whether the go command, given list as GOPRIVATE-syntax
// setting, treats every path matching pattern p as matching list
// (approximately: p itself, read as a path, must match the list). It is the
// go command's case-sensitive rule (modpattern.List.MatchExact): a list that
// covers p only in another case does not protect p's modules.
func covered(list, p string) bool {
	l, _ := goPatterns(list)
	return l.MatchExact(p)
}

func splitPatterns(s string) []string {
	l, _ := goPatterns(s)
	return l.Patterns()
}

// checkPrivate compares GOPRIVATE with GONOSUMDB and GONOPROXY. When those
// are not set, go env reports GOPRIVATE's value for them, so a difference
// means they were set explicitly. A pattern of any of them that the go
// command can never match is a failure: the modules it names are not
// private.
func checkPrivate(env map[string]string) []Result {
	priv := env["GOPRIVATE"]
	var out []Result
	for _, k := range []string{"GOPRIVATE", "GONOSUMDB", "GONOPROXY"} {
		if k != "GOPRIVATE" && env[k] == priv {
			continue // follows GOPRIVATE: reported once
		}
		if _, bad := goPatterns(env[k]); len(bad) > 0 {
			out = append(out, Result{Check: "private", Status: Fail, Problem: "bad-pattern",
				Message: i18n.T("%s has pattern(s) that are not valid globs: %s; the go command never matches them, so the modules they were meant to cover are not private", k, strings.Join(bad, ", ")),
				Fix:     i18n.T("go env -w %s=... with the pattern(s) corrected (path.Match syntax: *, ?, [a-z], \\ escapes)", k)})
		}
	}
	if nosum := env["GONOSUMDB"]; nosum != priv && env["GOSUMDB"] != "off" {
		var miss []string
		for _, p := range splitPatterns(priv) {
			if !covered(nosum, p) {
				miss = append(miss, p)
			}
		}
		if len(miss) > 0 {
			out = append(out, Result{Check: "private", Status: Fail, Problem: "private-sent-to-sumdb",
				Message: i18n.T("GONOSUMDB=%q is set explicitly and does not cover GOPRIVATE pattern(s) %s: private module paths are sent to the checksum database (and their downloads fail verification)", nosum, strings.Join(miss, ", ")),
				Fix:     i18n.T("go env -w GONOSUMDB=%s (or go env -u GONOSUMDB to let it follow GOPRIVATE)", strings.Join(append(splitPatterns(nosum), miss...), ","))})
		}
	}
	if noproxy := env["GONOPROXY"]; noproxy != priv {
		var miss []string
		for _, p := range splitPatterns(priv) {
			if !covered(noproxy, p) {
				miss = append(miss, p)
			}
		}
		if len(miss) > 0 {
			out = append(out, Result{Check: "private", Status: Warn, Problem: "private-via-proxy",
				Message: i18n.T("GONOPROXY=%q does not cover GOPRIVATE pattern(s) %s: those private modules are requested from GOPROXY, which tells the proxy their paths (fine only if your own mirror serves them)", noproxy, strings.Join(miss, ", ")),
				Fix:     i18n.T("go env -w GONOPROXY=%s, or go env -u GONOPROXY to let it follow GOPRIVATE", strings.Join(append(splitPatterns(noproxy), miss...), ","))})
		}
	}
	if len(out) == 0 {
		msg := i18n.T("GOPRIVATE is not set")
		if priv != "" {
			msg = i18n.T("GOPRIVATE=%s is covered by GONOSUMDB and GONOPROXY", priv)
		}
		out = append(out, Result{Check: "private", Status: OK, Message: msg})
	}
	return out
}

// checkInsecure warns about a GOINSECURE that covers everything, a whole
// top-level domain, the probe module (a public module) or the checksum
// database.
func checkInsecure(env map[string]string, probe string) Result {
	v := env["GOINSECURE"]
	r := Result{Check: "goinsecure", Status: OK, Message: i18n.T("GOINSECURE is not set")}
	if v == "" {
		return r
	}
	var bad []string
	for _, p := range splitPatterns(v) {
		first, _, _ := strings.Cut(p, "/")
		literal := 0
		for l := range strings.SplitSeq(first, ".") {
			if !strings.ContainsAny(l, "*?[") {
				literal++
			}
		}
		if literal < 2 || covered(p, probe) || (sumDBName(env["GOSUMDB"]) != "" && covered(p, sumDBName(env["GOSUMDB"]))) {
			bad = append(bad, p)
		}
	}
	if len(bad) == 0 {
		r.Message = i18n.T("GOINSECURE=%s (plain HTTP and unverified TLS allowed for these paths only)", v)
		return r
	}
	r.Status, r.Problem = Warn, "insecure-public"
	r.Message = i18n.T("GOINSECURE pattern(s) %s cover public hosts: their modules may be fetched over plain HTTP or unverified TLS", strings.Join(bad, ", "))
	r.Fix = i18n.T("Limit GOINSECURE to your own hosts, e.g. go env -w GOINSECURE=git.corp.internal (better: give them a trusted certificate and go env -u GOINSECURE)")
	return r
}

// sumDBName is the checksum database's name in GOSUMDB ("" for off or unset).
func sumDBName(v string) string {
	f := strings.Fields(v)
	if len(f) == 0 || f[0] == "off" {
		return ""
	}
	name, _, _ := strings.Cut(f[0], "+")
	return name
}

func checkSumDB(v string, db *sumDB) Result {
	if db != nil && db.unusable {
		return Result{Check: "gosumdb", Status: Fail, Problem: "gosumdb-unknown",
			Message: i18n.T("GOSUMDB=%s names a checksum database whose key the go command does not know: it refuses to download any module not yet in go.sum", v),
			Fix:     i18n.T("go env -u GOSUMDB for the default database, or give the database with its key: go env -w GOSUMDB=NAME+HASH+KEY (as its operator publishes it)")}
	}
	if db != nil && db.keyErr != nil && strings.Contains(strings.Fields(v)[0], "+") {
		return Result{Check: "gosumdb", Status: Fail, Problem: "gosumdb-invalid",
			Message: i18n.T("GOSUMDB=%s cannot be used: %v; every download of a module not yet in go.sum fails", v, db.keyErr),
			Fix:     i18n.T("go env -u GOSUMDB for the default database, or set it to NAME+HASH+KEY exactly as the database's operator publishes it")}
	}
	if v == "off" {
		return Result{Check: "gosumdb", Status: Warn, Problem: "sumdb-off",
			Message: i18n.T("GOSUMDB=off: no checksum verification for modules not yet in go.sum; a proxy or origin serving altered code is not detected"),
			Fix:     i18n.T("go env -u GOSUMDB (list private modules in GOPRIVATE or GONOSUMDB instead)")}
	}
	if v == "" {
		return Result{Check: "gosumdb", Status: OK, Message: i18n.T("GOSUMDB is empty (the go command's default database)")}
	}
	return Result{Check: "gosumdb", Status: OK, Message: i18n.T("GOSUMDB=%s", v)}
}

// goFlags are the flags GOFLAGS may usefully hold (build, module and test flags).
var goFlags = map[string]bool{}

func init() {
	for f := range strings.FieldsSeq("a n p race msan asan cover covermode coverpkg v work x asmflags buildmode buildvcs compiler gccgoflags gcflags installsuffix ldflags linkshared mod modcacherw modfile overlay pgo pkgdir tags trimpath toolexec json e " +
		"count failfast short timeout run skip bench benchtime benchmem cpu shuffle vet parallel fullpath") {
		goFlags[f] = true
	}
}

func checkGOFLAGS(v string) []Result {
	var out []Result
	for _, f := range strings.Fields(v) {
		if !strings.HasPrefix(f, "-") {
			out = append(out, Result{Check: "goflags", Status: Fail, Problem: "goflags-syntax",
				Message: i18n.T("GOFLAGS holds %q, which is not a flag: every go command fails parsing $GOFLAGS", f),
				Fix:     i18n.T("go env -w GOFLAGS='<flags starting with ->' (or go env -u GOFLAGS)")})
			continue
		}
		name, val, _ := strings.Cut(strings.TrimLeft(f, "-"), "=")
		switch {
		case name == "mod" && val == "mod":
			out = append(out, Result{Check: "goflags", Status: Warn, Problem: "goflags-mod-mod",
				Message: i18n.T("GOFLAGS has -mod=mod: builds and tests silently change go.mod and go.sum instead of failing on a missing requirement"),
				Fix:     i18n.T("Remove it (go env -w GOFLAGS=... without -mod=mod); run go mod tidy or go get when you mean to change go.mod")})
		case name == "insecure":
			out = append(out, Result{Check: "goflags", Status: Warn, Problem: "goflags-insecure",
				Message: i18n.T("GOFLAGS has -insecure, which the go command removed (Go 1.17): it is ignored, or makes go get fail"),
				Fix:     i18n.T("Remove it and use GOINSECURE=<your hosts> for the few hosts that need it")})
		case !goFlags[name]:
			out = append(out, Result{Check: "goflags", Status: Warn, Problem: "goflags-unknown",
				Message: i18n.T("GOFLAGS has %s, which no go command knows: it is silently ignored (a typo?)", f),
				Fix:     i18n.T("Fix or remove it: go env -w GOFLAGS=... (see go help build)")})
		}
	}
	if len(out) == 0 {
		msg := i18n.T("GOFLAGS is not set")
		if v != "" {
			msg = i18n.T("GOFLAGS=%s", v)
		}
		out = append(out, Result{Check: "goflags", Status: OK, Message: msg})
	}
	return out
}

func proxyConfig(getenv func(string) string) *httpproxy.Config {
	get := func(a, b string) string {
		if v := getenv(a); v != "" {
			return v
		}
		return getenv(b)
	}
	return &httpproxy.Config{
		HTTPProxy:  get("HTTP_PROXY", "http_proxy"),
		HTTPSProxy: get("HTTPS_PROXY", "https_proxy"),
		NoProxy:    get("NO_PROXY", "no_proxy"),
		CGI:        getenv("REQUEST_METHOD") != "",
	}
}

// privateHost reports whether host is on a private network: a loopback or
// private IP address, localhost, or a name without a dot or under a
// private-use suffix.
func privateHost(host string) bool {
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast()
	}
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || !strings.Contains(h, ".") {
		return true
	}
	for _, s := range []string{".localhost", ".local", ".internal", ".lan", ".corp", ".home.arpa", ".intranet"} {
		if strings.HasSuffix(h, s) {
			return true
		}
	}
	return false
}

func checkHTTPProxy(getenv func(string) string, proxies []string) Result {
	cfg := proxyConfig(getenv)
	r := Result{Check: "http-proxy", Status: OK}
	if cfg.HTTPProxy == "" && cfg.HTTPSProxy == "" {
		r.Message = i18n.T("no HTTP proxy set (HTTP_PROXY, HTTPS_PROXY)")
		return r
	}
	r.Message = i18n.T("HTTP_PROXY=%q HTTPS_PROXY=%q NO_PROXY=%q", redact.URL(cfg.HTTPProxy), redact.URL(cfg.HTTPSProxy), cfg.NoProxy)
	pf := cfg.ProxyFunc()
	var bad []string
	var hosts []string
	for _, p := range proxies {
		u, err := url.Parse(p)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			continue
		}
		via, err := pf(u)
		if err == nil && via != nil && privateHost(u.Hostname()) {
			bad = append(bad, p)
			hosts = append(hosts, u.Hostname())
		}
	}
	if len(bad) > 0 {
		r.Status, r.Problem = Warn, "proxy-not-in-no-proxy"
		r.Message = i18n.T("%s; GOPROXY entries on a private network go through the HTTP proxy: %s", r.Message, strings.Join(bad, ", "))
		np := cfg.NoProxy
		if np != "" {
			np += ","
		}
		r.Fix = i18n.T("Add them to NO_PROXY: export NO_PROXY=%s%s", np, strings.Join(hosts, ","))
	}
	return r
}

// checkModCache checks that the module cache exists or can be created, is
// writable, and has free space.
func checkModCache(dir string) Result {
	r := Result{Check: "modcache", Target: dir, Status: OK}
	if dir == "" {
		r.Status, r.Problem = Fail, "modcache-unset"
		r.Message = i18n.T("GOMODCACHE is empty (GOPATH unset?): modules cannot be downloaded")
		r.Fix = i18n.T("go env -w GOPATH=$HOME/go (or GOMODCACHE=<a writable directory>)")
		return r
	}
	existing, exists := dir, true
	for {
		fi, err := os.Stat(existing)
		if err == nil {
			if !fi.IsDir() {
				r.Status, r.Problem = Fail, "modcache-not-dir"
				r.Message = i18n.T("%s is not a directory", existing)
				r.Fix = i18n.T("Remove or move %s, or go env -w GOMODCACHE=<a writable directory>", existing)
				return r
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			r.Status, r.Problem = Fail, "modcache-unreadable"
			r.Message = i18n.T("%v", err)
			r.Fix = i18n.T("Fix the permissions, or go env -w GOMODCACHE=<a writable directory>")
			return r
		}
		exists = false
		parent := filepath.Dir(existing)
		if parent == existing {
			break
		}
		existing = parent
	}
	f, err := os.CreateTemp(existing, ".gomirror-doctor-*")
	if err != nil {
		r.Status, r.Problem = Fail, "modcache-not-writable"
		r.Message = i18n.T("cannot write in %s: %v", existing, err)
		r.Fix = i18n.T("Fix the permissions of %s (chown it to your user), or go env -w GOMODCACHE=<a writable directory>", existing)
		return r
	}
	f.Close()
	os.Remove(f.Name())
	if exists {
		r.Message = i18n.T("exists and is writable")
	} else {
		r.Message = i18n.T("does not exist yet; the go command can create it (%s is writable)", existing)
	}
	u, err := diskspace.Of(existing)
	free := u.Avail
	switch {
	case err != nil:
		r.Message = i18n.T("%s; free space unknown on this system", r.Message)
	case free < 1<<30:
		r.Status, r.Problem = Warn, "modcache-low-space"
		r.Message = i18n.T("%s; only %.1f MiB free", r.Message, float64(free)/(1<<20))
		r.Fix = i18n.T("Free disk space (go clean -modcache removes every cached module), or move the cache: go env -w GOMODCACHE=<a larger disk>")
	default:
		r.Message = i18n.T("%s; %.1f GiB free", r.Message, float64(free)/(1<<30))
	}
	return r
}
