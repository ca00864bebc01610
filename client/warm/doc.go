// Package warm fills a module mirror with everything a project needs, so
// that the project builds from the mirror alone later (with the upstream
// unreachable, or with `gomirror serve --upstream off`); it is the logic
// behind `gomirror warm`.
//
// [Resolve] finds what to fetch by asking the real go command, pointed at
// the mirror, through client/golist (GOPROXY=mirror, its own GOMODCACHE,
// GOFLAGS=-mod=mod, and an alternate go.mod in a temporary directory given
// with -modfile, so the project's own go.mod and go.sum are never
// written): `go mod graph` and `go list -m -json all` give every module
// whose go.mod is read, which need their .mod (and .info); `go mod
// download` with no arguments gives the modules the build downloads
// (those `go build ./...` and `go test ./...` of the main module need),
// which need their .zip. [NewPlan] makes the plan of it, and is the one
// owner of that choice (snapshot.Resolver uses it too); with all, the
// zips of the rest of the build list are added, marked [Fetch].Extra.
// Replacements from the go.mod are applied; modules replaced by a local
// directory are skipped. For module@version arguments instead of a
// go.mod, a temporary main module requiring them is resolved the same way.
//
// [Run] then fetches each file with a plain HTTP GET of
// <mirror>/<escaped path>/@v/<escaped version>.info|.mod|.zip, in parallel
// with a bound, reading and discarding the bodies, and returns a [Summary]
// listing every failure with its reason, and, apart, every refused
// ([Refused]: 403, 404, 410) Extra fetch as a warning.
//
// [Lookups] fetches, through the mirror, the checksum database lookups of
// the plan's module versions and the tiles that prove them, as the go
// command with an empty go.sum and module cache asks for them.
package warm
