package layout

import (
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// Listable reports whether v, a line of a list answer, is a version to
// list: canonical (module.CanonicalVersion, which keeps +incompatible),
// so that a list cut short by an upstream ("v1.2" of "v1.2.0") adds no
// version that does not exist. It is the one rule for the lines of a list
// that the cache stores and an upstream group compares.
func Listable(v string) bool {
	return semver.IsValid(v) && module.CanonicalVersion(v) == v
}

// LatestOrder orders versions as the go command prefers them for
// "latest": releases before pre-releases (and pseudo-versions, which are
// pre-releases), each newest first. It is a cmp function for
// slices.SortFunc: a negative result means a is preferred.
func LatestOrder(a, b string) int {
	pa, pb := semver.Prerelease(a) != "", semver.Prerelease(b) != ""
	if pa != pb {
		if pa {
			return 1
		}
		return -1
	}
	return semver.Compare(b, a)
}
