// Package cache decides, for each module proxy request, whether to answer
// from storage or from the upstream, and fills storage on a miss.
//
// Immutable artifacts (.info, .mod and .zip of canonical versions) are
// storage-first and kept forever; each is fetched once, verified against the
// checksum database, and stored atomically. Mutable answers (list, @latest)
// are upstream-first under a short deadline and fall back to what storage
// holds (stale-if-error); list is the union of the two. Concurrent misses for
// one artifact share one upstream fetch, which runs to completion even if
// every client that asked for it goes away. The callers of a large zip's
// fill receive its bytes as they arrive, all but its tail before it is
// verified (see zipStream).
//
// Every stored .zip and .mod has its h1: hash recorded next to it (see
// layout.HashKey), stored before the artifact itself: a .zip's hash before the zip
// is renamed into place, a .mod's hash before the .mod in the same
// background write. So a .zip or .mod visible in storage always has its
// hash; a crash may leave a hash without its artifact, which is harmless.
//
// The package's files, by concern:
//
//   - mirror.go: the public API: Options, New, Mirror (Info, GoMod, Zip,
//     List, Latest, Wait), Source and Outcome, BadRequestError.
//   - fill.go: single-flight fills and the fills WaitGroup that Wait waits
//     on, upstream fetches with the negative cache, cross-replica
//     coordination (Coordinator, Lease), and the fill of small immutable
//     artifacts (.info, .mod) written behind with their hashes.
//   - zipfill.go: the fill of a .zip, one per key: temporary file, size
//     and transfer checks with bounded retries, module zip check, hashing,
//     and the store (hash first).
//   - stream.go: the callers of a zip fill follow the zip as it arrives
//     (cut-through); what is released before verification never makes a
//     complete zip, and a failed check reaches readers as an error.
//   - prefetch.go: the .mod and .zip fills started after a valid .info,
//     the fills of the .mod files a client's cold .mod requires, and the
//     checksum database lookups started ahead of a download.
//   - verify.go: Verifier and the check of an artifact against it.
//   - mutable.go: list and @latest: upstream-first with fresh-timeout,
//     stale-if-error, list-ttl, and the list union with stored versions.
//   - keys.go: a request's storage keys, from the layout.Module the
//     caller parsed or escaped (escaping nothing again), and the check
//     that a .mod or .zip asks for a canonical version.
//   - info.go: Info and Origin, the validation of .info and @latest answers.
//   - hashzip.go: the h1: hash of a zip file.
package cache
