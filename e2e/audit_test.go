package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/audit"
	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/testcert"
	"github.com/gomirror/gomirror/internal/testutil"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/proxy"
)

// addRoleToken is addToken with a role.
func addRoleToken(t *testing.T, file, name, role string) string {
	t.Helper()
	out, err := exec.Command(gomirrorBin, "token", "add", name, "--role", role, "--tokens-file", file).Output()
	if err != nil {
		t.Fatalf("gomirror token add %s --role %s: %v", name, role, err)
	}
	return strings.TrimSpace(string(out))
}

// requestLine matches an access-log line's fields that the audit log
// repeats.
var requestLine = regexp.MustCompile(`msg=request method=(\S+) path=(\S+) status=(\d+) bytes=\d+ duration=\S+ cache=(\S*) upstream=\S* remote=\S+ client=(\S*)`)

// auditKey is what an audit record and an access-log line must agree on.
type auditKey struct {
	method, client, kind, module, version, status, cache string
}

// loggedRequests returns the audited requests of an access log: those
// for module artifacts and the checksum database.
func loggedRequests(t *testing.T, logs string) []auditKey {
	t.Helper()
	var out []auditKey
	for _, m := range requestLine.FindAllStringSubmatch(logs, -1) {
		req, err := proxy.ParsePath(m[2])
		if err != nil || !audit.Audited(req.Kind.String()) {
			continue
		}
		mod, _ := req.NamedModule()
		unquote := func(s string) string { return strings.Trim(s, `"`) } // slog quotes an empty value
		out = append(out, auditKey{m[1], unquote(m[5]), req.Kind.String(), mod, req.Version, m[3], unquote(m[4])})
	}
	return out
}

func sortedKeys(k []auditKey) []string {
	out := make([]string, len(k))
	for i, x := range k {
		out[i] = fmt.Sprint(x)
	}
	slices.Sort(out)
	return out
}

// TestAuditListsWhatTheGoCommandDownloaded: two developers download a
// project's modules through an authenticated mirror with the real go
// command; the audit log then holds exactly the requests the mirror
// answered (compared with its access log), with the right client and cache
// result, the statistics count the downloads, and the catalog lists exactly
// what storage holds. The API is for admin tokens only.
func TestAuditListsWhatTheGoCommandDownloaded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	up := fakeproxy.New(t)
	cert := testcert.New(t)
	store := t.TempDir()
	tokens := filepath.Join(t.TempDir(), "tokens.json")
	alice := addToken(t, tokens, "alice")
	bob := addToken(t, tokens, "bob")
	ops := addRoleToken(t, tokens, "ops", "admin")
	args := []string{"--storage-dir", store, "--upstream", up.URL, "--sumdb", up.DBKey,
		"--tls-cert", cert.CertFile, "--tls-key", cert.KeyFile, "--auth", "all", "--tokens-file", tokens,
		"--prefetch", "0"} // a prefetch racing the client would make its cache results vary
	m := startMirror(t, args...)
	host := strings.TrimPrefix(m.URL, "https://")

	project := t.TempDir()
	writeFiles(t, project, map[string]string{
		"go.mod":  "module example.com/app\n\ngo 1.21\n\nrequire (\n\texample.com/hello v1.1.0\n\texample.com/MixedCase v1.0.0\n)\n",
		"main.go": "package main\n\nimport (\n\t_ \"example.com/MixedCase\"\n\t_ \"example.com/hello\"\n)\n\nfunc main() {}\n",
	})
	download := func(user, token string) {
		netrc := filepath.Join(t.TempDir(), "netrc")
		if err := os.WriteFile(netrc, []byte("machine "+host+" login "+user+" password "+token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		env := append(goEnv(t, m.URL, up.DBKey), "NETRC="+netrc, "SSL_CERT_FILE="+cert.CertFile)
		mustGo(ctx, t, project, env, "mod", "tidy")
		mustGo(ctx, t, project, env, "mod", "download", "all")
	}
	download("alice", alice)
	download("bob", bob)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: cert.ClientConfig()}}
	get := func(path, user, token string) (int, string) {
		req, _ := http.NewRequest("GET", m.URL+path, nil)
		req.SetBasicAuth(user, token)
		code, _, body := testutil.Do(t, client, req)
		return code, body
	}
	// A client token sees nothing of the API.
	if code, body := get("/api/v1/audit", "bob", bob); code != http.StatusForbidden {
		t.Errorf("/api/v1/audit with a client token: %d %s, want 403", code, body)
	}
	if code, _ := get("/catalog", "bob", bob); code != http.StatusForbidden {
		t.Errorf("/catalog with a client token: %d, want 403", code)
	}
	m.stop(t) // SIGTERM: the recorder writes what it holds
	logged := loggedRequests(t, m.logs.String())

	// The audit log, from the command line, against the access log.
	out, err := exec.Command(gomirrorBin, "audit", "--json", "--since", "1h", "--limit", "100000",
		"--storage-dir", store, "--upstream", "off", "--sumdb", "off").Output()
	if err != nil {
		t.Fatalf("gomirror audit: %v", err)
	}
	var audited []auditKey
	clients := map[string]map[string]int{} // client -> cache result of zips -> count
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var r audit.Record
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("gomirror audit --json: %v\n%s", err, out)
		}
		audited = append(audited, auditKey{r.Method, r.Client, r.Kind, r.Module, r.Version, fmt.Sprint(r.Status), r.Cache})
		if r.Kind == "zip" && r.Status == 200 {
			if clients[r.Client] == nil {
				clients[r.Client] = map[string]int{}
			}
			clients[r.Client][r.Cache]++
		}
		if r.Remote != "127.0.0.1" || r.Agent == "" || r.ID == "" || r.Time.IsZero() {
			t.Errorf("record %+v: want remote 127.0.0.1, a user agent, an ID and a time", r)
		}
	}
	if len(logged) == 0 {
		t.Fatal("the access log shows no module requests")
	}
	if got, want := sortedKeys(audited), sortedKeys(logged); !slices.Equal(got, want) {
		t.Errorf("audit log (%d records) differs from the access log (%d module requests):\naudit:  %v\naccess: %v", len(got), len(want), got, want)
	}
	// alice came first: her zips were fetched (miss); bob's came from
	// storage (hello, its dependency dep, MixedCase).
	if a, b := clients["alice"], clients["bob"]; len(a) != 1 || len(b) != 1 || a["miss"] != 3 || b["hit"] != 3 {
		t.Errorf("zip downloads by client and cache result: %v; want alice 3 misses, bob 3 hits", clients)
	}

	// Statistics: each module downloaded twice, by two clients.
	out, err = exec.Command(gomirrorBin, "stats", "--json", "--days", "1", "--storage-dir", store, "--upstream", "off", "--sumdb", "off").Output()
	if err != nil {
		t.Fatalf("gomirror stats: %v", err)
	}
	var stats struct {
		Top []struct {
			Module             string
			Downloads, Clients int64
		}
	}
	if err := json.Unmarshal(out, &stats); err != nil {
		t.Fatalf("gomirror stats --json: %v\n%s", err, out)
	}
	got := map[string][2]int64{}
	for _, m := range stats.Top {
		got[m.Module] = [2]int64{m.Downloads, m.Clients}
	}
	for _, mod := range []string{"example.com/hello", "example.com/dep", "example.com/MixedCase"} {
		if got[mod] != [2]int64{2, 2} {
			t.Errorf("stats for %s: downloads, clients = %v; want 2, 2 (all: %s)", mod, got[mod], out)
		}
	}

	// The catalog, through the API of a mirror restarted offline, holds
	// exactly what storage does.
	m = startMirror(t, append(args[:2:2], "--upstream", "off", "--sumdb", up.DBKey,
		"--tls-cert", cert.CertFile, "--tls-key", cert.KeyFile, "--auth", "all", "--tokens-file", tokens)...)
	want := storedArtifacts(t, store)
	var catalog []string
	// The database opens in the background (modules are served at once,
	// the API answers 503 with Retry-After until it is open): ask again,
	// as a client would, for as long as that is the answer.
	code, body := get("/api/v1/modules?limit=1000", "ops", ops)
	for deadline := time.Now().Add(30 * time.Second); code == http.StatusServiceUnavailable && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		code, body = get("/api/v1/modules?limit=1000", "ops", ops)
	}
	if code != http.StatusOK {
		t.Fatalf("/api/v1/modules: %d %s", code, body)
	}
	var mods struct {
		Modules []struct{ Module string }
		Totals  struct{ Objects int64 }
	}
	if err := json.Unmarshal([]byte(body), &mods); err != nil {
		t.Fatal(err)
	}
	for _, mod := range mods.Modules {
		code, body := get("/api/v1/modules/"+mod.Module, "ops", ops)
		if code != http.StatusOK {
			t.Fatalf("/api/v1/modules/%s: %d %s", mod.Module, code, body)
		}
		var v struct {
			Versions []struct {
				Version string
				Files   []struct {
					File string
					Size int64
				}
			}
		}
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatal(err)
		}
		for _, ver := range v.Versions {
			for _, f := range ver.Files {
				catalog = append(catalog, fmt.Sprintf("%s@%s.%s %d", mod.Module, ver.Version, f.File, f.Size))
			}
		}
	}
	slices.Sort(catalog)
	if !slices.Equal(catalog, want) {
		t.Errorf("catalog:\n%v\nstorage:\n%v", catalog, want)
	}
	if mods.Totals.Objects != int64(len(want)) {
		t.Errorf("catalog totals: %d objects, storage holds %d", mods.Totals.Objects, len(want))
	}
	// Athens' /catalog lists the same versions.
	code, body = get("/catalog", "ops", ops)
	var athens struct {
		Modules []struct{ Module, Version string }
	}
	if err := json.Unmarshal([]byte(body), &athens); code != http.StatusOK || err != nil {
		t.Fatalf("/catalog: %d %v %s", code, err, body)
	}
	versions := map[string]bool{}
	for _, f := range want {
		versions[f[:strings.LastIndex(f[:strings.IndexByte(f, ' ')], ".")]] = true
	}
	if len(athens.Modules) != len(versions) {
		t.Errorf("/catalog lists %d versions, storage holds %d: %s", len(athens.Modules), len(versions), body)
	}
	for _, mv := range athens.Modules {
		if !versions[mv.Module+"@"+mv.Version] {
			t.Errorf("/catalog lists %s@%s, which storage does not hold", mv.Module, mv.Version)
		}
	}
}

// storedArtifacts lists the artifacts under a storage directory as
// "module@version.file size", sorted.
func storedArtifacts(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		key := filepath.ToSlash(strings.TrimPrefix(p, dir+string(filepath.Separator)))
		mv, k, err := layout.Parse(key)
		if err != nil || !k.Artifact() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, fmt.Sprintf("%s@%s.%s %d", mv.Path, mv.Version, k, info.Size()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}
