package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/auth"
	"github.com/gomirror/gomirror/config"
)

// unit is a parsed systemd unit file: section -> key -> values in order.
type unit map[string]map[string][]string

func (u unit) get(section, key string) string {
	v := u[section][key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// parseUnit parses systemd's unit file syntax: [Section] headers, Key=Value
// lines, '#' and ';' comments, backslash continuations; keys may repeat.
func parseUnit(t *testing.T, src string) unit {
	t.Helper()
	u := unit{}
	section := ""
	var cont strings.Builder
	for i, line := range strings.Split(src, "\n") {
		line = strings.TrimSpace(line)
		if cont.Len() == 0 && (line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";")) {
			continue
		}
		if body, ok := strings.CutSuffix(line, `\`); ok {
			cont.WriteString(body + " ")
			continue
		}
		cont.WriteString(line)
		line = strings.TrimSpace(cont.String())
		cont.Reset()
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = line[1 : len(line)-1]
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || section == "" {
			t.Fatalf("unit line %d: %q is not Key=Value inside a section", i+1, line)
		}
		u[section][strings.TrimSpace(k)] = append(u[section][strings.TrimSpace(k)], strings.TrimSpace(v))
	}
	return u
}

// systemdSpan parses a systemd time span: "45", "45s", "1min 30s", "2m".
func systemdSpan(t *testing.T, s string) time.Duration {
	t.Helper()
	units := map[string]time.Duration{"": time.Second, "s": time.Second, "sec": time.Second, "second": time.Second, "seconds": time.Second,
		"ms": time.Millisecond, "msec": time.Millisecond, "m": time.Minute, "min": time.Minute, "minute": time.Minute, "minutes": time.Minute,
		"h": time.Hour, "hr": time.Hour, "hour": time.Hour, "hours": time.Hour}
	var total time.Duration
	parts := regexp.MustCompile(`(\d+)\s*([a-z]*)`).FindAllStringSubmatch(s, -1)
	if len(parts) == 0 {
		t.Fatalf("time span %q", s)
	}
	for _, p := range parts {
		n, _ := strconv.Atoi(p[1])
		u, ok := units[p[2]]
		if !ok {
			t.Fatalf("time span %q: unit %q", s, p[2])
		}
		total += time.Duration(n) * u
	}
	return total
}

// yamlKeys returns the top-level keys of a YAML mapping document, and the
// keys of commented-out settings (lines "#key: ...", no space after '#').
func yamlKeys(t *testing.T, src []byte) (keys, commented []string) {
	t.Helper()
	v, err := decodeYAML(src)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := v.(map[string]any)
	keys = sortedKeys(m)
	for _, c := range regexp.MustCompile(`(?m)^#([a-z][a-z0-9-]*):`).FindAllStringSubmatch(string(src), -1) {
		commented = append(commented, c[1])
	}
	return keys, commented
}

// TestSystemdUnit checks the unit's essentials (dedicated user, state
// directory, the command line, restart and stop behaviour, hardening,
// secrets from an optional environment file) and that the example config
// it points at is valid for gomirror and consistent with the unit.
func TestSystemdUnit(t *testing.T) {
	u := parseUnit(t, string(readFile(t, filepath.Join("systemd", "gomirror.service"))))
	for _, s := range []string{"Unit", "Service", "Install"} {
		if u[s] == nil {
			t.Errorf("no [%s] section", s)
		}
	}
	user := u.get("Service", "User")
	if user == "" && u.get("Service", "DynamicUser") != "yes" {
		t.Error("the service runs as root: set User= or DynamicUser=yes")
	}
	if user == "root" || user == "0" {
		t.Errorf("User=%s", user)
	}
	sysusers := string(readFile(t, filepath.Join("systemd", "gomirror.sysusers.conf")))
	if user != "" && !regexp.MustCompile(`(?m)^u\s+`+regexp.QuoteMeta(user)+`\s`).MatchString(sysusers) {
		t.Errorf("gomirror.sysusers.conf does not create the user %s", user)
	}
	state := u.get("Service", "StateDirectory")
	if state != "gomirror" {
		t.Errorf("StateDirectory=%q, want gomirror", state)
	}
	stateDir := "/var/lib/" + state

	execStart := strings.Fields(u.get("Service", "ExecStart"))
	if len(execStart) < 2 || execStart[0] != "/usr/local/bin/gomirror" || execStart[1] != "serve" {
		t.Fatalf("ExecStart=%v, want /usr/local/bin/gomirror serve ...", execStart)
	}
	checkSettingNames(t, "ExecStart", flagNames(execStart))
	cfgFile, ok := flagValue(execStart, "config")
	if !ok || cfgFile != "/etc/gomirror/gomirror.yaml" {
		t.Errorf("ExecStart has --config %q, want /etc/gomirror/gomirror.yaml", cfgFile)
	}

	want := map[string]string{
		"Restart":         "on-failure",
		"KillSignal":      "SIGTERM",
		"NoNewPrivileges": "yes",
		"ProtectSystem":   "strict",
		"ProtectHome":     "yes",
		"PrivateTmp":      "yes",
	}
	for k, v := range want {
		if got := u.get("Service", k); got != v {
			t.Errorf("%s=%q, want %s", k, got, v)
		}
	}
	if km := u.get("Service", "KillMode"); km != "mixed" {
		t.Errorf("KillMode=%q, want mixed: SIGTERM to gomirror alone, so that its in-flight direct fetches (go, git) can finish", km)
	}
	if !slices.ContainsFunc(u["Service"]["ReadWritePaths"], func(v string) bool { return slices.Contains(strings.Fields(v), stateDir) }) {
		t.Errorf("ReadWritePaths=%v lacks %s", u["Service"]["ReadWritePaths"], stateDir)
	}
	if !slices.Contains(u["Service"]["EnvironmentFile"], "-/etc/gomirror/env") {
		t.Errorf("EnvironmentFile=%v, want -/etc/gomirror/env (optional, for secrets)", u["Service"]["EnvironmentFile"])
	}
	var pathEnv string
	for _, e := range u["Service"]["Environment"] {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			pathEnv = v
		}
	}
	if !strings.Contains(pathEnv, "/go/bin") {
		t.Errorf("Environment=PATH=%q: the go command (for go env and direct fetches) is not on it", pathEnv)
	}
	if got := u.get("Install", "WantedBy"); got != "multi-user.target" {
		t.Errorf("WantedBy=%q", got)
	}

	// The example config.
	cfgPath := filepath.Join("systemd", "gomirror.yaml")
	src := readFile(t, cfgPath)
	keys, commented := yamlKeys(t, src)
	checkSettingNames(t, cfgPath, keys)
	checkSettingNames(t, cfgPath+" (commented out)", commented)
	cfg, err := loadServe(cfgPath, nil)
	if err != nil {
		t.Fatalf("gomirror refuses %s: %v", cfgPath, err)
	}
	if cfg.StorageDir != stateDir {
		t.Errorf("%s: storage-dir %s, want the unit's state directory %s", cfgPath, cfg.StorageDir, stateDir)
	}
	stop := systemdSpan(t, u.get("Service", "TimeoutStopSec"))
	if stop <= cfg.ShutdownTimeout {
		t.Errorf("TimeoutStopSec=%v is not above shutdown-timeout %v: systemd would kill in-flight requests", stop, cfg.ShutdownTimeout)
	}
	if def := config.Defaults().ShutdownTimeout; stop <= def {
		t.Errorf("TimeoutStopSec=%v is not above the default shutdown-timeout %v", stop, def)
	}

	// Scraping: on this host, from the loopback admin-listen the example
	// names, without a token; from another host, with the commented-out
	// admin-listen and admin-auth and an admin token.
	if m := regexp.MustCompile(`scrapes\s+http://(\S+)/metrics`).FindSubmatch(src); m == nil || string(m[1]) != cfg.AdminListen {
		t.Errorf("%s: admin-listen %q, but the comment that says where a local Prometheus scrapes /metrics says %q", cfgPath, cfg.AdminListen, m)
	}
	if !config.LoopbackListen(cfg.AdminListen) {
		t.Errorf("%s: admin-listen %q is not loopback", cfgPath, cfg.AdminListen)
	}
	checkOperatorAccess(t, cfgPath, cfg, operatorAccess{adminOnly: true})
	remote := *cfg
	for _, m := range regexp.MustCompile(`(?m)^#(admin-listen|admin-auth): (\S+)$`).FindAllSubmatch(src, -1) {
		switch string(m[1]) {
		case "admin-listen":
			remote.AdminListen = string(m[2])
		case "admin-auth":
			remote.AdminAuth = string(m[2])
		}
	}
	if remote.AdminListen == cfg.AdminListen || config.LoopbackListen(remote.AdminListen) {
		t.Errorf("%s: no commented-out admin-listen for a Prometheus on another host", cfgPath)
	}
	remote.TokensFile = filepath.Join(t.TempDir(), "tokens.json")
	token, err := auth.NewTokens(remote.TokensFile).AddRole("prometheus", auth.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	checkOperatorAccess(t, cfgPath+" (for a remote Prometheus)", &remote, operatorAccess{adminOnly: true, token: token})
}

// TestSystemdAnalyze runs systemd-analyze verify (and security, for an
// exposure score) on the unit when systemd-analyze is installed. ExecStart's
// binary does not exist here, so a copy of the unit runs /bin/true instead.
func TestSystemdAnalyze(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is not installed; the unit is checked by TestSystemdUnit only")
	}
	src := strings.ReplaceAll(string(readFile(t, filepath.Join("systemd", "gomirror.service"))), "/usr/local/bin/gomirror ", "/bin/true ")
	unitFile := filepath.Join(t.TempDir(), "gomirror.service")
	if err := os.WriteFile(unitFile, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", unitFile).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err = exec.Command("systemd-analyze", "security", "--offline=true", unitFile).CombinedOutput()
	if err != nil {
		t.Logf("systemd-analyze security --offline not available here (%v); skipping the exposure score", err)
		return
	}
	m := regexp.MustCompile(`Overall exposure level for \S+: (\d+\.\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security: no exposure level in\n%s", out)
	}
	if score, _ := strconv.ParseFloat(string(m[1]), 64); score > 3.0 {
		t.Errorf("systemd-analyze security exposure %.1f, want at most 3.0 (hardening lost?)\n%s", score, out)
	} else {
		t.Logf("systemd-analyze security exposure: %.1f", score)
	}
}
