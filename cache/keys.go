package cache

import (
	"errors"

	"github.com/gomirror/gomirror/layout"
)

// keyOf returns the storage key of em's file of kind k (layout.Module.Key,
// which escapes nothing: em carries its escaped forms), failing with a
// *layout.NotStorableError if any file of the version (or, for List and
// Latest, the file itself) would have an invalid key, and with a
// *BadRequestError for a file that em cannot have.
func keyOf(em layout.Module, k layout.Kind) (string, error) {
	key, err := em.Key(k)
	if err != nil && !errors.As(err, new(*layout.NotStorableError)) {
		mv := em.Version()
		return "", &BadRequestError{mv.Path, mv.Version, err}
	}
	return key, err
}

// checkCanonical fails with a *BadRequestError if em's version is not a
// canonical version of its path: only those have a .mod and a .zip.
func checkCanonical(em layout.Module) error {
	if !em.Canonical() {
		mv := em.Version()
		return &BadRequestError{mv.Path, mv.Version, errors.New("invalid version: not a canonical version of this module")}
	}
	return nil
}
