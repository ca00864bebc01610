// Package bundle writes and reads air-gap bundles: one file that carries
// module versions from a mirror with network access to one without.
//
// A bundle is a tar stream compressed with zstd
// (github.com/klauspost/compress/zstd). Its entries are named by the
// storage keys (package layout) their contents are stored under:
//
//	<escaped path>/@v/<escaped version>.info|.mod|.zip   artifacts, as stored
//	sumdb/<name>/lookup/<escaped path>@<escaped version> the database's records
//	sumdb/<name>/tile/...                                the tiles that prove them
//	sumdb/<name>/latest                                  a signed tree head
//	bundle.json                                          the Manifest
//	bundle.json.sig                                      optional: its signature (SignatureName)
//
// The Manifest lists the module versions and every other entry with its
// size and SHA-256. The checksum database files are those a go command with
// an empty module cache asks for when it looks up every version in the
// bundle (M V and M V/go.mod), whatever the order of its lookups: the
// lookups and the tiles of every proof a client may make (the inclusion of
// each record in each tree head the records carry, and the consistency of
// those tree heads), so a mirror serving the bundle's files with no network
// answers every request of such a client. Export checks them as Import
// does; the tests run x/mod's sumdb.Client over imported bundles.
//
// Import trusts nothing in a bundle: it stages every entry in a temporary
// directory while checking names, sizes and counts against Limits, then
// checks every entry against the manifest, every zip and go.mod against the
// database records (its h1: hash), every record's inclusion in the tree
// heads and the tree heads' consistency through the bundle's tiles (every
// tile must be proven so), and every tree head's signature against the
// configured database key. Modules exempt from the database by the
// importer's settings (nosumdb, private, or no database) can be checked
// against the manifest's hash only; since the manifest is in the bundle,
// they are accepted only if it is signed (SignatureName) by a key the
// importer trusts, and the report says which. Only then does it store
// anything: each file atomically (per version the .zip, .mod, .info; a
// .zip or .mod after its recorded hash, as the cache does), skipping what
// the store already holds with the same bytes and replacing (repairing)
// what it holds with others. A bundle failing any check is refused whole,
// with nothing stored.
//
// A zip's check and h1: hash read its central directory, as the go
// command does: file names in its local headers are not compared (the
// manifest's SHA-256 still fixes its bytes).
package bundle
