package deploy

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/internal/redact"
)

// composeEnv is the environment the compose file is interpolated with in
// these tests: what a user puts in .env (see compose/env.example).
var composeEnv = map[string]string{
	"GOMIRROR_UPSTREAM":   "https://mirror.example.com,direct",
	"MINIO_ROOT_PASSWORD": "test-password",
	"POSTGRES_PASSWORD":   "test-pg-password",
}

var interpRE = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// interpolate applies compose's variable syntax to s: $VAR, ${VAR},
// ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, $$.
func interpolate(s string, env map[string]string) (string, error) {
	var firstErr error
	out := interpRE.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		sub := interpRE.FindStringSubmatch(m)
		name, op, arg := sub[1], sub[2], sub[3]
		if name == "" {
			name = sub[4]
		}
		v, set := env[name]
		switch op {
		case ":-":
			if v == "" {
				return arg
			}
		case "-":
			if !set {
				return arg
			}
		case ":?", "?":
			if !set || (op == ":?" && v == "") {
				if firstErr == nil {
					firstErr = fmt.Errorf("required variable %s is missing a value: %s", name, arg)
				}
			}
		}
		return v
	})
	return out, firstErr
}

// interpolateAll interpolates every string in a decoded YAML value.
func interpolateAll(v any, env map[string]string) (any, error) {
	switch x := v.(type) {
	case string:
		return interpolate(x, env)
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			e, err := interpolateAll(e, env)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = e
		}
		return out, nil
	case []any:
		var out []any
		for _, e := range x {
			e, err := interpolateAll(e, env)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		return out, nil
	}
	return v, nil
}

// loadCompose parses docker-compose.yml (YAML anchors and merge keys
// resolved by the YAML decoder) and interpolates it with env.
func loadCompose(t *testing.T, env map[string]string) (map[string]any, error) {
	t.Helper()
	raw, err := decodeYAML(readFile(t, filepath.Join("compose", "docker-compose.yml")))
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	v, err := interpolateAll(raw, env)
	if err != nil {
		return nil, err
	}
	m, _ := v.(map[string]any)
	return m, nil
}

// composeMap returns a compose map-or-list field (environment, depends_on)
// as a map; list entries KEY=VALUE or plain names.
func composeMap(v any) map[string]any {
	switch x := v.(type) {
	case map[string]any:
		return x
	case []any:
		m := map[string]any{}
		for _, e := range x {
			k, val, _ := strings.Cut(fmt.Sprint(e), "=")
			m[k] = val
		}
		return m
	}
	return nil
}

// isGomirror reports whether a compose service runs the gomirror image.
func isGomirror(svc map[string]any) bool {
	return strings.HasSuffix(str(svc, "build", "dockerfile"), "deploy/Dockerfile") || strings.HasPrefix(str(svc, "image"), "gomirror:")
}

// TestCompose checks the compose example: at least two gomirror replicas,
// MinIO with a one-shot bucket creation, Redis and nginx; dependencies that
// exist and can be met; the replicas configured through real GOMIRROR_*
// settings that point at those services and load as a valid gomirror
// configuration; health checks on /readyz; a stop grace period longer than
// gomirror's shutdown timeout; a work volume per replica.
func TestCompose(t *testing.T) {
	noUpstream := map[string]string{}
	for k, v := range composeEnv {
		if k != "GOMIRROR_UPSTREAM" {
			noUpstream[k] = v
		}
	}
	if _, err := loadCompose(t, noUpstream); err == nil || !strings.Contains(err.Error(), "GOMIRROR_UPSTREAM") {
		t.Errorf("compose file without GOMIRROR_UPSTREAM set: %v, want an error naming it (the upstream must be chosen)", err)
	}
	c, err := loadCompose(t, composeEnv)
	if err != nil {
		t.Fatal(err)
	}
	services := mapAt(c, "services")
	for _, name := range []string{"minio", "redis", "nginx", "postgres"} {
		if services[name] == nil {
			t.Errorf("no %s service", name)
		}
	}

	// Dependencies.
	for name, s := range services {
		svc, _ := s.(map[string]any)
		for dep, spec := range composeMap(svc["depends_on"]) {
			target, ok := services[dep].(map[string]any)
			if !ok {
				t.Errorf("service %s depends on %s, which does not exist", name, dep)
				continue
			}
			switch cond := str(spec, "condition"); cond {
			case "", "service_started":
			case "service_healthy":
				if target["healthcheck"] == nil {
					t.Errorf("service %s waits for %s to be healthy, but %s has no healthcheck", name, dep, dep)
				}
			case "service_completed_successfully":
				if r := str(target, "restart"); r != "no" && r != "" {
					t.Errorf("service %s waits for %s to complete, but %s restarts (%s)", name, dep, dep, r)
				}
			default:
				t.Errorf("service %s depends on %s with unknown condition %q", name, dep, cond)
			}
		}
	}

	// The bucket creation service.
	var mkbucket map[string]any
	for _, s := range services {
		svc, _ := s.(map[string]any)
		if strings.Contains(strings.Join(stringList(svc["command"]), " "), "mc mb") {
			mkbucket = svc
		}
	}
	if mkbucket == nil {
		t.Fatal("no service runs `mc mb` to create the bucket")
	}
	mkEnv := composeMap(mkbucket["environment"])

	// The replicas.
	var replicas []string
	for name, s := range services {
		svc, _ := s.(map[string]any)
		if !isGomirror(svc) {
			continue
		}
		n := 1
		if r, ok := path(svc, "deploy", "replicas"); ok {
			n, _ = r.(int)
		}
		for range n {
			replicas = append(replicas, name)
		}
	}
	slices.Sort(replicas)
	if len(replicas) < 2 {
		t.Fatalf("%d gomirror replicas (%v), want at least 2", len(replicas), replicas)
	}
	volumes := mapAt(c, "volumes")
	workVolumes := map[string]string{}
	listenPort := ""
	for _, name := range slices.Compact(slices.Clone(replicas)) {
		svc := mapAt(services, name)
		if df := str(svc, "build", "dockerfile"); df != "" {
			if _, err := os.Stat(filepath.Join("compose", str(svc, "build", "context"), df)); err != nil {
				t.Errorf("service %s builds %s in %s: %v", name, df, str(svc, "build", "context"), err)
			}
		}
		env := map[string]string{}
		for k, v := range composeMap(svc["environment"]) {
			env[k] = fmt.Sprint(v)
		}
		var names []string
		for k := range env {
			if strings.HasPrefix(k, "GOMIRROR_") {
				names = append(names, k)
			}
		}
		checkEnvNames(t, "service "+name+" environment", names)
		for _, k := range []string{"GOMIRROR_STORAGE", "GOMIRROR_S3_ENDPOINT", "GOMIRROR_S3_BUCKET", "GOMIRROR_S3_PATH_STYLE", "GOMIRROR_S3_INSECURE",
			"GOMIRROR_S3_ACCESS_KEY", "GOMIRROR_S3_SECRET_KEY", "GOMIRROR_REDIS", "GOMIRROR_LISTEN", "GOMIRROR_UPSTREAM"} {
			if env[k] == "" {
				t.Errorf("service %s: %s not set", name, k)
			}
		}
		if env["GOMIRROR_STORAGE"] != "s3" {
			t.Errorf("service %s: GOMIRROR_STORAGE=%q, want s3 (replicas share one bucket)", name, env["GOMIRROR_STORAGE"])
		}
		args := stringList(svc["command"])
		checkSettingNames(t, "service "+name+" command", flagNames(args))
		for _, k := range flagNames(args) {
			if _, ok := env[config.EnvName(k)]; ok {
				t.Errorf("service %s: --%s in the command overrides %s in the environment", name, k, config.EnvName(k))
			}
		}

		// The configuration is valid for gomirror itself.
		cfg, err := loadServe("", env)
		if err != nil {
			t.Errorf("service %s: gomirror refuses its environment: %v", name, err)
			continue
		}
		if host, port, _ := strings.Cut(cfg.S3Endpoint, ":"); services[host] == nil || port != "9000" {
			t.Errorf("service %s: s3-endpoint %s is not the minio service's API port", name, cfg.S3Endpoint)
		}
		if u, err := url.Parse(cfg.Redis); err != nil || services[u.Hostname()] == nil {
			t.Errorf("service %s: redis %q does not name a service", name, cfg.Redis)
		}
		// The replicas share one database: PostgreSQL, a service here.
		if u, err := url.Parse(cfg.Database); !cfg.PostgresDatabase() || err != nil || services[u.Hostname()] == nil {
			t.Errorf("service %s: database %q is not the postgres service (replicas must share one)", name, redact.URL(cfg.Database))
		} else if pw, _ := u.User.Password(); pw != str(services, "postgres", "environment", "POSTGRES_PASSWORD") || u.User.Username() != str(services, "postgres", "environment", "POSTGRES_USER") {
			t.Errorf("service %s: database credentials differ from the postgres service's", name)
		}
		if cfg.S3AccessKey != str(services, "minio", "environment", "MINIO_ROOT_USER") || cfg.S3SecretKey != str(services, "minio", "environment", "MINIO_ROOT_PASSWORD") {
			t.Errorf("service %s: S3 keys differ from MinIO's root credentials", name)
		}
		if b := fmt.Sprint(mkEnv["S3_BUCKET"]); b != cfg.S3Bucket {
			t.Errorf("service %s uses bucket %q, but the bucket created is %q", name, cfg.S3Bucket, b)
		}
		if listenPort == "" {
			listenPort = portOf(t, cfg.Listen)
		} else if p := portOf(t, cfg.Listen); p != listenPort {
			t.Errorf("service %s listens on %s, another replica on %s", name, p, listenPort)
		}

		hc := strings.Join(stringList(mapAt(svc, "healthcheck")["test"]), " ")
		if !strings.Contains(hc, ":"+listenPort+"/readyz") {
			t.Errorf("service %s: healthcheck %q does not ask :%s/readyz", name, hc, listenPort)
		}
		if grace := str(svc, "stop_grace_period"); grace == "" || parseDuration(t, grace) <= cfg.ShutdownTimeout {
			t.Errorf("service %s: stop_grace_period %q, want more than shutdown-timeout %v", name, grace, cfg.ShutdownTimeout)
		}
		for _, v := range stringList(svc["volumes"]) {
			src, dst, _ := strings.Cut(v, ":")
			if dst == cfg.StorageDir {
				if other, dup := workVolumes[src]; dup {
					t.Errorf("services %s and %s share the work volume %s", other, name, src)
				}
				workVolumes[src] = name
				if _, ok := volumes[src]; !ok {
					t.Errorf("service %s: volume %s is not declared", name, src)
				}
			}
		}
	}
	if len(workVolumes) < 2 {
		t.Errorf("replicas' work volumes %v: want one per replica", workVolumes)
	}

	checkNginx(t, services, replicas, listenPort)
}

// TestComposeWithDockerCompose runs `docker compose config`, the reference
// parser, when the compose plugin is installed.
func TestComposeWithDockerCompose(t *testing.T) {
	if exec.Command("docker", "compose", "version").Run() != nil {
		t.Skip("docker compose is not installed; the compose file is checked by TestCompose only")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", "compose", "-f", filepath.Join("compose", "docker-compose.yml"), "config", "--quiet")
	cmd.Env = os.Environ()
	for k, v := range composeEnv {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("docker compose config: %v\n%s", err, out)
	}
}

// An nginxDirective is one directive of nginx.conf, with its block if any.
type nginxDirective struct {
	name  string
	args  []string
	block []*nginxDirective
}

// parseNginx parses nginx's configuration syntax: directives ending in ';'
// or a '{ ... }' block, '#' comments, quoted strings.
func parseNginx(src string) ([]*nginxDirective, error) {
	var toks []string
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '{' || c == '}' || c == ';':
			toks = append(toks, string(c))
			i++
		case c == '"' || c == '\'':
			j := i + 1
			var b strings.Builder
			for j < len(src) && src[j] != c {
				if src[j] == '\\' && j+1 < len(src) {
					j++
				}
				b.WriteByte(src[j])
				j++
			}
			if j >= len(src) {
				return nil, fmt.Errorf("unterminated string at offset %d", i)
			}
			toks = append(toks, b.String())
			i = j + 1
		default:
			j := i
			for j < len(src) && !strings.ContainsRune(" \t\r\n{};#", rune(src[j])) {
				j++
			}
			toks = append(toks, src[i:j])
			i = j
		}
	}
	var parse func(pos int, nested bool) ([]*nginxDirective, int, error)
	parse = func(pos int, nested bool) ([]*nginxDirective, int, error) {
		var out []*nginxDirective
		for pos < len(toks) {
			if toks[pos] == "}" {
				if !nested {
					return nil, pos, fmt.Errorf("unexpected }")
				}
				return out, pos + 1, nil
			}
			d := &nginxDirective{name: toks[pos]}
			pos++
			for pos < len(toks) && toks[pos] != ";" && toks[pos] != "{" && toks[pos] != "}" {
				d.args = append(d.args, toks[pos])
				pos++
			}
			if pos >= len(toks) || toks[pos] == "}" {
				return nil, pos, fmt.Errorf("directive %s: missing ;", d.name)
			}
			if toks[pos] == "{" {
				var err error
				if d.block, pos, err = parse(pos+1, true); err != nil {
					return nil, pos, err
				}
			} else {
				pos++
			}
			out = append(out, d)
		}
		if nested {
			return nil, pos, fmt.Errorf("missing }")
		}
		return out, pos, nil
	}
	ds, _, err := parse(0, false)
	return ds, err
}

func nginxFind(ds []*nginxDirective, name string, args ...string) *nginxDirective {
	for _, d := range ds {
		if d.name == name && (len(args) == 0 || slices.Equal(d.args[:min(len(args), len(d.args))], args)) {
			return d
		}
	}
	return nil
}

// nginxTime parses an nginx time like 30s, 11m, 1h.
func nginxTime(t *testing.T, s string) time.Duration {
	t.Helper()
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("nginx time %q: %v", s, err)
	}
	return d
}

// checkNginx checks compose/nginx.conf against the compose services: the
// upstream names every replica on its port, the proxy streams (no
// buffering), fails over on connection errors, timeouts, 502 and 503, and
// waits longer than gomirror's fetch timeout; nginx's own health check path
// and port exist.
func checkNginx(t *testing.T, services map[string]any, replicas []string, port string) {
	t.Helper()
	nginx := mapAt(services, "nginx")
	var confMounted bool
	for _, v := range stringList(nginx["volumes"]) {
		src, dst, _ := strings.Cut(v, ":")
		if strings.HasPrefix(dst, "/etc/nginx/nginx.conf") {
			confMounted = true
			if _, err := os.Stat(filepath.Join("compose", src)); err != nil {
				t.Errorf("nginx mounts %s: %v", src, err)
			}
		}
	}
	if !confMounted {
		t.Error("nginx service does not mount nginx.conf at /etc/nginx/nginx.conf")
	}
	conf, err := parseNginx(string(readFile(t, filepath.Join("compose", "nginx.conf"))))
	if err != nil {
		t.Fatalf("nginx.conf: %v", err)
	}
	http := nginxFind(conf, "http")
	if http == nil {
		t.Fatal("nginx.conf: no http block")
	}
	server := nginxFind(http.block, "server")
	if server == nil {
		t.Fatal("nginx.conf: no server block")
	}
	loc := nginxFind(server.block, "location", "/")
	if loc == nil {
		t.Fatal("nginx.conf: no location /")
	}
	pass := nginxFind(loc.block, "proxy_pass")
	if pass == nil || len(pass.args) != 1 {
		t.Fatal("nginx.conf: location / has no proxy_pass")
	}
	name := strings.TrimPrefix(pass.args[0], "http://")
	up := nginxFind(http.block, "upstream", name)
	if up == nil {
		t.Fatalf("nginx.conf: proxy_pass %s, but there is no upstream %s", pass.args[0], name)
	}
	var servers []string
	nextOn502 := false
	if d := nginxFind(loc.block, "proxy_next_upstream"); d != nil {
		nextOn502 = slices.Contains(d.args, "http_502")
	}
	for _, d := range up.block {
		if d.name != "server" {
			continue
		}
		servers = append(servers, d.args[0])
		// gomirror answers 502 itself (broken upstream, checksum
		// mismatch). If those count as failures, an upstream outage takes
		// every replica out of rotation, cached modules included.
		if nextOn502 && !slices.Contains(d.args, "max_fails=0") {
			t.Errorf("nginx upstream server %s: proxy_next_upstream has http_502, so the server needs max_fails=0 (gomirror's own 502s must not mark replicas down)", d.args[0])
		}
	}
	for _, r := range slices.Compact(slices.Clone(replicas)) {
		if !slices.Contains(servers, r+":"+port) {
			t.Errorf("nginx upstream %s has servers %v, not %s:%s", name, servers, r, port)
		}
	}
	for _, s := range servers {
		host, _, _ := strings.Cut(s, ":")
		if services[host] == nil {
			t.Errorf("nginx upstream server %s is not a compose service", s)
		}
	}
	want := map[string][]string{
		"proxy_buffering":     {"off"},
		"proxy_next_upstream": {"error", "timeout", "http_502", "http_503"},
	}
	for k, args := range want {
		d := nginxFind(loc.block, k)
		if d == nil {
			t.Errorf("nginx.conf location /: no %s", k)
			continue
		}
		for _, a := range args {
			if !slices.Contains(d.args, a) {
				t.Errorf("nginx.conf location /: %s %v lacks %s", k, d.args, a)
			}
		}
	}
	if d := nginxFind(loc.block, "proxy_read_timeout"); d == nil || nginxTime(t, d.args[0]) <= 10*time.Minute {
		t.Error("nginx.conf location /: proxy_read_timeout must exceed gomirror's fetch-timeout (10m): a miss waits for the whole fetch")
	}
	listen := nginxFind(server.block, "listen")
	if listen == nil {
		t.Fatal("nginx.conf: server has no listen")
	}
	var published bool
	for _, p := range stringList(nginx["ports"]) {
		if strings.HasSuffix(p, ":"+listen.args[0]) {
			published = true
		}
	}
	if !published {
		t.Errorf("nginx listens on %s, but the compose service publishes %v", listen.args[0], nginx["ports"])
	}
	hc := strings.Join(stringList(mapAt(nginx, "healthcheck")["test"]), " ")
	m := regexp.MustCompile(`:(\d+)(/\S*)`).FindStringSubmatch(hc)
	if m == nil || m[1] != listen.args[0] || nginxFind(server.block, "location", "=", m[2]) == nil {
		t.Errorf("nginx healthcheck %q does not ask a location of the server on port %s", hc, listen.args[0])
	}
}

// envExample returns the settings of compose/env.example: the set ones, and
// the commented-out ones ("#NAME=value").
func envExample(t *testing.T) (set, commented map[string]string) {
	t.Helper()
	set, commented = map[string]string{}, map[string]string{}
	for _, line := range strings.Split(string(readFile(t, filepath.Join("compose", "env.example"))), "\n") {
		m := regexp.MustCompile(`^(#?)([A-Z][A-Z0-9_]*)=(.*)$`).FindStringSubmatch(line)
		switch {
		case m == nil:
		case m[1] == "#":
			commented[m[2]] = m[3]
		default:
			set[m[2]] = m[3]
		}
	}
	return set, commented
}

// composeReplicaConfig loads the compose file with env and returns the
// services and the gomirror configuration of every replica.
func composeReplicaConfig(t *testing.T, env map[string]string) (map[string]any, map[string]*config.Serve) {
	t.Helper()
	c, err := loadCompose(t, env)
	if err != nil {
		t.Fatal(err)
	}
	services := mapAt(c, "services")
	cfgs := map[string]*config.Serve{}
	for name, s := range services {
		svc, _ := s.(map[string]any)
		if !isGomirror(svc) {
			continue
		}
		e := map[string]string{}
		for k, v := range composeMap(svc["environment"]) {
			e[k] = fmt.Sprint(v)
		}
		cfg, err := loadServe("", e)
		if err != nil {
			t.Fatalf("service %s: gomirror refuses its environment: %v", name, err)
		}
		cfgs[name] = cfg
	}
	if len(cfgs) < 2 {
		t.Fatalf("%d gomirror services", len(cfgs))
	}
	return services, cfgs
}

// TestComposeOperatorEndpoints checks the compose example against the
// servers its configuration builds: the operator endpoints are on each
// replica's admin-listen, anonymous on its loopback by default, 404 on the
// port nginx proxies to (so never reachable through nginx), reachable
// the way the compose file's header says (docker compose exec ... curl);
// with the override env.example documents for a Prometheus on the compose
// network, anonymous on the network but on a port no service publishes.
func TestComposeOperatorEndpoints(t *testing.T) {
	header := string(readFile(t, filepath.Join("compose", "docker-compose.yml")))
	doc := regexp.MustCompile(`docker compose exec (\S+) curl -fsS http://(\S+)/metrics`).FindStringSubmatch(header)
	if doc == nil {
		t.Error("docker-compose.yml does not say how to read /metrics (docker compose exec SERVICE curl -fsS http://ADDR/metrics)")
	}
	services, cfgs := composeReplicaConfig(t, composeEnv)
	if doc != nil && cfgs[doc[1]] == nil {
		t.Errorf("docker-compose.yml reads /metrics in service %s, which is not a gomirror replica", doc[1])
	}
	for name, cfg := range cfgs {
		if doc != nil && cfg.AdminListen != doc[2] {
			t.Errorf("service %s: admin-listen %q, but the compose file reads /metrics at %s", name, cfg.AdminListen, doc[2])
		}
		if !config.LoopbackListen(cfg.AdminListen) {
			t.Errorf("service %s: admin-listen %q is not loopback by default", name, cfg.AdminListen)
		}
		checkOperatorAccess(t, "service "+name, cfg, operatorAccess{adminOnly: true})
	}

	_, commented := envExample(t)
	override := maps.Clone(composeEnv)
	for _, k := range []string{"GOMIRROR_ADMIN_LISTEN", "GOMIRROR_ADMIN_AUTH"} {
		v, ok := commented[k]
		if !ok {
			t.Errorf("env.example does not document %s for scraping from the compose network", k)
			continue
		}
		override[k] = v
	}
	services, cfgs = composeReplicaConfig(t, override)
	for name, cfg := range cfgs {
		if config.LoopbackListen(cfg.AdminListen) {
			t.Errorf("service %s with env.example's scraping override: admin-listen %q is still loopback", name, cfg.AdminListen)
		}
		checkOperatorAccess(t, "service "+name+" (env.example's scraping override)", cfg, operatorAccess{adminOnly: true})
		port := portOf(t, cfg.AdminListen)
		for other, s := range services {
			for _, p := range stringList(mapAt(services, other)["ports"]) {
				if strings.HasSuffix(p, ":"+port) && (other == name || isGomirror(s.(map[string]any))) {
					t.Errorf("service %s publishes %s: the anonymous admin port %s of the replicas must stay on the compose network", other, p, port)
				}
			}
		}
		if len(stringList(mapAt(services, name)["ports"])) > 0 {
			t.Errorf("service %s publishes ports %v: clients must come through nginx", name, mapAt(services, name)["ports"])
		}
	}
}

// TestComposeTrustedProxies checks that the replicas believe nginx's
// X-Forwarded-For and nobody else's, with the servers their configuration
// builds: nginx has a fixed address in the compose network's subnet, it is
// the replicas' trusted-proxies, a request through nginx is logged with the
// client's address, and one from the network's gateway (where the host's
// own connections come from) cannot choose its address with
// X-Forwarded-For. Also with the MIRROR_SUBNET and NGINX_ADDRESS that
// env.example suggests changing together.
func TestComposeTrustedProxies(t *testing.T) {
	_, commented := envExample(t)
	overridden := maps.Clone(composeEnv)
	for _, k := range []string{"MIRROR_SUBNET", "NGINX_ADDRESS"} {
		if _, ok := commented[k]; !ok {
			t.Errorf("env.example does not document %s", k)
		}
	}
	// Another subnet, to see that both follow the variables.
	overridden["MIRROR_SUBNET"], overridden["NGINX_ADDRESS"] = "10.77.5.0/24", "10.77.5.20"
	for _, env := range []map[string]string{composeEnv, overridden} {
		c, err := loadCompose(t, env)
		if err != nil {
			t.Fatal(err)
		}
		services, cfgs := composeReplicaConfig(t, env)
		// Without a fixed subnet and address, what Docker would likely
		// assign, so that the requests below still show what happens.
		subnet, nginxAddr := netip.MustParsePrefix("172.18.0.0/16"), netip.MustParseAddr("172.18.0.5")
		if subnets := listAt(c, "networks", "default", "ipam", "config"); len(subnets) != 1 {
			t.Errorf("networks.default.ipam.config %v: want one fixed subnet", subnets)
		} else if subnet, err = netip.ParsePrefix(str(subnets[0], "subnet")); err != nil {
			t.Fatalf("compose network subnet: %v", err)
		}
		if a, err := netip.ParseAddr(str(services, "nginx", "networks", "default", "ipv4_address")); err != nil {
			t.Errorf("nginx has no fixed address on the default network: %v", err)
		} else {
			nginxAddr = a
		}
		gateway := subnet.Masked().Addr().Next() // Docker's default gateway
		if !subnet.Contains(nginxAddr) || nginxAddr == gateway {
			t.Errorf("nginx address %s: want an address of %s other than the gateway %s", nginxAddr, subnet, gateway)
		}
		for name, cfg := range cfgs {
			if cfg.TrustedProxies != nginxAddr.String() {
				t.Errorf("service %s: trusted-proxies %q, want nginx's address %s only", name, cfg.TrustedProxies, nginxAddr)
			}
			// nginx appends the address it got the request from.
			if got := clientAddr(t, cfg, netip.AddrPortFrom(nginxAddr, 51000).String(), "203.0.113.5, 198.51.100.7"); got != "198.51.100.7" {
				t.Errorf("service %s: a request through nginx for client 198.51.100.7 is logged as from %q", name, got)
			}
			if got := clientAddr(t, cfg, netip.AddrPortFrom(gateway, 51000).String(), "198.51.100.66"); got != gateway.String() {
				t.Errorf("service %s: a request from the gateway %s that claims X-Forwarded-For 198.51.100.66 is logged as from %q", name, gateway, got)
			}
		}
	}
	conf, err := parseNginx(string(readFile(t, filepath.Join("compose", "nginx.conf"))))
	if err != nil {
		t.Fatal(err)
	}
	loc := nginxFind(nginxFind(nginxFind(conf, "http").block, "server").block, "location", "/")
	if d := nginxFind(loc.block, "proxy_set_header", "X-Forwarded-For"); d == nil || d.args[1] != "$proxy_add_x_forwarded_for" {
		t.Error("nginx.conf location /: X-Forwarded-For must be $proxy_add_x_forwarded_for (nginx appends the address it received the request from)")
	}
}
