// Package doctor checks a machine's go command settings and its route to the
// module proxies it uses; it is the logic behind `gomirror doctor`.
//
// [Run] reads the settings with the go command itself (`go version` and
// `go env -json`, through a [gocmd.Runner], so tests can inject values) and
// returns a [Report]: one [Result] per finding, each ok, warn or fail, with a
// problem name that is stable for machines (Result.Problem), a sentence for
// people and, for every problem, a concrete fix.
//
// The checks:
//
//   - go version: reported; warn below go1.21, which has no toolchain
//     management (GOTOOLCHAIN).
//   - GOPROXY, parsed as the go command parses it (',' and '|' separators,
//     "direct" and "off" ending the list, bare host names getting https://):
//     fail for a syntax error or "off", warn without a "direct" fallback and
//     for entries after "direct"/"off" that are never used.
//   - GOPRIVATE against GONOSUMDB and GONOPROXY when those are set
//     explicitly, matched as the go command does, case-sensitively (fail:
//     private module paths sent to the checksum database; warn: private
//     modules fetched through the proxy), patterns in them that are not
//     valid globs and so never match (fail), GOINSECURE covering
//     everything or the probe module or the checksum database, GOSUMDB=off,
//     and GOFLAGS (-mod=mod, -insecure, unknown flags).
//   - HTTP_PROXY, HTTPS_PROXY, NO_PROXY: reported; warn when a GOPROXY host
//     on a private network would be sent to the HTTP proxy.
//   - every proxy URL in GOPROXY, step by step with latencies: DNS (skipped
//     for IP addresses), TCP connect, TLS handshake for https (naming an
//     unknown authority, a self-signed certificate, a hostname mismatch or an
//     expired certificate) and the protocol itself (GET <proxy>/<probe>/@v/list
//     must answer 200 text/plain or 404/410). A step slower than
//     Options.Slow is a warning; every step has its own Options.Timeout, so a
//     dead or hanging server cannot stall the run. Proxies are checked in
//     parallel.
//   - the checksum database GOSUMDB names, through every proxy that answers
//     <proxy>/sumdb/<name>/supported with 200 (404/410: the go command asks
//     the database directly, and the check ends there), with the go
//     command's own client (sumdb.ProxyClient over
//     golang.org/x/mod/sumdb.Client, an empty in-memory cache): the lookup
//     of the probe module's newest release (not a pseudo-version; skipped
//     when GONOSUMDB/GOPRIVATE covers it), its tree head verified with the
//     GOSUMDB key (a bare name takes the key the installed go command
//     knows, sumdb.KnownKeys: no key is written in gomirror's source) and
//     its record holding that version; then the tiles that prove the
//     record in the lookup's signed tree. These are what a go command with
//     an empty go.sum asks: their failure fails the check (sumdb-lookup,
//     sumdb-tile: an HTTP failure, e.g. a mirror whose upstream is off;
//     sumdb-signature, sumdb-record, sumdb-proof: data that does not
//     verify). latest is read last and is informational (the go command
//     never reads it through a proxy): a failure is a warning
//     (sumdb-latest); when it verifies, it is proven consistent with the
//     lookup's tree, a proven fork failing (sumdb-fork) and tiles not
//     served leaving it unchecked. sumdb-key-unknown is a warning; a bare
//     GOSUMDB name the go command knows no key for fails the gosumdb check
//     (gosumdb-unknown).
//   - lag: with two or more sources (the proxies that speak the protocol,
//     and Options.Compare references), the version lists of the probe module
//     and Options.LagModules (those GONOPROXY/GOPRIVATE covers are skipped);
//     a GOPROXY proxy whose list lacks releases another source lists
//     (pseudo-versions do not count) that the source's .info dates more
//     than Options.LagGrace ago is a "lagging" warning naming them (the
//     newest five per module). With one source, an ok result says lag was
//     not checked.
//   - the module cache (GOMODCACHE): exists or can be created, is writable
//     (a temporary file is created and removed), and has at least 1 GiB free.
//
// When the first proxy in GOPROXY is slow, failing or lagging, the report
// suggests gomirror setup --fastest (Report.Suggestions), worded by what
// went wrong; a warning on the checksum database's latest alone (which the
// go command never reads through a proxy) suggests nothing. Proxy URLs are
// shown without their password everywhere (text and JSON).
//
// Every text (messages, step details, fixes, suggestions) is an i18n.Text:
// WriteText renders it in the user's language; JSON has it in English.
//
// The connection steps are skipped for a proxy that the go command would
// reach through an HTTP proxy; the protocol step then goes through that HTTP
// proxy, as the go command's requests do.
package doctor
