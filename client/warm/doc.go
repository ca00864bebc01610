// Package warm fills a module mirror with everything a project needs, so
// that the project builds from the mirror alone later (with the upstream
// unreachable, or with `gomirror serve --upstream off`); it is the logic
// behind `gomirror warm`.
//
// [Resolve] finds what to fetch by asking the real go command, pointed at
// the mirror, through client/golist (GOPROXY=mirror, its own GOMODCACHE,
// GOFLAGS=-mod=mod, and an alternate go.mod in a temporary directory given
// with -modfile, so the project's own go.mod and go.sum are never
// written): `go list -m -json all`
// gives the build list, whose modules need their .zip, and `go mod graph`
// gives every module in the requirement graph, including those only whose
// go.mod is read, which need their .mod (and .info). Replacements from the
// go.mod are applied; modules replaced by a local directory are skipped.
// For module@version arguments instead of a go.mod, a temporary main module
// requiring them is resolved the same way.
//
// [Run] then fetches each file with a plain HTTP GET of
// <mirror>/<escaped path>/@v/<escaped version>.info|.mod|.zip, in parallel
// with a bound, reading and discarding the bodies, and returns a [Summary]
// listing every failure with its reason.
package warm
