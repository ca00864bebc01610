package deploy

import (
	"context"
	"debug/elf"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A dockerInstr is one Dockerfile instruction, continuation lines joined.
type dockerInstr struct {
	cmd   string   // upper case: FROM, RUN, ...
	flags []string // leading --flag=value arguments
	args  string   // the rest
	line  int
}

// json returns the instruction's exec form (a JSON array), or nil.
func (in dockerInstr) json() []string {
	var a []string
	if json.Unmarshal([]byte(in.args), &a) != nil {
		return nil
	}
	return a
}

func (in dockerInstr) flag(name string) (string, bool) {
	for _, f := range in.flags {
		if v, ok := strings.CutPrefix(f, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

type dockerStage struct {
	image, name string // image with global ARGs expanded; AS name
	instrs      []dockerInstr
}

func (s dockerStage) all(cmd string) []dockerInstr {
	var out []dockerInstr
	for _, in := range s.instrs {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

func (s dockerStage) last(cmd string) (dockerInstr, bool) {
	all := s.all(cmd)
	if len(all) == 0 {
		return dockerInstr{}, false
	}
	return all[len(all)-1], true
}

// parseDockerfile splits a Dockerfile into instructions and stages, the way
// the builder does for the purposes of these tests: comment lines dropped
// (also inside continuations), backslash continuations joined, global ARG
// defaults expanded in FROM.
func parseDockerfile(t *testing.T, src string) (globalArgs map[string]string, stages []dockerStage) {
	t.Helper()
	var instrs []dockerInstr
	var cur strings.Builder
	start := 0
	for i, line := range strings.Split(src, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() > 0) {
			continue
		}
		if trimmed == "" {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if body, ok := strings.CutSuffix(strings.TrimRight(line, " \t"), `\`); ok {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(line)
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		cmd, rest, _ := strings.Cut(text, " ")
		in := dockerInstr{cmd: strings.ToUpper(cmd), line: start}
		rest = strings.TrimSpace(rest)
		for strings.HasPrefix(rest, "--") {
			f, r, _ := strings.Cut(rest, " ")
			in.flags = append(in.flags, f)
			rest = strings.TrimSpace(r)
		}
		in.args = rest
		instrs = append(instrs, in)
	}
	if cur.Len() > 0 {
		t.Fatalf("Dockerfile ends inside a continued line: %q", cur.String())
	}
	globalArgs = map[string]string{}
	expand := func(s string) string {
		return os.Expand(s, func(k string) string { return globalArgs[k] })
	}
	for _, in := range instrs {
		switch {
		case in.cmd == "FROM":
			f := strings.Fields(in.args)
			st := dockerStage{image: expand(f[0])}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			stages = append(stages, st)
		case len(stages) == 0 && in.cmd == "ARG":
			k, v, _ := strings.Cut(in.args, "=")
			globalArgs[k] = v
		case len(stages) == 0:
			t.Fatalf("line %d: %s before the first FROM", in.line, in.cmd)
		default:
			stages[len(stages)-1].instrs = append(stages[len(stages)-1].instrs, in)
		}
	}
	return globalArgs, stages
}

// envOf collects the ENV settings of a stage (KEY=value forms).
func envOf(s dockerStage) map[string]string {
	env := map[string]string{}
	for _, in := range s.all("ENV") {
		for _, kv := range strings.Fields(in.args) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				env[k] = v
			}
		}
	}
	return env
}

// aptPackages returns the packages apt-get install names in a stage.
func aptPackages(s dockerStage) []string {
	var pkgs []string
	for _, in := range s.all("RUN") {
		for _, cmd := range regexp.MustCompile(`&&|;`).Split(in.args, -1) {
			f := strings.Fields(cmd)
			for len(f) > 0 && strings.Contains(f[0], "=") {
				f = f[1:] // VAR=value prefixes
			}
			if len(f) < 2 || f[0] != "apt-get" || !slices.Contains(f, "install") {
				continue
			}
			for _, w := range f[slices.Index(f, "install")+1:] {
				if !strings.HasPrefix(w, "-") {
					pkgs = append(pkgs, w)
				}
			}
		}
	}
	return pkgs
}

type dockerfileInfo struct {
	globalArgs       map[string]string
	stages           []dockerStage
	build, final     dockerStage
	buildCmd, output string // the go build command and its -o path
}

func loadDockerfile(t *testing.T) dockerfileInfo {
	t.Helper()
	var d dockerfileInfo
	d.globalArgs, d.stages = parseDockerfile(t, string(readFile(t, "Dockerfile")))
	if len(d.stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a multi-stage build (build + runtime)", len(d.stages))
	}
	d.final = d.stages[len(d.stages)-1]
	for _, st := range d.stages {
		for _, in := range st.all("RUN") {
			if strings.Contains(in.args, "go build") {
				d.build, d.buildCmd = st, in.args
			}
		}
	}
	if d.buildCmd == "" {
		t.Fatal("no stage runs go build")
	}
	f := strings.Fields(d.buildCmd)
	if i := slices.Index(f, "-o"); i >= 0 && i+1 < len(f) {
		d.output = f[i+1]
	}
	return d
}

// TestDockerfile checks the image's structure: a multi-stage build of
// ./cmd/gomirror (static, -trimpath) on the Go version go.mod wants, and a
// Debian slim runtime with the go command, git, ssh and CA certificates for
// direct fetches, tini as PID 1, a numeric non-root user owning the state
// volume, port 3000, and a health check the image can run.
func TestDockerfile(t *testing.T) {
	d := loadDockerfile(t)

	// Build stage.
	if !strings.HasPrefix(d.build.image, "golang:") {
		t.Errorf("build stage FROM %s, want a golang image", d.build.image)
	}
	if d.build.name == "" {
		t.Error("build stage has no name (FROM ... AS build)")
	}
	gomod := string(readFile(t, filepath.Join(repoRoot, "go.mod")))
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	if !strings.HasPrefix(d.build.image, "golang:"+m[1]) {
		t.Errorf("build stage FROM %s (GO_VERSION=%s), but go.mod wants go %s", d.build.image, d.globalArgs["GO_VERSION"], m[1])
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "./cmd/gomirror"} {
		if !strings.Contains(d.buildCmd, want) {
			t.Errorf("go build command %q lacks %s", d.buildCmd, want)
		}
	}
	if main, err := os.ReadFile(filepath.Join(repoRoot, "cmd", "gomirror", "main.go")); err != nil || !strings.Contains(string(main), "package main") {
		t.Errorf("./cmd/gomirror is not a main package: %v", err)
	}
	if d.output == "" {
		t.Errorf("go build command %q has no -o", d.buildCmd)
	}

	// Runtime stage.
	f := d.final
	if !strings.HasPrefix(f.image, "debian:") || !strings.HasSuffix(f.image, "-slim") {
		t.Errorf("final stage FROM %s, want a Debian slim image", f.image)
	}
	if !strings.HasSuffix(d.build.image, strings.TrimSuffix(strings.TrimPrefix(f.image, "debian:"), "-slim")) {
		t.Errorf("build stage %s and runtime %s are different Debian releases (the go command is copied across)", d.build.image, f.image)
	}
	pkgs := aptPackages(f)
	for _, p := range []string{"git", "ca-certificates", "openssh-client", "tini"} {
		if !slices.Contains(pkgs, p) {
			t.Errorf("final stage does not install %s (installs %v)", p, pkgs)
		}
	}
	var binCopied, goCopied bool
	for _, in := range f.all("COPY") {
		from, _ := in.flag("from")
		a := strings.Fields(in.args)
		if from != d.build.name || len(a) != 2 {
			continue
		}
		binCopied = binCopied || (a[0] == d.output && a[1] == "/usr/local/bin/gomirror")
		goCopied = goCopied || (a[0] == "/usr/local/go" && a[1] == "/usr/local/go")
	}
	if !binCopied {
		t.Errorf("final stage does not COPY --from=%s %s /usr/local/bin/gomirror", d.build.name, d.output)
	}
	if !goCopied {
		t.Errorf("final stage does not COPY --from=%s /usr/local/go /usr/local/go (the go command, with src/ for the checksum database keys)", d.build.name)
	}
	env := envOf(f)
	if !slices.Contains(strings.Split(env["PATH"], ":"), "/usr/local/go/bin") {
		t.Errorf("final stage PATH=%q lacks /usr/local/go/bin", env["PATH"])
	}
	if env["HOME"] == "" {
		t.Error("final stage sets no HOME: the non-root user needs a writable home for git and the go command")
	}

	user, ok := f.last("USER")
	if !ok {
		t.Fatal("final stage has no USER: it would run as root")
	}
	uid, _, _ := strings.Cut(user.args, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("USER %s: want a numeric non-root UID (runAsNonRoot can only verify numeric ones)", user.args)
	}
	var owned bool
	for _, in := range f.all("RUN") {
		if regexp.MustCompile(`(--uid|-o|chown)\s+`+uid+`\b`).MatchString(in.args) && strings.Contains(in.args, "/var/lib/gomirror") {
			owned = true
		}
	}
	if !owned {
		t.Errorf("no RUN creates the user %s or gives it /var/lib/gomirror", uid)
	}
	vol, _ := f.last("VOLUME")
	if !strings.Contains(vol.args, "/var/lib/gomirror") {
		t.Errorf("VOLUME %q: want /var/lib/gomirror", vol.args)
	}
	if exp, _ := f.last("EXPOSE"); !slices.Contains(strings.Fields(exp.args), "3000") {
		t.Errorf("EXPOSE %q: want 3000", exp.args)
	}

	ep, _ := f.last("ENTRYPOINT")
	if got := ep.json(); !slices.Equal(got, []string{"tini", "--", "gomirror"}) {
		t.Errorf("ENTRYPOINT %s: want [\"tini\",\"--\",\"gomirror\"] in exec form", ep.args)
	}
	cmd, _ := f.last("CMD")
	args := cmd.json()
	if len(args) == 0 || args[0] != "serve" {
		t.Fatalf("CMD %s: want [\"serve\", ...] in exec form", cmd.args)
	}
	checkSettingNames(t, "Dockerfile CMD", flagNames(args))
	if v, _ := flagValue(args, "listen"); portOf(t, v) != "3000" || !strings.HasPrefix(v, "0.0.0.0:") {
		t.Errorf("CMD --listen %q: want 0.0.0.0:3000 (reachable from outside the container)", v)
	}
	if v, _ := flagValue(args, "storage-dir"); v != "/var/lib/gomirror" {
		t.Errorf("CMD --storage-dir %q: want the volume /var/lib/gomirror", v)
	}

	hc, ok := f.last("HEALTHCHECK")
	if !ok {
		t.Fatal("no HEALTHCHECK")
	}
	_, hcCmd, _ := strings.Cut(hc.args, "CMD ")
	hcArgs := (dockerInstr{args: strings.TrimSpace(hcCmd)}).json()
	if len(hcArgs) == 0 || !slices.Contains(pkgs, hcArgs[0]) {
		t.Errorf("HEALTHCHECK runs %v: want a tool the final stage installs (%v)", hcArgs, pkgs)
	}
	if !slices.ContainsFunc(hcArgs, func(a string) bool { return strings.HasSuffix(a, ":3000/healthz") }) {
		t.Errorf("HEALTHCHECK %v does not ask :3000/healthz", hcArgs)
	}
}

// dockerignore is a .dockerignore file: patterns relative to the context
// root, ** for any number of directories, ! for exceptions; a pattern that
// matches a directory excludes everything under it.
type dockerignore []struct {
	re     *regexp.Regexp
	negate bool
}

func parseDockerignore(t *testing.T, src string) dockerignore {
	t.Helper()
	var d dockerignore
	for _, line := range strings.Split(src, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		neg := strings.HasPrefix(line, "!")
		line = strings.TrimPrefix(line, "!")
		line = strings.TrimPrefix(filepath.ToSlash(filepath.Clean(line)), "/")
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(line); i++ {
			switch c := line[i]; {
			case strings.HasPrefix(line[i:], "**/"):
				re.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(line[i:], "**"):
				re.WriteString(".*")
				i++
			case c == '*':
				re.WriteString("[^/]*")
			case c == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		re.WriteString("$")
		d = append(d, struct {
			re     *regexp.Regexp
			negate bool
		}{regexp.MustCompile(re.String()), neg})
	}
	return d
}

// excluded reports whether the context path p (slash-separated) is left out.
func (d dockerignore) excluded(p string) bool {
	// A path is out if it or one of its parent directories matches.
	var cands []string
	for q := p; q != "." && q != ""; q = filepath.ToSlash(filepath.Dir(q)) {
		cands = append(cands, q)
	}
	out := false
	for _, pat := range d {
		for _, c := range cands {
			if pat.re.MatchString(c) {
				out = !pat.negate
				break
			}
		}
	}
	return out
}

// buildContext copies the repository into a temp dir the way the Docker
// build context is made: without what Dockerfile.dockerignore leaves out.
func buildContext(t *testing.T) string {
	t.Helper()
	ign := parseDockerignore(t, string(readFile(t, "Dockerfile.dockerignore")))
	dst := t.TempDir()
	err := filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(repoRoot, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if ign.excluded(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, filepath.FromSlash(rel))
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			in, err := os.Open(p)
			if err != nil {
				return err
			}
			defer in.Close()
			out, err := os.Create(target)
			if err != nil {
				return err
			}
			if _, err := io.Copy(out, in); err != nil {
				out.Close()
				return err
			}
			return out.Close()
		}
		return nil // symlinks and the like: not needed for the build
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestDockerignore: the build context keeps what the build needs (go.mod,
// go.sum, the non-test sources of ./cmd/gomirror and its packages) and drops
// the bulk (.git, tests, benchmarks, local binaries).
func TestDockerignore(t *testing.T) {
	ign := parseDockerignore(t, string(readFile(t, "Dockerfile.dockerignore")))
	for _, p := range []string{"go.mod", "go.sum", "cmd/gomirror/main.go", "config/config.go", "server/server.go", "storage/s3/s3.go", "internal/syncx"} {
		if ign.excluded(p) {
			t.Errorf("Dockerfile.dockerignore leaves out %s, which the build needs", p)
		}
	}
	for _, p := range []string{".git/HEAD", "e2e/e2e_test.go", "config/config_test.go", "gomirror", "internal/fakeproxy/testdata/mod/x.txt", "bench/README.md"} {
		if !ign.excluded(p) {
			t.Errorf("Dockerfile.dockerignore keeps %s in the build context", p)
		}
	}
}

// TestDockerBuildStage runs the Dockerfile's own go build command, with
// CGO_ENABLED=0 as written there, in a copy of the build context filtered by
// Dockerfile.dockerignore: the filtered context must build, the binary must
// be static (it runs on a different image than it was built on) and know
// the flags the image's CMD passes. This is the part of `docker build` that
// can run without a container engine; the apt-get and COPY steps cannot.
func TestDockerBuildStage(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: not compiling gomirror")
	}
	d := loadDockerfile(t)
	ctxDir := buildContext(t)
	out := filepath.Join(t.TempDir(), "gomirror")
	cmdline := strings.ReplaceAll(d.buildCmd, d.output, out)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", cmdline)
	cmd.Dir = ctxDir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly", "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the build stage's command failed in the filtered context:\n%s\n%s%v", cmdline, b, err)
	}

	ef, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary is dynamically linked; want a static binary (CGO_ENABLED=0)")
		}
	}

	help, err := exec.Command(out, "serve", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("gomirror serve --help: %v\n%s", err, help)
	}
	c, _ := d.final.last("CMD")
	for _, f := range append(flagNames(c.json()), "config") {
		if !strings.Contains(string(help), "--"+f+" ") {
			t.Errorf("gomirror serve --help does not list --%s, which the image uses", f)
		}
	}
}
