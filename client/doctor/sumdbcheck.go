package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"time"
	"unicode"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	xsumdb "golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/internal/redact"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/sumdb"
)

// sumDB is the checksum database GOSUMDB names, as doctor checks it
// through each proxy.
type sumDB struct {
	name     string
	key      string        // the verifier key, NAME+HASH+KEY
	verifier note.Verifier // nil when the key is not known
	keyErr   error         // why verifier is nil
	// unusable: a bare name that the go command's table of known keys
	// (which doctor could read) does not hold; the go command refuses it.
	unusable bool
}

// resolveSumDB parses GOSUMDB ("" or "off": nil). As the go command does,
// an alias of a database (sumdb.KnownAliases) stands for the database it
// maps to, and a bare name takes its key from the go command's table of
// known keys in goroot (sumdb.KnownKeys): neither the key of the default
// database nor its aliases are written in gomirror's source.
func resolveSumDB(gosumdb, goroot string) *sumDB {
	if aliases, err := sumdb.KnownAliases(goroot); err == nil {
		if to, ok := aliases[strings.TrimSpace(gosumdb)]; ok {
			gosumdb = to
		}
	}
	name := sumDBName(gosumdb)
	if name == "" {
		return nil
	}
	db := &sumDB{name: name}
	var known map[string]string
	if f := strings.Fields(gosumdb); !strings.Contains(f[0], "+") {
		k, err := sumdb.KnownKeys(goroot)
		if err != nil {
			db.keyErr = err
			return db
		}
		known = k
		if _, ok := k[f[0]]; !ok {
			db.unusable = true
			db.keyErr = i18n.Errorf("the go command knows no key for %s", f[0])
			return db
		}
	}
	parsed, err := sumdb.ParseGOSUMDB(gosumdb, known)
	if err != nil {
		db.keyErr = err
		return db
	}
	v, err := note.NewVerifier(parsed.Key)
	if err != nil {
		db.keyErr = err
		return db
	}
	db.key, db.verifier = parsed.Key, v
	return db
}

// firstLine is the first line of an error (x/mod's errors can hold the
// note they read): a detail is one line of the table.
func firstLine(err error) string {
	s, _, _ := strings.Cut(strings.TrimSpace(err.Error()), "\n")
	return redact.Text(s)
}

// reqError is the text of a failed request: an i18n text for the cases
// doctor names, the error's first line otherwise.
func reqError(path string, err error, timeout time.Duration) i18n.Text {
	var tl *sumdb.TooLargeError
	switch {
	case errors.As(err, &tl):
		return i18n.T("GET %s: answer larger than %d bytes", path, tl.Limit)
	case errors.Is(err, context.DeadlineExceeded):
		return i18n.T("GET %s: no answer within %v", path, timeout)
	}
	return i18n.T("GET %s: %s", path, firstLine(err))
}

// reqFix is the fix for a failed request after /supported answered: too
// large is bad data; a timeout is a slow upstream; an HTTP status is the
// mirror's upstream.
func reqFix(err error, name string, upstream i18n.Text) i18n.Text {
	var tl *sumdb.TooLargeError
	switch {
	case errors.As(err, &tl):
		return badData(name)
	case errors.Is(err, context.DeadlineExceeded):
		return i18n.T("The proxy answered the earlier steps but not this one in time: its upstream for the checksum database %s is slow or unreachable. Check the mirror's logs and its route to its upstream.", name)
	}
	return upstream
}

// probeVersion is the newest release of mod the proxy lists (no
// pseudo-version, as @latest picks), or why there is none; notHeld is a
// list answered 404/410 (the proxy does not hold mod, e.g. an offline
// mirror that never fetched it).
func probeVersion(ctx context.Context, o *Options, client *http.Client, proxyURL, mod string) (version string, why i18n.Text, notHeld bool) {
	lctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	code, status, body, err := get(lctx, client, proxyURL+"/"+escaped(mod)+"/@v/list", maxList)
	switch {
	case err != nil:
		return "", i18n.T("the list of %s could not be read: %v", mod, listErr(err)), false
	case code == http.StatusNotFound || code == http.StatusGone:
		// The proxy's own words say why (gomirror: its upstream is off),
		// printable and short: the proxy may be hostile.
		line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
		line = strings.Map(func(r rune) rune {
			if unicode.IsPrint(r) {
				return r
			}
			return -1
		}, line)
		if line != "" && len(line) <= 200 {
			status += ": " + line
		}
		return "", i18n.T("list: %s", status), true
	case code != http.StatusOK:
		return "", i18n.T("the list of %s: %s", mod, status), false
	}
	for _, v := range releases(body) {
		if version == "" || semver.Compare(v, version) > 0 {
			version = v
		}
	}
	if version == "" {
		return "", i18n.T("the proxy lists no release of %s to look up", mod), false
	}
	return version, i18n.Text{}, false
}

// releases are the versions of a list the go command counts: those a
// list may hold (layout.Listable, +incompatible ones included) that are
// not pseudo-versions (its proxy Versions).
func releases(list []byte) []string {
	var vs []string
	for v := range strings.FieldsSeq(string(list)) {
		if layout.Listable(v) && !module.IsPseudoVersion(v) {
			vs = append(vs, v)
		}
	}
	return vs
}

// checkSumDBThrough checks the checksum database db through the proxy as
// the go command uses it, with the go command's own client
// (sumdb.ProxyClient over golang.org/x/mod/sumdb.Client, a fresh cache):
//
//   - sumdb: GET <proxy>/sumdb/<name>/supported (404/410: the go command
//     asks the database directly, and the check ends there);
//   - lookup: the lookup of the probe module's newest release, its tree
//     head verified with the GOSUMDB key and its record holding that
//     version (skipped for a GONOSUMDB/GOPRIVATE probe module, which the
//     go command never looks up);
//   - tiles: the tiles that prove that record in the lookup's signed tree,
//     what a go command with an empty cache asks next.
//
// These three are what every download of a module not yet in go.sum
// needs: their failure fails the check. Then, informational:
//
//   - latest: the signed tree head, which the go command never reads
//     remotely; it failing is a warning. When it and the lookup both
//     verify, the two trees are proven consistent with the tiles the proxy
//     serves (a proven fork is a failure: a go command holding either tree
//     refuses the other with a SECURITY ERROR; tiles that are not served
//     leave it unchecked, not failed).
func checkSumDBThrough(ctx context.Context, o *Options, client *http.Client, proxyURL string, db *sumDB) Result {
	shown := redact.URL(proxyURL)
	r := Result{Check: "sumdb", Target: shown}
	prefix := "/" + layout.SumDBKey(db.name)
	fixUpstream := i18n.T("The proxy says it serves the checksum database %s, so the go command does not ask the database itself: every download of a module not yet in go.sum fails while this does. Check the mirror's upstream (is it off or unreachable?) and its logs; or put a proxy that passes this check first in GOPROXY.", db.name)
	step := func(name string, d time.Duration, detail i18n.Text, st Status) Step {
		s := Step{Name: name, Status: st, Detail: detail, latency: d, LatencyMS: float64(d.Microseconds()) / 1000}
		if st == OK && d > o.Slow {
			s.Status = Warn
			s.Detail = i18n.T("%s (slow: %v, over %v)", s.Detail, d.Round(time.Millisecond), o.Slow)
		}
		return s
	}
	failed := func(s Step, problem string, fix i18n.Text) Result {
		s.Status = Fail
		r.Steps = append(r.Steps, s)
		r.Status, r.Problem, r.Message, r.Fix = Fail, problem, s.Detail, fix
		return r
	}
	skipRest := func(why i18n.Text, names ...string) {
		for _, n := range names {
			r.Steps = append(r.Steps, skipped(n, why))
		}
	}

	if db.unusable {
		r.Status, r.Message = OK, i18n.T("not checked: GOSUMDB cannot be used (see the gosumdb check)")
		return r
	}
	// db.key is "" when it is not known: then only /supported is asked.
	pc := sumdb.NewProxyClient(ctx, client, proxyURL+prefix, db.key, o.Timeout)
	start := time.Now()
	_, err := pc.Get("/supported")
	d := time.Since(start)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r.Steps = append(r.Steps, step("sumdb", d, i18n.T("GET %s/supported: %s (the go command asks %s directly)", prefix, err, db.name), OK))
		return verdict(r, nil, i18n.T("does not proxy the checksum database %s; the go command connects to it directly", db.name))
	case err != nil:
		return failed(step("sumdb", d, i18n.T("%s: checksum database lookups through this proxy fail", reqError(prefix+"/supported", err, o.Timeout)), Fail), "sumdb-error",
			i18n.T("Check the mirror's checksum database settings and logs; the go command only falls back to the database itself on 404/410."))
	}
	r.Steps = append(r.Steps, step("sumdb", d, i18n.T("GET %s/supported: 200 OK", prefix), OK))

	if db.verifier == nil {
		why := i18n.T("no key for %s: %v", db.name, db.keyErr)
		skipRest(why, "lookup", "tiles", "latest")
		r.Status, r.Problem = Warn, "sumdb-key-unknown"
		r.Message = i18n.T("proxies the checksum database %s, but its signatures cannot be checked: %v", db.name, db.keyErr)
		r.Fix = i18n.T("Give GOSUMDB with its key (NAME+HASH+KEY), or make the Go installation readable (go env GOROOT), whose go command knows the default database's key.")
		return r
	}
	var version string
	if module.MatchPrefixPatterns(o.noSumDB, o.ProbeModule) {
		skipRest(i18n.T("%s is private (GONOSUMDB/GOPRIVATE): the go command does not look it up", o.ProbeModule), "lookup", "tiles")
	} else if v, why, notHeld := probeVersion(ctx, o, client, proxyURL, o.ProbeModule); v == "" {
		skipRest(why, "lookup", "tiles")
		r.Status, r.Problem, r.Message = Warn, "sumdb-not-checked", i18n.T("lookup not checked: %s", why)
		r.Fix = i18n.T("Check the proxy's list of %s (doctor's --probe-module names another module).", o.ProbeModule)
		if notHeld {
			r.Message = i18n.T("lookup and tiles not checked: the proxy does not hold %s (%s), so no checksum database lookup through it could be made", o.ProbeModule, why)
			r.Fix = i18n.T("A mirror whose upstream is off (gomirror serve --upstream off) serves only what it holds: the go command's downloads and checksum lookups of modules it lacks fail too. Fetch what your projects need while it is online (gomirror warm --sumdb in each project), or turn its upstream on; or name a module it holds with doctor's --probe-module.")
		}
	} else {
		version = v
	}

	lookedUp := false
	var lookupTree tlog.Tree // the lookup's signed tree, verified
	if version != "" {
		start := time.Now()
		lines, err := pc.Lookup(o.ProbeModule, version)
		total := time.Since(start)
		var lookupReq *sumdb.ProxyRequest
		var tiles []sumdb.ProxyRequest
		for _, q := range pc.Requests() {
			switch {
			case strings.HasPrefix(q.Path, "/lookup/"):
				lookupReq = &q
			case strings.HasPrefix(q.Path, "/tile/"):
				tiles = append(tiles, q)
			}
		}
		ld := total
		if lookupReq != nil {
			ld = lookupReq.Duration
		}
		mv := o.ProbeModule + "@" + version
		switch {
		case lookupReq == nil:
			detail := i18n.T("%s: no lookup made", mv)
			if err != nil {
				detail = i18n.T("%s: %s", mv, firstLine(err))
			}
			return failed(step("lookup", ld, detail, Fail), "sumdb-lookup", fixUpstream)
		case lookupReq.Err != nil:
			s := failed(step("lookup", ld, reqError(prefix+lookupReq.Path, lookupReq.Err, o.Timeout), Fail), "sumdb-lookup", reqFix(lookupReq.Err, db.name, fixUpstream))
			s.Steps = append(s.Steps, skipped("tiles", i18n.T("the lookup failed")))
			return s
		case err != nil && len(tiles) == 0:
			// The answer itself: not a record, its tree head not signed
			// with the key, or the record outside its tree.
			problem, detail := "sumdb-record", i18n.T("GET %s: %s", prefix+lookupReq.Path, firstLine(err))
			if strings.Contains(err.Error(), "tree note") {
				problem = "sumdb-signature"
				detail = i18n.T("GET %s: the tree head is not signed with the GOSUMDB key of %s: %s", prefix+lookupReq.Path, db.name, firstLine(err))
			}
			s := failed(step("lookup", ld, detail, Fail), problem, badData(db.name))
			s.Steps = append(s.Steps, skipped("tiles", i18n.T("the lookup failed")))
			return s
		case err == nil && len(lines) == 0:
			s := failed(step("lookup", ld, i18n.T("GET %s: the record does not hold %s", prefix+lookupReq.Path, mv), Fail), "sumdb-record", badData(db.name))
			s.Steps = append(s.Steps, skipped("tiles", i18n.T("the lookup failed")))
			return s
		}
		if n, err := note.Open(pc.Latest(), note.VerifierList(db.verifier)); err == nil {
			lookupTree, _ = tlog.ParseTree([]byte(n.Text))
		}
		r.Steps = append(r.Steps, step("lookup", ld, i18n.T("%s: record in the signed tree of size %d, signature verified with the %s key", mv, lookupTree.N, db.name), OK))
		td := max(total-ld, 0)
		size := 0
		for _, q := range tiles {
			size += q.Bytes
		}
		if err != nil {
			for _, q := range tiles {
				if q.Err != nil {
					return failed(step("tiles", td, reqError(prefix+q.Path, q.Err, o.Timeout), Fail), "sumdb-tile", reqFix(q.Err, db.name, fixUpstream))
				}
			}
			return failed(step("tiles", td, i18n.T("the tiles served do not prove the record in its signed tree: %s", pc.Reason(err)), Fail), "sumdb-proof", badData(db.name))
		}
		r.Steps = append(r.Steps, step("tiles", td, i18n.T("tiles: %d (%d bytes), proving the record in the signed tree", len(tiles), size), OK))
		lookedUp = true
	}

	// latest: informational.
	start = time.Now()
	latest, err := pc.Get("/latest")
	d = time.Since(start)
	okMsg := i18n.T("proxies the checksum database %s: lookup and tiles verified", db.name)
	if !lookedUp {
		okMsg = i18n.T("proxies the checksum database %s", db.name)
	}
	latestFix := i18n.T("The go command never reads latest through a proxy (it verifies lookups and tiles), so downloads still work; but this mirror's copy of the checksum database %s is not served whole: check its upstream and logs.", db.name)
	if err != nil {
		r.Steps = append(r.Steps, step("latest", d, reqError(prefix+"/latest", err, o.Timeout), Warn))
		if r.Status == "" {
			r.Status, r.Problem, r.Message, r.Fix = Warn, "sumdb-latest", i18n.T("%s; but latest failed: %s", okMsg, reqError(prefix+"/latest", err, o.Timeout)), latestFix
		}
		return r
	}
	n, err := note.Open(latest, note.VerifierList(db.verifier))
	var t tlog.Tree
	if err == nil {
		t, err = tlog.ParseTree([]byte(n.Text))
	}
	if err != nil {
		detail := i18n.T("GET %s/latest: the tree head is not signed with the GOSUMDB key of %s: %s", prefix, db.name, firstLine(err))
		r.Steps = append(r.Steps, step("latest", d, detail, Warn))
		if r.Status == "" {
			r.Status, r.Problem, r.Message, r.Fix = Warn, "sumdb-latest", detail, badData(db.name)
		}
		return r
	}
	detail := i18n.T("signed tree head of size %d, signature verified with the %s key", t.N, db.name)
	forked := func(why i18n.Text) Result {
		r.Steps = append(r.Steps, step("latest", d, i18n.T("%s; but not consistent with the lookup's signed tree: %s", detail, why), Fail))
		r.Status, r.Problem = Fail, "sumdb-fork"
		r.Message = i18n.T("two signed trees of the checksum database %s served by this proxy are inconsistent: %s", db.name, why)
		r.Fix = i18n.T("A go command holding one of these trees refuses the other with a SECURITY ERROR. Remove the proxy from GOPROXY and report it to its operator (and to the database's operator if the signatures are genuine).")
		return r
	}
	if lookedUp && t.N == lookupTree.N && t.Hash != lookupTree.Hash {
		// Both signed with the key: a fork, no tile needed to see it.
		return forked(i18n.T("two signed trees of size %d with different hashes", t.N))
	}
	if lookedUp {
		before := len(pc.Requests())
		_, err := pc.WithLatest(latest).Lookup(o.ProbeModule, version)
		var missing *sumdb.ProxyRequest
		for _, q := range pc.Requests()[before:] {
			if q.Err != nil {
				missing = &q
				break
			}
		}
		switch {
		case err == nil:
			detail = i18n.T("%s; consistent with the lookup's tree", detail)
		case errors.Is(err, xsumdb.ErrSecurity):
			return forked(i18n.T("%s", pc.Reason(err)))
		case missing != nil:
			detail = i18n.T("%s; consistency with the lookup's tree not checked (%s)", detail, reqError(prefix+missing.Path, missing.Err, o.Timeout))
		default:
			// The tiles served do not hash to one of the two signed trees.
			detail = i18n.T("%s; consistency with the lookup's tree not proven: %s", detail, firstLine(err))
			r.Steps = append(r.Steps, step("latest", d, detail, Warn))
			r.Status, r.Problem, r.Message, r.Fix = Warn, "sumdb-latest", detail, badData(db.name)
			return r
		}
	}
	r.Steps = append(r.Steps, step("latest", d, detail, OK))
	if r.Status != "" {
		return r
	}
	return verdict(r, nil, okMsg)
}

// maxList bounds a version list read by doctor (a long-lived module's list
// is a few kilobytes).
const maxList = 1 << 20

// errTooLarge is an answer larger than its bound.
type errTooLarge struct{ limit int64 }

func (e *errTooLarge) Error() string { return fmt.Sprintf("answer larger than %d bytes", e.limit) }

// listErr is the text of a list's read error, in the user's language for
// the cases doctor names.
func listErr(err error) i18n.Text {
	var tl *errTooLarge
	if errors.As(err, &tl) {
		return i18n.T("answer larger than %d bytes", tl.limit)
	}
	return i18n.T("%s", firstLine(err))
}

// get reads url through client, at most limit bytes (more is an
// *errTooLarge).
func get(ctx context.Context, client *http.Client, url string, limit int64) (int, string, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err == nil {
		var resp *http.Response
		if resp, err = client.Do(req); err == nil {
			return readBody(resp, limit)
		}
	}
	return 0, "", nil, redact.Err(err) // the proxy URL's userinfo is often a token
}

// readBody reads resp's body, at most limit bytes (more is an *errTooLarge),
// and closes it.
func readBody(resp *http.Response, limit int64) (int, string, []byte, error) {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return resp.StatusCode, resp.Status, nil, err
	}
	if int64(len(body)) > limit {
		return resp.StatusCode, resp.Status, nil, &errTooLarge{limit}
	}
	return resp.StatusCode, resp.Status, body, nil
}

// badData is the fix for checksum database data that does not verify.
func badData(name string) i18n.Text {
	return i18n.T("The proxy serves checksum database data for %s that does not verify against the GOSUMDB key: it serves another database under this name, or altered data. Do not use it for this database: check go env GOSUMDB and the mirror's checksum database settings, or remove the proxy from GOPROXY.", name)
}

// escaped is a module path escaped for a URL (the path itself when it
// cannot be escaped: the request then fails and says so).
func escaped(path string) string {
	e, err := module.EscapePath(path)
	if err != nil {
		return path
	}
	return e
}
