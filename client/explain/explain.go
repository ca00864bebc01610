// Package explain reads what the go command printed and says, for every
// error in it, what most likely went wrong and how to fix it.
//
// Parse splits the output into errors: an error is a line that is not
// indented, with the lines that belong to it (continuation lines indented
// with a tab or spaces, the hint lines the go command prints after an error,
// and the SECURITY ERROR paragraph after a checksum mismatch; an indented
// paragraph after a blank line, as in "inconsistent vendoring"; the
// "go.mod:5: ..." lines after "go: errors parsing go.mod:"). Lines that
// report progress ("go: downloading example.com/m v1.0.0", "go: added ...")
// are not errors and are skipped.
//
// Classify matches an error's text against the catalogue (Catalogue), in
// order: the first class with a matching pattern wins, so more specific
// classes come first (a checksum database lookup that answers 410 Gone is
// "sumdb-private", not "not-found"). An error no class matches is unknown:
// the package never guesses.
//
// Every class is tested against output of the real go command produced in
// the test itself (see explain_test.go); the few that cannot be produced on
// loopback in a bounded time are tested with samples only.
package explain

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/internal/redact"
)

// A Class is one known kind of go command error.
type Class struct {
	ID    string    `json:"id"`
	Title i18n.Text `json:"title"`
	Cause i18n.Text `json:"cause"`
	Fix   i18n.Text `json:"fix"`

	patterns []*regexp.Regexp
}

// Matches reports whether the error text (its lines joined by "\n")
// belongs to c.
func (c *Class) Matches(text string) bool {
	for _, p := range c.patterns {
		if p.MatchString(text) {
			return true
		}
	}
	return false
}

func class(id string, title, cause, fix i18n.Text, patterns ...string) *Class {
	c := &Class{ID: id, Title: title, Cause: cause, Fix: fix}
	for _, p := range patterns {
		c.patterns = append(c.patterns, regexp.MustCompile(p))
	}
	return c
}

// catalogue is in match order: specific classes before general ones.
var catalogue = []*Class{
	class("gomod-syntax", i18n.T("go.mod (or go.work) cannot be parsed"),
		i18n.T("A line of go.mod (or go.work) cannot be used: it is not valid syntax (an unknown directive: a typo, or one newer than this go command; "+
			"a require or replace without a version; a bad quote or parenthesis), or it names a version that is not canonical (a branch, a tag name, latest), "+
			"which the go command first resolves through GOPROXY: the error of that request (a 400, a 404) is then reported at the go.mod line."),
		i18n.T("Open the file at the line the message names and fix it (go help go.mod lists the syntax; a require line is \"module/path v1.2.3\", a canonical version); "+
			"go mod edit -fmt shows whether the file parses. If the directive is newer than your Go, upgrade Go. If the line's version had to be resolved, the error after it is the proxy's: see its own explanation."),
		`errors parsing \S*go\.(mod|work)`,
		`go\.(mod|work):\d+(:\d+)?: (unknown directive|usage: |unexpected|invalid quoted string|malformed)`,
	),
	class("vendor-inconsistent", i18n.T("Inconsistent vendoring"),
		i18n.T("The module has a vendor directory (so the go command builds with -mod=vendor) but vendor/modules.txt does not match go.mod: "+
			"a requirement was added, removed or changed in go.mod after go mod vendor last ran, or modules.txt was edited by hand."),
		i18n.T("Run go mod vendor and commit the vendor directory with go.mod; or, to build without it, use -mod=mod or -mod=readonly (or delete vendor/)."),
		`inconsistent vendoring`,
	),
	class("mirror-offline", i18n.T("Mirror is offline and does not hold it"),
		i18n.T("The mirror (a gomirror with its upstream off) serves only what it stores and makes no outbound connections: "+
			"this module version, its list, or its checksum database record was never fetched into it."),
		i18n.T("Fetch what the project needs into the mirror while it is online (gomirror warm --sumdb in the project), "+
			"or import a bundle made where it is online (gomirror bundle import), or turn the mirror's upstream on; "+
			"if the mirror is not yours, ask its operator."),
		`disabled by upstream "off"`, `is not stored here, and the upstream is off`,
	),
	class("sumdb-wrong-key", i18n.T("Checksum database answer not signed with the GOSUMDB key"),
		i18n.T("The checksum database's signed tree head carries no signature the go command can verify with the key it has for GOSUMDB: "+
			"the key in GOSUMDB is wrong or belongs to another database, a proxy in GOPROXY serves another database under this name, "+
			"or GOPATH/pkg/sumdb holds a tree of another database of the same name."),
		i18n.T("Check go env GOSUMDB against the key the database's operator publishes (or unset it: go env -u GOSUMDB for the default); "+
			"if a proxy serves the database (<proxy>/sumdb/<name>/supported), check that mirror's checksum database settings "+
			"(gomirror doctor checks this through each proxy); remove a stale GOPATH/pkg/sumdb/<name> directory."),
		`note has no verifiable signatures`,
	),
	class("sumdb-private", i18n.T("Private module looked up in the checksum database"),
		i18n.T("The go command asked the checksum database (GOSUMDB) for a module it has never seen, "+
			"which is what happens to a private module: the database answers 404/410 and the go command refuses the module."),
		i18n.T("Tell the go command the module is private: go env -w GOPRIVATE=example.com/yourorg/* "+
			"(or only GONOSUMDB=example.com/yourorg/* to keep fetching it through GOPROXY). "+
			"Do not set GOSUMDB=off for everything."),
		`verifying (module|go\.mod)?:?.*(404 Not Found|410 Gone)`,
		`reading \S*/lookup/\S*: (404|410)`,
	),
	class("checksum-mismatch", i18n.T("Checksum mismatch (SECURITY ERROR)"),
		i18n.T("The bytes downloaded for a module version differ from those recorded in go.sum or in the checksum database: "+
			"the proxy or origin served different content, the version was re-tagged, or go.sum holds a wrong line."),
		i18n.T("Do not just delete go.sum lines. Find out which side is wrong: run go clean -modcache and download again; "+
			"if the mismatch is against go.sum only, check who changed that line (git log go.sum); "+
			"if a proxy or mirror serves the wrong bytes, report it and fetch from another GOPROXY."),
		`checksum mismatch`, `SECURITY ERROR`,
	),
	class("missing-gosum", i18n.T("Missing go.sum entry"),
		i18n.T("go.sum has no checksum for a module the build needs, and the go command may not add it "+
			"(-mod=readonly is the default for builds and tests)."),
		i18n.T("Run go mod tidy (or the go get / go mod download command the message names) and commit go.sum."),
		`missing go\.sum entry`,
	),
	class("auth-required", i18n.T("Authentication required"),
		i18n.T("The server (a git host or a proxy) asked for credentials and the go command had none to give; "+
			"it disables git's terminal prompts, so git cannot ask you."),
		i18n.T("Give credentials non-interactively: a ~/.netrc line \"machine HOST login USER password TOKEN\", "+
			"a git credential helper, or GOAUTH; for private modules also set GOPRIVATE so they bypass the public proxy and checksum database. "+
			"For a gomirror with tokens, see gomirror token add."),
		`terminal prompts disabled`, `could not read (Username|Password)`,
		`\b401 Unauthorized`, `Authentication failed`, `authentication required`,
	),
	class("toolchain", i18n.T("Newer Go or toolchain required"),
		i18n.T("The main module or a dependency declares a go (or toolchain) version newer than the go command running, "+
			"and the go command may not or cannot download that toolchain (GOTOOLCHAIN=local, or the toolchain is not available from GOPROXY)."),
		i18n.T("Install a newer Go, or allow switching with GOTOOLCHAIN=auto and make the toolchain modules downloadable through your GOPROXY; "+
			"or lower the go line if it was raised by mistake."),
		`requires go >= `, `toolchain not available`, `requires toolchain `,
		`invalid toolchain: .*(newer|not available)`,
	),
	class("proxy-unavailable", i18n.T("Proxy failed (5xx)"),
		i18n.T("The proxy answered with a server error: a mirror could not reach or verify against its own upstream (502), "+
			"timed out (504) or is overloaded or out of storage (503)."),
		i18n.T("Read the \"server response\" line and the proxy's logs (gomirror logs the reason); retry; "+
			"separate GOPROXY entries with '|' to fall back to the next one on any error."),
		`\b50[0234] (Internal Server Error|Bad Gateway|Service Unavailable|Gateway Timeout)`,
	),
	class("dns", i18n.T("Host name does not resolve"),
		i18n.T("The host in the URL or module path has no DNS entry here: a typo in GOPROXY/GOSUMDB, "+
			"a module path on an internal host, or no DNS in this environment."),
		i18n.T("Check the host name in the message. For an internal module host, use the resolver that knows it (VPN) "+
			"or fetch it through a mirror that can; in an offline environment use GOPROXY pointing at a reachable mirror or GOFLAGS=-mod=vendor."),
		`no such host`, `Temporary failure in name resolution`, `server misbehaving`, `dial tcp: lookup `,
	),
	class("timeout", i18n.T("Timeout"),
		i18n.T("A server accepted the connection (or was being dialled) but did not answer in time: "+
			"the proxy, the checksum database or a firewall between is slow, overloaded or silently dropping packets."),
		i18n.T("Check that the host in the message is reachable from this machine (curl -v the URL); "+
			"check HTTPS_PROXY/NO_PROXY; retry later; if a proxy in GOPROXY is down, list a fallback after it with '|'."),
		`i/o timeout`, `context deadline exceeded`, `TLS handshake timeout`,
		`Client\.Timeout exceeded`, `timeout awaiting response headers`,
	),
	class("tls", i18n.T("TLS certificate not trusted"),
		i18n.T("The HTTPS server's certificate could not be verified: it is self-signed or issued by a private CA "+
			"this machine does not trust, expired, or issued for another host name."),
		i18n.T("If the server is yours, give it a certificate for the host name in GOPROXY, or add its CA to the system trust store "+
			"(or SSL_CERT_FILE / SSL_CERT_DIR for the go command only). Use the host name the certificate is valid for. "+
			"Do not use GOINSECURE to hide it."),
		`x509: `, `tls: failed to verify`, `certificate is valid for`,
		`certificate signed by unknown authority`, `tls: bad certificate`,
	),
	class("conn-refused", i18n.T("Connection refused"),
		i18n.T("Nothing listens at the host and port the go command connected to: the proxy or mirror is not running, "+
			"or GOPROXY/GOSUMDB names the wrong port."),
		i18n.T("Start the server (gomirror serve) or fix the URL in go env GOPROXY / GOSUMDB; "+
			"add a fallback with GOPROXY=http://mirror|https://fallback if one should take over."),
		`connection refused`, `No connection could be made`,
	),
	class("forbidden", i18n.T("Forbidden or not available"),
		i18n.T("The proxy refuses to serve this module (403): it is blocked by policy, or it is private and the proxy is public."),
		i18n.T("Fetch private modules directly: go env -w GOPRIVATE=example.com/yourorg/*; otherwise ask the proxy's owner "+
			"whether the module is blocked."),
		`\b403 Forbidden`, `server response:.*not available`,
	),
	class("bad-request", i18n.T("Proxy rejected the request (400 Bad Request)"),
		i18n.T("The proxy answered 400: it does not accept the module path or version as asked. Some proxies answer 400 rather than 404 for a path they do not serve "+
			"(an unknown or private host, a path that is not a valid module path); a GOPROXY URL with a wrong path prefix can also cause it. "+
			"With ',' between GOPROXY entries the go command falls back to the next only on 404/410, so a 400 stops it."),
		i18n.T("Check the module path and version in the message; for a private module set GOPRIVATE so it is not asked of the proxy; "+
			"check the proxy URL in go env GOPROXY; to fall back to the next proxy on any error, separate the entries with '|'."),
		`\b400 Bad Request`,
	),
	class("unknown-revision", i18n.T("Unknown revision or invalid version"),
		i18n.T("The version, tag, branch or commit asked for does not exist in the module's repository "+
			"(a typo, a tag not pushed, a deleted version), or the version string is not valid for this module path (e.g. v2+ without /v2)."),
		i18n.T("List the versions that exist (go list -m -versions MODULE) and use one of them; "+
			"push the missing tag; for v2 and later use the /vN module path."),
		`unknown revision`, `invalid version`, `no matching versions for query`,
		`invalid pseudo-version`, `revision .* does not exist`,
	),
	class("not-found", i18n.T("Module or version not found"),
		i18n.T("The proxy has no such module or version (404/410). Either the path or version is wrong, "+
			"or the module is private and the public proxy cannot see it."),
		i18n.T("Check the module path and version. For a private module: go env -w GOPRIVATE=example.com/yourorg/* "+
			"so it is fetched directly; or serve it from your own mirror."),
		`\b404 Not Found`, `\b410 Gone`, `server response: not found`,
		`unrecognized import path`, `repository not found`, `module .* not found`,
	),
	class("zip-too-large", i18n.T("Module zip too large"),
		i18n.T("The module's files exceed the go command's limits (500 MB unpacked zip, 16 MB go.mod), "+
			"usually because generated or binary files are committed in the module."),
		i18n.T("Exclude the large files from the module (move them to a directory with its own go.mod, or out of the repository) and tag a new version."),
		`module source tree too large`, `zip file too large`, `go\.mod file too large`,
	),
	class("gosumdb-config", i18n.T("Invalid GOSUMDB or checksum database key"),
		i18n.T("GOSUMDB is not a valid database name and key, or the key does not match the database's signatures."),
		i18n.T("Leave GOSUMDB at its default, or set it to \"NAME+KEY [URL]\" exactly as the database's owner publishes it."),
		`invalid GOSUMDB`, `verifiers? .*(malformed|invalid)`, `invalid signature`,
	),
	class("proxy-off", i18n.T("Network lookups disabled (GOPROXY=off)"),
		i18n.T("GOPROXY=off forbids the go command to download modules, and the module is not in the module cache."),
		i18n.T("Set GOPROXY to your mirror (go env -w GOPROXY=http://127.0.0.1:3000) or download the module while online first; "+
			"or vendor dependencies and build with -mod=vendor."),
		`disabled by GOPROXY=off`, `GOPROXY=off`,
	),
	class("bad-env", i18n.T("Invalid go environment setting"),
		i18n.T("A GOPROXY, GOFLAGS or other go env value cannot be parsed."),
		i18n.T("Inspect go env (and GOENV's file: go env GOENV); fix or unset the variable named in the message (go env -u NAME)."),
		`invalid GOPROXY`, `invalid proxy URL`, `GOFLAGS`, `go: invalid GO[A-Z0-9]+`, `GOPROXY list is not the empty string`,
	),
	class("malformed-path", i18n.T("Malformed module or import path"),
		i18n.T("The path is not a valid module path: the first element must be a host name with a dot, no upper-case letters in some places, no trailing slash, and so on."),
		i18n.T("Fix the path in the import or go.mod (module paths look like example.com/org/repo); "+
			"for a local module use a replace directive or a go.work file."),
		`malformed module path`, `malformed import path`, `invalid module path`,
	),
	class("no-main-module", i18n.T("Not in a module"),
		i18n.T("The command needs a main module but there is no go.mod in this directory or any parent (or GO111MODULE=off)."),
		i18n.T("Run it inside the module, or create one with go mod init example.com/m; for a single tool use go install PATH@VERSION."),
		`go\.mod file not found`, `cannot find main module`,
	),
}

// Unknown is the class of an error no catalogue class matches.
var Unknown = &Class{
	ID:    "unknown",
	Title: i18n.T("Unknown error"),
	Cause: i18n.T("no known cause"),
	Fix:   i18n.T("none known: read the message itself."),
}

// Catalogue returns the classes, in match order.
func Catalogue() []*Class { return append([]*Class(nil), catalogue...) }

// Lookup returns the class with this ID, or nil.
func Lookup(id string) *Class {
	for _, c := range catalogue {
		if c.ID == id {
			return c
		}
	}
	if id == Unknown.ID {
		return Unknown
	}
	return nil
}

// Classify returns the first class whose patterns match text, or Unknown.
func Classify(text string) *Class {
	for _, c := range catalogue {
		if c.Matches(text) {
			return c
		}
	}
	return Unknown
}

// An Error is one error in the go command's output.
type Error struct {
	Line  int      // 1-based line number of its first line
	Lines []string // its lines, without line endings
	Class *Class
}

// Text is the error's lines joined with "\n".
func (e *Error) Text() string { return strings.Join(e.Lines, "\n") }

// Known reports whether the error was classified.
func (e *Error) Known() bool { return e.Class != Unknown }

// progress are the prefixes of lines that are not errors.
var progress = []string{
	"go: downloading ", "go: finding ", "go: extracting ", "go: found ",
	"go: added ", "go: upgraded ", "go: downgraded ", "go: removed ",
	"go: upgrading ", "go: switching to ", "go: creating new go.mod",
	"go: module ", // see isProgress: only deprecation/retraction notices
	"# ", "ok  ", "?   ", "PASS", "FAIL", "=== ", "--- ", "exit status ",
}

// hints are lines the go command prints, unindented, after an error; they
// belong to the error before them.
var hints = []string{
	"Confirm the import path was ",
	"If this is a private repository, see ",
	"For more information, see 'go help module-auth'",
	"This download does NOT match",
	"The bits may have been replaced",
	"have intercepted the download attempt",
	"go: to add module requirements and sums:",
	"go: run 'go ",
	"\tgo mod tidy",
}

func isProgress(line string) bool {
	for _, p := range progress {
		if strings.HasPrefix(line, p) {
			if p == "go: module " {
				// "go: module example.com/m is deprecated: ..." and
				// "... has been retracted" are notices; other "go: module
				// X: ..." lines are errors.
				return strings.Contains(line, " is deprecated") || strings.Contains(line, "retracted")
			}
			return true
		}
	}
	return false
}

func isHint(line string) bool {
	for _, h := range hints {
		if strings.HasPrefix(line, h) {
			return true
		}
	}
	return false
}

// parsingFile is the first line of the go command's report of a go.mod
// or go.work file it cannot parse; fileLine is one of the lines after it.
var (
	parsingFile = regexp.MustCompile(`errors parsing \S*go\.(mod|work):$`)
	fileLine    = regexp.MustCompile(`^\S*go\.(mod|work):\d+(:\d+)?: `)
)

func isContinuation(line string) bool {
	return strings.HasPrefix(line, "\t") || strings.HasPrefix(line, " ")
}

// Parse reads go command output and returns its errors, classified, their
// lines without the userinfo of any URL in them.
func Parse(r io.Reader) ([]*Error, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var (
		errs     []*Error
		cur      *Error // the error continuation lines attach to
		held     *Error // the error before a blank line, which indented lines after it continue
		security bool   // inside the SECURITY ERROR paragraph of cur
		inNote   bool   // inside the signed note the go command prints after a note error
		n        int
	)
	for sc.Scan() {
		n++
		// Without the userinfo of its URLs: a GOPROXY user name is often a
		// token, and explain's output is pasted into issues.
		line := redact.Text(strings.TrimRight(sc.Text(), "\r"))
		if strings.TrimSpace(line) != "" && !isContinuation(line) {
			held = nil
		}
		switch {
		case cur != nil && line == "note:" && strings.Contains(cur.Lines[len(cur.Lines)-1], "note"):
			// "reading tree note: note has no verifiable signatures" is
			// followed by the note itself: text, a blank line, and its
			// signature lines ("— name sig").
			inNote = true
			cur.Lines = append(cur.Lines, line)
			continue
		case inNote && cur != nil:
			if strings.HasPrefix(line, "— ") {
				inNote = false
			}
			cur.Lines = append(cur.Lines, line)
			continue
		case cur != nil && strings.HasPrefix(line, "— ") && strings.HasPrefix(cur.Lines[len(cur.Lines)-1], "— "):
			cur.Lines = append(cur.Lines, line) // a note's further signatures
			continue
		case strings.TrimSpace(line) == "":
			// A blank line ends an error, except inside the SECURITY
			// ERROR explanation, or between a checksum mismatch and it.
			if cur != nil && !security && !strings.Contains(cur.Text(), "checksum mismatch") {
				held, cur = cur, nil
			}
			continue
		case isContinuation(line) && cur == nil && held != nil:
			// An indented paragraph after a blank line (the hints of
			// "inconsistent vendoring") continues the error before it.
			cur, held = held, nil
			cur.Lines = append(cur.Lines, line)
			continue
		case cur != nil && parsingFile.MatchString(cur.Lines[0]) && fileLine.MatchString(line):
			// "go: errors parsing go.mod:" is followed by one unindented
			// "go.mod:5: ..." line per error in the file.
			cur.Lines = append(cur.Lines, line)
			continue
		case line == "SECURITY ERROR":
			if cur == nil {
				cur = &Error{Line: n}
				errs = append(errs, cur)
			}
			cur.Lines = append(cur.Lines, line)
			security = true
			continue
		case security && cur != nil:
			cur.Lines = append(cur.Lines, line)
			if strings.HasPrefix(line, "For more information, see") {
				security, cur = false, nil
			}
			continue
		case isHint(line):
			if cur != nil {
				cur.Lines = append(cur.Lines, line)
			}
			continue
		case isContinuation(line) && cur != nil:
			cur.Lines = append(cur.Lines, line)
			continue
		case isContinuation(line):
			// Output that starts mid-error (a pasted excerpt): the
			// orphan continuation line is an error of its own.
		case isProgress(line):
			cur = nil
			continue
		}
		cur = &Error{Line: n, Lines: []string{line}}
		errs = append(errs, cur)
	}
	for _, e := range errs {
		e.Class = Classify(e.Text())
	}
	return errs, sc.Err()
}

// A Report is the JSON form of Parse's result.
type Report struct {
	Errors  []ReportError `json:"errors"`
	Known   int           `json:"known"`
	Unknown int           `json:"unknown"`
}

// A ReportError is one error in a Report.
type ReportError struct {
	Line  int      `json:"line"`
	Lines []string `json:"lines"`
	Class
}

// NewReport summarises errs.
func NewReport(errs []*Error) *Report {
	r := &Report{Errors: []ReportError{}}
	for _, e := range errs {
		r.Errors = append(r.Errors, ReportError{Line: e.Line, Lines: e.Lines, Class: *e.Class})
		if e.Known() {
			r.Known++
		} else {
			r.Unknown++
		}
	}
	return r
}

// WriteText writes errs for a person, in p's language (English if p is
// nil): each error's lines quoted, then its class, cause and fix.
func WriteText(w io.Writer, p *i18n.Printer, errs []*Error) error {
	if p == nil {
		p = i18n.English()
	}
	bw := bufio.NewWriter(w)
	unknown := 0
	for i, e := range errs {
		if i > 0 {
			bw.WriteString("\n")
		}
		p.Fprintf(bw, "line %d:\n", e.Line)
		for _, l := range e.Lines {
			fmt.Fprintf(bw, "  > %s\n", l)
		}
		if !e.Known() {
			unknown++
			p.Fprintf(bw, "  unknown: %s\n", e.Class.Cause)
			continue
		}
		fmt.Fprintf(bw, "  %s: %s\n", e.Class.ID, p.Text(e.Class.Title))
		p.Fprintf(bw, "  cause: %s\n", e.Class.Cause)
		p.Fprintf(bw, "  fix:   %s\n", e.Class.Fix)
	}
	switch {
	case len(errs) == 0:
		p.Fprintf(bw, "no errors found\n")
	default:
		p.Fprintf(bw, "\nerrors: %d (explained: %d, unknown: %d)\n", len(errs), len(errs)-unknown, unknown)
	}
	return bw.Flush()
}

// WriteList writes the whole catalogue as a table for a person, in p's
// language (English if p is nil): one row per class, in match order, with
// its id, symptom (title), cause and fix; columns aligned by display width,
// long cells wrapped so that no line is wider than width columns
// (i18n.WriteTableWrapped; no wrapping if width <= 0).
func WriteList(w io.Writer, p *i18n.Printer, width int) error {
	if p == nil {
		p = i18n.English()
	}
	rows := [][]string{{p.Sprintf("ID"), p.Sprintf("Symptom"), p.Sprintf("Cause"), p.Sprintf("Fix")}}
	for _, c := range catalogue {
		rows = append(rows, []string{c.ID, p.Text(c.Title), p.Text(c.Cause), p.Text(c.Fix)})
	}
	if width <= 0 {
		return i18n.WriteTable(w, rows)
	}
	return i18n.WriteTableWrapped(w, rows, width)
}

// ListEntry is one class of the catalogue in JSON (explain --list --json).
type ListEntry struct {
	ID    string    `json:"id"`
	Title i18n.Text `json:"title"`
	Cause i18n.Text `json:"cause"`
	Fix   i18n.Text `json:"fix"`
}

// List returns the catalogue as ListEntries, in match order.
func List() []ListEntry {
	var out []ListEntry
	for _, c := range catalogue {
		out = append(out, ListEntry{c.ID, c.Title, c.Cause, c.Fix})
	}
	return out
}
