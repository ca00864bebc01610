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
//     the database directly, and the check ends there): the signed tree
//     head (latest), verified with the GOSUMDB key (a bare name takes the
//     key the installed go command knows, sumdb.KnownKeys: no key is written
//     in gomirror's source); one lookup of the probe module's newest
//     version, whose record must hold that version under a tree head signed
//     by the same key; and the tiles that prove the record in the larger of
//     the two trees and the two trees consistent, each verified by
//     tlog.TileHashReader against the signed tree (at least one tile is
//     read). Problems: sumdb-latest, sumdb-lookup, sumdb-tile (an HTTP
//     failure: a mirror whose upstream is off), sumdb-signature,
//     sumdb-record, sumdb-proof (data that does not verify),
//     sumdb-key-unknown (a warning).
//   - lag: with two or more sources (the proxies that speak the protocol,
//     and Options.Compare references), the version lists of the probe module
//     and Options.LagModules; a GOPROXY proxy whose list lacks versions
//     another source lists is a "lagging" warning naming them (the newest
//     five per module).
//   - the module cache (GOMODCACHE): exists or can be created, is writable
//     (a temporary file is created and removed), and has at least 1 GiB free.
//
// When the first proxy in GOPROXY is slow, failing or lagging, the report
// suggests gomirror setup --fastest (Report.Suggestions).
//
// Every text (messages, step details, fixes, suggestions) is an i18n.Text:
// WriteText renders it in the user's language; JSON has it in English.
//
// The connection steps are skipped for a proxy that the go command would
// reach through an HTTP proxy; the protocol step then goes through that HTTP
// proxy, as the go command's requests do.
package doctor
