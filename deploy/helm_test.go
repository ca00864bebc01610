package deploy

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/gomirror/gomirror/auth"
	"github.com/gomirror/gomirror/config"
)

// helmVersion is the Helm release the tests build when no helm is in PATH.
const helmVersion = "v3.22.0"

var chartDir = filepath.Join("helm", "gomirror")

// kinds is what the chart renders with everything enabled, by kind, with
// the apiVersion each must use.
var kinds = map[string]string{
	"Deployment":              "apps/v1",
	"Service":                 "v1",
	"HorizontalPodAutoscaler": "autoscaling/v2",
	"PodDisruptionBudget":     "policy/v1",
	"ServiceMonitor":          "monitoring.coreos.com/v1",
	"Secret":                  "v1",
	"ConfigMap":               "v1",
	"NetworkPolicy":           "networking.k8s.io/v1",
}

const (
	configPath    = "/etc/gomirror/gomirror.yaml"
	secretFileDir = "/etc/gomirror/secret"
)

var actionRE = regexp.MustCompile(`\{\{.*?\}\}`)

// placeholderYAML turns a template into YAML without rendering it: lines
// that hold only template actions (if, range, end, include ... | nindent)
// are dropped, and every other action becomes a unique placeholder scalar.
// Both branches of an if/else survive, so this checks the YAML shape of the
// templates, not what Helm renders; TestHelmRender does that when it can.
func placeholderYAML(t *testing.T, name, src string) string {
	t.Helper()
	var out []string
	n := 0
	for _, line := range strings.Split(src, "\n") {
		if actionRE.MatchString(line) && strings.TrimSpace(actionRE.ReplaceAllString(line, "")) == "" {
			continue
		}
		line = actionRE.ReplaceAllStringFunc(line, func(string) string {
			n++
			return fmt.Sprintf("tpl%d", n)
		})
		if strings.Contains(line, "{{") || strings.Contains(line, "}}") {
			t.Fatalf("%s: an action spans lines: %q", name, line)
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

// loadValues parses values.yaml, or another values file.
func loadValues(t *testing.T, file string) map[string]any {
	t.Helper()
	v, err := decodeYAML(readFile(t, file))
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	m, _ := v.(map[string]any)
	return m
}

// mergeValues merges override into base like Helm does (maps merged
// recursively, everything else replaced).
func mergeValues(base, override map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range override {
		if bm, ok := out[k].(map[string]any); ok {
			if om, ok := v.(map[string]any); ok {
				out[k] = mergeValues(bm, om)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// chartConfig is the gomirror config file the chart writes for values: the
// config map without empty strings and nulls (gomirror.configYAML).
func chartConfig(t *testing.T, values map[string]any) []byte {
	t.Helper()
	cfg := map[string]any{}
	for k, v := range mapAt(values, "config") {
		if s, ok := v.(string); v == nil || (ok && s == "") {
			continue
		}
		cfg[k] = v
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// loadChartConfig loads a gomirror config file as a pod would see it: paths
// under /etc/gomirror/secret/ point at files (the chart's Secret), and env
// holds the environment Secret.
func loadChartConfig(t *testing.T, cfgYAML []byte, files map[string][]byte, env map[string]string) (*config.Serve, error) {
	t.Helper()
	dir := t.TempDir()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(cfgYAML, &cfg); err != nil {
		return nil, err
	}
	for k, v := range cfg {
		if s, ok := v.(string); ok && strings.HasPrefix(s, secretFileDir+"/") {
			name := strings.TrimPrefix(s, secretFileDir+"/")
			if _, ok := files[name]; !ok {
				t.Errorf("config %s: %s, but the files Secret has no %q (has %v)", k, s, name, sortedKeys(files))
			}
			cfg[k] = filepath.Join(dir, name)
		}
	}
	for _, vc := range listAt(cfg, "vcs-credentials") {
		if e := str(vc, "password-env"); e != "" {
			if _, ok := env[e]; !ok {
				t.Errorf("config vcs-credentials: password-env %s, but the environment Secret has no such key (has %v)", e, sortedKeys(env))
			}
		}
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return loadServe(writeTemp(t, "gomirror.yaml", b), env)
}

// checkValues checks values.yaml against the binary and the image: config
// keys are settings and load, the listen port is the Service's target port,
// the grace period covers preStop plus shutdown-timeout, and the pod runs as
// the image's non-root UID with a read-only root.
func checkValues(t *testing.T, values map[string]any) {
	t.Helper()
	checkSettingNames(t, "values.yaml config", sortedKeys(mapAt(values, "config")))
	cfg, err := loadChartConfig(t, chartConfig(t, values), nil, nil)
	if err != nil {
		t.Errorf("gomirror refuses the chart's default config: %v", err)
	}
	if p := portOf(t, str(values, "config", "listen")); p != str(values, "service", "targetPort") {
		t.Errorf("config.listen port %s != service.targetPort %s", p, str(values, "service", "targetPort"))
	}
	if cfg != nil {
		checkChartOperatorDefaults(t, cfg, values)
	}
	grace, _ := path(values, "terminationGracePeriodSeconds")
	sleep, _ := path(values, "preStopSleepSeconds")
	shutdown := parseDuration(t, str(values, "config", "shutdown-timeout"))
	if time.Duration(grace.(int))*time.Second <= shutdown+time.Duration(sleep.(int))*time.Second {
		t.Errorf("terminationGracePeriodSeconds %v must exceed preStopSleepSeconds %v + shutdown-timeout %v", grace, sleep, shutdown)
	}
	if v, _ := path(values, "podSecurityContext", "runAsNonRoot"); v != true {
		t.Error("podSecurityContext.runAsNonRoot is not true")
	}
	if v, _ := path(values, "securityContext", "readOnlyRootFilesystem"); v != true {
		t.Error("securityContext.readOnlyRootFilesystem is not true")
	}
	d := loadDockerfile(t)
	user, _ := d.final.last("USER")
	uid, _, _ := strings.Cut(user.args, ":")
	if got := str(values, "podSecurityContext", "runAsUser"); got != uid {
		t.Errorf("podSecurityContext.runAsUser %s, but the image's USER is %s", got, uid)
	}
}

// TestHelmChart checks the chart without Helm: Chart.yaml, values.yaml
// (see checkValues), every template as YAML (placeholderYAML), the kinds
// and their required fields, the Deployment's shape, every include naming a
// defined template, and every .Values path existing in values.yaml.
func TestHelmChart(t *testing.T) {
	chart := loadValues(t, filepath.Join(chartDir, "Chart.yaml"))
	if str(chart, "apiVersion") != "v2" || str(chart, "name") != "gomirror" {
		t.Errorf("Chart.yaml: apiVersion %q name %q, want v2 gomirror", str(chart, "apiVersion"), str(chart, "name"))
	}
	if !regexp.MustCompile(`^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`).MatchString(str(chart, "version")) {
		t.Errorf("Chart.yaml: version %q is not SemVer", str(chart, "version"))
	}
	if str(chart, "appVersion") == "" {
		t.Error("Chart.yaml: no appVersion (the default image tag)")
	}
	values := loadValues(t, filepath.Join(chartDir, "values.yaml"))
	checkValues(t, values)
	full := loadValues(t, filepath.Join(chartDir, "ci", "full-values.yaml"))
	checkSettingNames(t, "ci/full-values.yaml config", sortedKeys(mapAt(full, "config")))

	tmplDir := filepath.Join(chartDir, "templates")
	entries, err := os.ReadDir(tmplDir)
	if err != nil {
		t.Fatal(err)
	}
	helpers := string(readFile(t, filepath.Join(tmplDir, "_helpers.tpl")))
	defined := map[string]bool{}
	for _, m := range regexp.MustCompile(`\{\{-?\s*define\s+"([^"]+)"`).FindAllStringSubmatch(helpers, -1) {
		defined[m[1]] = true
	}
	var docs []map[string]any
	for _, e := range entries {
		name := filepath.Join(tmplDir, e.Name())
		src := string(readFile(t, name))
		for _, m := range regexp.MustCompile(`(?:include|template)\s+"([^"]+)"`).FindAllStringSubmatch(src, -1) {
			if !defined[m[1]] {
				t.Errorf("%s uses template %q, which _helpers.tpl does not define", name, m[1])
			}
		}
		for _, m := range regexp.MustCompile(`\.Values((?:\.[A-Za-z0-9_]+)+)`).FindAllStringSubmatch(src, -1) {
			if _, ok := path(values, strings.Split(m[1][1:], ".")...); !ok {
				t.Errorf("%s uses .Values%s, which values.yaml does not have", name, m[1])
			}
		}
		if !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		ds, err := decodeYAMLDocs([]byte(placeholderYAML(t, name, src)))
		if err != nil {
			t.Errorf("%s is not YAML (with template actions as placeholders): %v", name, err)
			continue
		}
		docs = append(docs, ds...)
	}
	checkKinds(t, docs, slices.Sorted(maps.Keys(kinds)), false)
	var services int
	for _, d := range docs {
		switch str(d, "kind") {
		case "Deployment":
			checkDeployment(t, d, values, false)
		case "Service":
			services++
			checkServicePorts(t, d, "")
		}
	}
	if services != 2 {
		t.Errorf("%d Service templates, want 2 (the main one and the metrics one)", services)
	}
}

// isMetricsService reports whether a Service is the chart's metrics
// Service (label app.kubernetes.io/component: metrics).
func isMetricsService(svc map[string]any) bool {
	return str(svc, "metadata", "labels", "app.kubernetes.io/component") == "metrics"
}

// checkServicePorts checks a Service's ports: the main Service exposes the
// container port http only, the metrics Service the container port metrics
// only. adminPort, if known, is a port number the main Service must not
// use either.
func checkServicePorts(t *testing.T, svc map[string]any, adminPort string) {
	t.Helper()
	want := "http"
	if isMetricsService(svc) {
		want = "metrics"
	}
	ports := listAt(svc, "spec", "ports")
	if len(ports) == 0 {
		t.Errorf("Service %s has no ports", str(svc, "metadata", "name"))
	}
	for _, p := range ports {
		if tp := str(p, "targetPort"); tp != want || str(p, "name") != want {
			t.Errorf("Service %s: port %v, want only the container port %s", str(svc, "metadata", "name"), p, want)
		}
		if !isMetricsService(svc) && adminPort != "" && (str(p, "port") == adminPort || str(p, "targetPort") == adminPort) {
			t.Errorf("the main Service %s exposes the admin-listen port %s", str(svc, "metadata", "name"), adminPort)
		}
	}
	if want == "metrics" && str(svc, "spec", "type") != "ClusterIP" {
		t.Errorf("metrics Service type %q, want ClusterIP", str(svc, "spec", "type"))
	}
}

// checkChartOperatorDefaults checks the chart's default configuration with
// the server it builds: the operator endpoints are on admin-listen, on
// another port than listen, need an admin token there (secure by default:
// a pod IP is not loopback), and the recipe in values.yaml (a tokens file
// with an admin token from gomirror token add --role admin) lets a scraper
// in. The pod annotations, whose scrapers send no token, are off.
func checkChartOperatorDefaults(t *testing.T, cfg *config.Serve, values map[string]any) {
	t.Helper()
	if cfg.AdminListen == "" || portOf(t, cfg.AdminListen) == portOf(t, cfg.Listen) {
		t.Errorf("values.yaml: admin-listen %q, want a port of its own (listen %s)", cfg.AdminListen, cfg.Listen)
	}
	if config.LoopbackListen(cfg.AdminListen) {
		t.Errorf("values.yaml: admin-listen %q is loopback: Prometheus cannot scrape it", cfg.AdminListen)
	}
	if anonymous, _ := cfg.AdminAnonymous(); anonymous {
		t.Errorf("values.yaml: the operator endpoints are anonymous on %s by default", cfg.AdminListen)
	}
	if v, _ := path(values, "metrics", "podAnnotations"); v == true {
		t.Error("values.yaml: metrics.podAnnotations is on by default, but annotation-based scrapers send no admin token")
	}
	withToken := *cfg
	withToken.TokensFile = filepath.Join(t.TempDir(), "tokens.json")
	token, err := auth.NewTokens(withToken.TokensFile).AddRole("prometheus", auth.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	checkOperatorAccess(t, "values.yaml with an admin token", &withToken, operatorAccess{adminOnly: true, token: token})
}

// checkKinds checks that docs are exactly of the wanted kinds (each at
// least once), with the right apiVersion and a metadata.name.
func checkKinds(t *testing.T, docs []map[string]any, want []string, exact bool) {
	t.Helper()
	got := map[string]int{}
	for _, d := range docs {
		kind := str(d, "kind")
		got[kind]++
		if api, ok := kinds[kind]; !ok {
			t.Errorf("unexpected kind %q", kind)
		} else if str(d, "apiVersion") != api {
			t.Errorf("%s: apiVersion %q, want %s", kind, str(d, "apiVersion"), api)
		}
		if str(d, "metadata", "name") == "" {
			t.Errorf("%s without metadata.name", kind)
		}
	}
	for _, k := range want {
		if got[k] == 0 {
			t.Errorf("no %s (have %v)", k, got)
		}
	}
	if exact {
		for k := range got {
			if !slices.Contains(want, k) {
				t.Errorf("%s rendered, but not expected with these values", k)
			}
		}
	}
}

// checkDeployment checks the Deployment: gomirror serve --config with the
// config file from the ConfigMap, /healthz liveness, /readyz readiness, an
// emptyDir work dir at storage-dir and /tmp, environment from a Secret. With
// rendered, also what only Helm fills in: the security contexts, resources,
// the grace period.
func checkDeployment(t *testing.T, d map[string]any, values map[string]any, rendered bool) {
	t.Helper()
	pod := mapAt(d, "spec", "template", "spec")
	var c map[string]any
	for _, x := range listAt(pod, "containers") {
		if str(x, "name") == "gomirror" {
			c, _ = x.(map[string]any)
		}
	}
	if c == nil {
		t.Fatal("Deployment: no container named gomirror")
	}
	args := stringList(c["args"])
	checkSettingNames(t, "Deployment args", flagNames(args))
	if !slices.Equal(args, []string{"serve", "--config", configPath}) {
		t.Errorf("Deployment args %v, want [serve --config %s]", args, configPath)
	}
	volumes := map[string]map[string]any{}
	for _, v := range listAt(pod, "volumes") {
		m, _ := v.(map[string]any)
		volumes[str(m, "name")] = m
	}
	mounts := map[string]string{}
	for _, m := range listAt(c, "volumeMounts") {
		mounts[str(m, "mountPath")] = str(m, "name")
		if volumes[str(m, "name")] == nil {
			t.Errorf("volumeMount %s names volume %q, which does not exist", str(m, "mountPath"), str(m, "name"))
		}
	}
	if v := volumes[mounts[configPath]]; v == nil || v["configMap"] == nil {
		t.Errorf("%s is not mounted from a ConfigMap", configPath)
	}
	if v := volumes[mounts[secretFileDir]]; v == nil || v["secret"] == nil {
		t.Errorf("%s is not mounted from a Secret", secretFileDir)
	}
	storageDir := str(values, "config", "storage-dir")
	for _, dir := range []string{storageDir, "/tmp"} {
		if v := volumes[mounts[dir]]; v == nil {
			t.Errorf("%s is not a volume (the root file system is read-only)", dir)
		} else if _, ok := v["emptyDir"]; !ok {
			t.Errorf("%s is not an emptyDir", dir)
		}
	}
	ports := map[string]bool{}
	for _, p := range listAt(c, "ports") {
		ports[str(p, "name")] = true
	}
	if !ports["metrics"] {
		t.Error("the container has no port named metrics (config.admin-listen)")
	}
	for probe, want := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz", "startupProbe": "/healthz"} {
		if got := str(c, probe, "httpGet", "path"); got != want {
			t.Errorf("%s path %q, want %s", probe, got, want)
		}
		if p := str(c, probe, "httpGet", "port"); !ports[p] {
			t.Errorf("%s port %q is not a named container port", probe, p)
		}
	}
	var fromSecret bool
	for _, e := range listAt(c, "envFrom") {
		fromSecret = fromSecret || str(e, "secretRef", "name") != ""
	}
	if !fromSecret {
		t.Error("the container's environment does not come from a Secret (envFrom secretRef)")
	}
	if str(d, "spec", "template", "metadata", "annotations", "checksum/config") == "" {
		t.Error("no checksum/config pod annotation: a config change would not roll the pods")
	}
	if !rendered {
		return
	}
	if v, _ := path(pod, "securityContext", "runAsNonRoot"); v != true {
		t.Error("pod securityContext.runAsNonRoot is not true")
	}
	if v, _ := path(c, "securityContext", "readOnlyRootFilesystem"); v != true {
		t.Error("container securityContext.readOnlyRootFilesystem is not true")
	}
	if v, _ := path(c, "securityContext", "allowPrivilegeEscalation"); v != false {
		t.Error("container securityContext.allowPrivilegeEscalation is not false")
	}
	if len(mapAt(c, "resources")) == 0 {
		t.Error("no resources")
	}
	if str(c, "ports", "0", "containerPort") != portOf(t, str(values, "config", "listen")) {
		t.Errorf("containerPort %s, but gomirror listens on %s", str(c, "ports", "0", "containerPort"), str(values, "config", "listen"))
	}
	adminPort := ""
	if a := str(values, "config", "admin-listen"); a != "" {
		adminPort = portOf(t, a)
	}
	for _, p := range listAt(c, "ports") {
		if str(p, "name") == "metrics" && str(p, "containerPort") != adminPort {
			t.Errorf("container port metrics %s, but admin-listen is %s", str(p, "containerPort"), str(values, "config", "admin-listen"))
		}
	}
	if a := str(d, "spec", "template", "metadata", "annotations", "prometheus.io/port"); a != "" && a != adminPort {
		t.Errorf("pod annotation prometheus.io/port %s, but the operator endpoints are on admin-listen %s", a, str(values, "config", "admin-listen"))
	}
	scheme := "HTTP"
	if str(values, "config", "tls-cert") != "" {
		scheme = "HTTPS"
	}
	for _, probe := range []string{"livenessProbe", "readinessProbe", "startupProbe"} {
		if got := str(c, probe, "httpGet", "scheme"); got != scheme {
			t.Errorf("%s scheme %q, want %s", probe, got, scheme)
		}
	}
}

var (
	helmOnce  sync.Once
	helmPath  string
	helmWhy   string
	helmBuilt string // a temp dir holding a helm this package built; TestMain removes it
)

// helmBinary returns a helm binary: $DEPLOY_TEST_HELM if set ("off" skips),
// else helm from PATH, else Helm helmVersion built with go install (not
// with -short). It skips the test, loudly, when there is none.
func helmBinary(t *testing.T) string {
	t.Helper()
	helmOnce.Do(func() {
		switch env := os.Getenv("DEPLOY_TEST_HELM"); {
		case env == "off":
			helmWhy = "DEPLOY_TEST_HELM=off"
			return
		case env != "":
			helmPath = env
			return
		}
		if p, err := exec.LookPath("helm"); err == nil {
			helmPath = p
			return
		}
		if testing.Short() {
			helmWhy = "no helm in PATH, and -short: not building Helm " + helmVersion
			return
		}
		dir, err := os.MkdirTemp("", "gomirror-deploy-helm-")
		if err != nil {
			helmWhy = err.Error()
			return
		}
		helmBuilt = dir
		ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "install", "helm.sh/helm/v3/cmd/helm@"+helmVersion)
		cmd.Dir = dir // outside this module
		cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=", "GOWORK=off", "GOTOOLCHAIN=local")
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			helmWhy = fmt.Sprintf("building Helm %s failed after %v: %v\n%s", helmVersion, time.Since(start).Round(time.Second), err, out)
			return
		}
		helmPath = filepath.Join(dir, "helm")
	})
	if helmPath == "" {
		t.Skipf("SKIPPED, THE CHART IS NOT RENDERED (only TestHelmChart's static checks ran): %s", helmWhy)
	}
	return helmPath
}

// helm runs a helm command with its home directories in a temp dir.
func helm(t *testing.T, args ...string) []byte {
	t.Helper()
	out, err := helmErr(t, args...)
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// helmErr is helm, returning the error and, when there is one, the output
// followed by stderr.
func helmErr(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(helmBinary(t), args...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(home, "cache"), "HELM_CONFIG_HOME="+filepath.Join(home, "config"), "HELM_DATA_HOME="+filepath.Join(home, "data"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return append(out, stderr.String()...), err
	}
	return out, nil
}

// TestHelmRender lints and renders the chart with Helm, with the default
// values and with ci/full-values.yaml (everything enabled), and checks the
// manifests: the kinds each case must render, their apiVersions and names,
// the Deployment (checkDeployment), that the Service, PDB, HPA and
// ServiceMonitor point at the Deployment's pods and port, and that the
// rendered gomirror config loads in gomirror with the Secrets' files and
// environment (paths under /etc/gomirror/secret must be keys of the files
// Secret, password-env names keys of the environment Secret).
func TestHelmRender(t *testing.T) {
	helmBinary(t)
	defaults := loadValues(t, filepath.Join(chartDir, "values.yaml"))
	cases := []struct {
		name   string
		values string // file, relative to the chart; "" for the defaults
		want   []string
	}{
		{"defaults", "", []string{"Deployment", "Service", "PodDisruptionBudget", "Secret", "ConfigMap"}},
		{"full", filepath.Join("ci", "full-values.yaml"), slices.Sorted(maps.Keys(kinds))},
		{"open-metrics", filepath.Join("ci", "open-metrics-values.yaml"), []string{"Deployment", "Service", "PodDisruptionBudget", "Secret", "ConfigMap", "ServiceMonitor", "NetworkPolicy"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			values := defaults
			args := []string{"template", "rel", chartDir, "--namespace", "mirror", "--api-versions", "monitoring.coreos.com/v1"}
			lint := []string{"lint", "--strict", chartDir}
			if tc.values != "" {
				file := filepath.Join(chartDir, tc.values)
				values = mergeValues(defaults, loadValues(t, file))
				args = append(args, "--values", file)
				lint = append(lint, "--values", file)
			}
			helm(t, lint...)
			docs, err := decodeYAMLDocs(helm(t, args...))
			if err != nil {
				t.Fatalf("helm template output: %v", err)
			}
			checkKinds(t, docs, tc.want, true)
			byKind := map[string][]map[string]any{}
			for _, d := range docs {
				byKind[str(d, "kind")] = append(byKind[str(d, "kind")], d)
			}
			deploy := byKind["Deployment"][0]
			checkDeployment(t, deploy, values, true)
			if v, _ := path(values, "autoscaling", "enabled"); v == true {
				if _, ok := path(deploy, "spec", "replicas"); ok {
					t.Error("Deployment sets spec.replicas although the HPA scales it")
				}
			} else if str(deploy, "spec", "replicas") != str(values, "replicaCount") {
				t.Errorf("Deployment replicas %s, want replicaCount %s", str(deploy, "spec", "replicas"), str(values, "replicaCount"))
			}
			podLabels := mapAt(deploy, "spec", "template", "metadata", "labels")
			selects := func(what string, sel map[string]any) {
				if len(sel) == 0 {
					t.Errorf("%s has no selector", what)
				}
				for k, v := range sel {
					if podLabels[k] != v {
						t.Errorf("%s selects %s=%v, the pods have %v", what, k, v, podLabels[k])
					}
				}
			}
			selects("Deployment", mapAt(deploy, "spec", "selector", "matchLabels"))
			var svc, metricsSvc map[string]any
			for _, s := range byKind["Service"] {
				if isMetricsService(s) {
					metricsSvc = s
				} else {
					svc = s
				}
			}
			if svc == nil {
				t.Fatal("no main Service")
			}
			if metricsSvc == nil || len(byKind["Service"]) != 2 {
				t.Errorf("%d Services, metrics Service %v: want the main one and the metrics one", len(byKind["Service"]), metricsSvc != nil)
			}
			adminPort := ""
			if a := str(values, "config", "admin-listen"); a == "" {
				t.Error("config.admin-listen is empty: the operator endpoints share the clients' port")
			} else {
				adminPort = portOf(t, a)
			}
			for _, s := range byKind["Service"] {
				selects("Service "+str(s, "metadata", "name"), mapAt(s, "spec", "selector"))
				checkServicePorts(t, s, adminPort)
			}
			for _, pdb := range byKind["PodDisruptionBudget"] {
				selects("PodDisruptionBudget", mapAt(pdb, "spec", "selector", "matchLabels"))
			}
			for _, hpa := range byKind["HorizontalPodAutoscaler"] {
				if str(hpa, "spec", "scaleTargetRef", "name") != str(deploy, "metadata", "name") || str(hpa, "spec", "scaleTargetRef", "kind") != "Deployment" {
					t.Errorf("HPA scales %v, not the Deployment", mapAt(hpa, "spec", "scaleTargetRef"))
				}
			}
			labelsMatch := func(sel, labels map[string]any) bool {
				for k, v := range sel {
					if labels[k] != v {
						return false
					}
				}
				return true
			}
			for _, sm := range byKind["ServiceMonitor"] {
				sel := mapAt(sm, "spec", "selector", "matchLabels")
				if !labelsMatch(sel, mapAt(metricsSvc, "metadata", "labels")) {
					t.Errorf("ServiceMonitor selects %v, not the metrics Service (labels %v)", sel, mapAt(metricsSvc, "metadata", "labels"))
				}
				if labelsMatch(sel, mapAt(svc, "metadata", "labels")) {
					t.Errorf("ServiceMonitor selects %v, which selects the main Service too", sel)
				}
				if len(listAt(sm, "spec", "endpoints")) != 1 || str(sm, "spec", "endpoints", "0", "port") != str(metricsSvc, "spec", "ports", "0", "name") || str(sm, "spec", "endpoints", "0", "path") != "/metrics" {
					t.Errorf("ServiceMonitor endpoints %v: want the metrics Service's port at /metrics", listAt(sm, "spec", "endpoints"))
				}
			}
			for _, np := range byKind["NetworkPolicy"] {
				checkNetworkPolicy(t, np, podLabels)
			}

			// The Secrets and the config.
			files := map[string][]byte{}
			env := map[string]string{}
			pod := mapAt(deploy, "spec", "template", "spec")
			filesSecret := ""
			for _, v := range listAt(pod, "volumes") {
				if s := str(v, "secret", "secretName"); s != "" {
					filesSecret = s
				}
			}
			envSecret := str(pod, "containers", "0", "envFrom", "0", "secretRef", "name")
			var smToken struct{ secret, key, value string }
			for _, sm := range byKind["ServiceMonitor"] {
				if a := mapAt(sm, "spec", "endpoints", "0", "authorization"); a != nil {
					if str(a, "type") != "Bearer" {
						t.Errorf("ServiceMonitor authorization type %q, want Bearer", str(a, "type"))
					}
					smToken.secret, smToken.key = str(a, "credentials", "name"), str(a, "credentials", "key")
				}
			}
			for _, s := range byKind["Secret"] {
				for k, v := range mapAt(s, "data") {
					b, err := base64.StdEncoding.DecodeString(fmt.Sprint(v))
					if err != nil {
						t.Errorf("Secret %s key %s: %v", str(s, "metadata", "name"), k, err)
					}
					switch str(s, "metadata", "name") {
					case smToken.secret:
						if k == smToken.key {
							smToken.value = string(b)
						}
					case filesSecret:
						files[k] = b
					case envSecret:
						env[k] = string(b)
						if strings.HasPrefix(k, "GOMIRROR_") {
							checkEnvNames(t, "Secret "+envSecret, []string{k})
						}
					default:
						t.Errorf("Secret %s is used neither for files nor for the environment", str(s, "metadata", "name"))
					}
				}
			}
			cm := byKind["ConfigMap"][0]
			if v := volumeOf(pod, configPath); str(v, "configMap", "name") != str(cm, "metadata", "name") {
				t.Errorf("%s comes from ConfigMap %q, the chart renders %q", configPath, str(v, "configMap", "name"), str(cm, "metadata", "name"))
			}
			cfgYAML := []byte(str(cm, "data", "gomirror.yaml"))
			keys, _ := yamlKeys(t, cfgYAML)
			checkSettingNames(t, "ConfigMap gomirror.yaml", keys)
			cfg, err := loadChartConfig(t, cfgYAML, files, env)
			if err != nil {
				t.Fatalf("gomirror refuses the rendered config: %v\n%s", err, cfgYAML)
			}

			// The operator endpoints, with the server this config builds:
			// every scraper the chart sets up gets in, with what it sends.
			if cfg.AdminListen == "" || portOf(t, cfg.AdminListen) != adminPort || config.LoopbackListen(cfg.AdminListen) {
				t.Errorf("admin-listen %q: want the metrics port %s, not loopback", cfg.AdminListen, adminPort)
			}
			if smToken.secret != "" && smToken.value == "" {
				t.Errorf("the ServiceMonitor sends the token in Secret %s key %s, which the chart does not render", smToken.secret, smToken.key)
			}
			if len(byKind["ServiceMonitor"]) > 0 {
				checkOperatorAccess(t, "ServiceMonitor", cfg, operatorAccess{adminOnly: true, token: smToken.value})
			}
			if str(deploy, "spec", "template", "metadata", "annotations", "prometheus.io/scrape") == "true" {
				checkOperatorAccess(t, "prometheus.io pod annotations", cfg, operatorAccess{adminOnly: true})
			}
			if want := chartConfig(t, values); !yamlEqual(t, cfgYAML, want) {
				t.Errorf("rendered gomirror.yaml:\n%s\nwant (values.config without empty values):\n%s", cfgYAML, want)
			}
			if v, _ := strconv.Atoi(str(pod, "terminationGracePeriodSeconds")); time.Duration(v)*time.Second <= parseDuration(t, str(values, "config", "shutdown-timeout")) {
				t.Errorf("terminationGracePeriodSeconds %d does not exceed shutdown-timeout", v)
			}
		})
	}
}

// volumeOf returns the pod volume mounted at mountPath in the first
// container.
func volumeOf(pod map[string]any, mountPath string) map[string]any {
	name := ""
	for _, m := range listAt(pod, "containers", "0", "volumeMounts") {
		if str(m, "mountPath") == mountPath {
			name = str(m, "name")
		}
	}
	for _, v := range listAt(pod, "volumes") {
		if str(v, "name") == name {
			m, _ := v.(map[string]any)
			return m
		}
	}
	return nil
}

func yamlEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	x, err1 := decodeYAML(a)
	y, err2 := decodeYAML(b)
	if err1 != nil || err2 != nil {
		t.Fatalf("yamlEqual: %v %v", err1, err2)
	}
	return reflect.DeepEqual(x, y)
}

// checkNetworkPolicy checks the chart's NetworkPolicy: it selects the pods,
// isolates their ingress, lets clients reach the port http, and lets only
// named peers reach the port metrics (a rule for it without from would let
// everyone in).
func checkNetworkPolicy(t *testing.T, np map[string]any, podLabels map[string]any) {
	t.Helper()
	for k, v := range mapAt(np, "spec", "podSelector", "matchLabels") {
		if podLabels[k] != v {
			t.Errorf("NetworkPolicy selects %s=%v, the pods have %v", k, v, podLabels[k])
		}
	}
	if !slices.Contains(stringList(mapAt(np, "spec")["policyTypes"]), "Ingress") {
		t.Error("NetworkPolicy does not restrict Ingress")
	}
	var httpOpen, metricsRestricted bool
	for _, r := range listAt(np, "spec", "ingress") {
		for _, p := range listAt(r, "ports") {
			switch str(p, "port") {
			case "http":
				httpOpen = httpOpen || len(listAt(r, "from")) == 0
			case "metrics":
				if len(listAt(r, "from")) == 0 {
					t.Errorf("NetworkPolicy rule %v lets everyone reach the metrics port", r)
				} else {
					metricsRestricted = true
				}
			default:
				t.Errorf("NetworkPolicy rule %v opens port %v", r, str(p, "port"))
			}
		}
		if len(listAt(r, "ports")) == 0 {
			t.Errorf("NetworkPolicy rule %v opens every port", r)
		}
	}
	if !httpOpen || !metricsRestricted {
		t.Errorf("NetworkPolicy ingress %v: want the http port open and the metrics port open to named peers only", listAt(np, "spec", "ingress"))
	}
}

// TestHelmRenderRefuses checks that the chart refuses values with which
// scraping cannot work or the metrics port would be open to everyone,
// with a message that says what to set.
func TestHelmRenderRefuses(t *testing.T) {
	helmBinary(t)
	cases := []struct {
		name, values, want string
	}{
		{"ServiceMonitor without a token", "metrics: {serviceMonitor: {enabled: true}}", "metrics.adminToken"},
		{"ServiceMonitor token without a tokens file", "metrics: {serviceMonitor: {enabled: true}, adminToken: {value: gm_x}}", "config.tokens-file"},
		{"NetworkPolicy open to all", "metrics: {networkPolicy: {enabled: true}}", "metrics.networkPolicy.from"},
		{"loopback admin-listen", "config: {admin-listen: 127.0.0.1:3001, admin-auth: \"off\"}\nmetrics: {podAnnotations: true}", "loopback"},
		{"no admin-listen", "config: {admin-listen: \"\", admin-auth: \"off\"}\nmetrics: {serviceMonitor: {enabled: true}}", "admin-listen is empty"},
		{"bare off", "config: {admin-auth: off}", "in quotes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := writeTemp(t, "values.yaml", []byte(tc.values))
			out, err := helmErr(t, "template", "rel", chartDir, "--api-versions", "monitoring.coreos.com/v1", "--values", file)
			if err == nil {
				t.Fatalf("helm template with %s: no error, want one naming %q\n%s", tc.values, tc.want, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("helm template with %s: %s\nwant a message naming %q", tc.values, out, tc.want)
			}
		})
	}
}
