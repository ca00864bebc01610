package cache

import (
	"errors"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/layout"
)

// storageKey returns the storage key of m's file of kind k (layout.Key), failing
// with a *BadRequestError for a path or version that does not escape, and
// with a *layout.NotStorableError if any file of the version (or, for List
// and Latest, the file itself) would have an invalid key.
func storageKey(m module.Version, k layout.Kind) (string, error) {
	key, err := layout.Key(m, k)
	if err != nil && !errors.As(err, new(*layout.NotStorableError)) {
		return "", &BadRequestError{m.Path, m.Version, err}
	}
	return key, err
}

func (m *Mirror) canonicalKey(path, version string, k layout.Kind) (string, error) {
	mv := module.Version{Path: path, Version: version}
	if !layout.IsCanonical(mv) {
		return "", &BadRequestError{path, version, errors.New("invalid version: not a canonical version of this module")}
	}
	return storageKey(mv, k)
}
