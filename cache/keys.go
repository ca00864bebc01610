package cache

import (
	"errors"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/layout"
)

// escape returns m with its escaped forms (layout.Escape), from which every
// key of m's files is derived without escaping again, failing with a
// *BadRequestError for a path or version that does not escape.
func escape(m module.Version) (layout.Module, error) {
	em, err := layout.Escape(m)
	if err != nil {
		return layout.Module{}, &BadRequestError{m.Path, m.Version, err}
	}
	return em, nil
}

// keyOf returns the storage key of em's file of kind k (layout.Module.Key),
// failing with a *layout.NotStorableError if any file of the version (or,
// for List and Latest, the file itself) would have an invalid key, and with
// a *BadRequestError for a file that em cannot have.
func keyOf(em layout.Module, k layout.Kind) (string, error) {
	key, err := em.Key(k)
	if err != nil && !errors.As(err, new(*layout.NotStorableError)) {
		mv := em.Version()
		return "", &BadRequestError{mv.Path, mv.Version, err}
	}
	return key, err
}

// storageKey returns the storage key of m's file of kind k (layout.Key),
// failing like escape and keyOf.
func storageKey(m module.Version, k layout.Kind) (string, error) {
	em, err := escape(m)
	if err != nil {
		return "", err
	}
	return keyOf(em, k)
}

// canonical returns path@version escaped (escape), failing with a
// *BadRequestError if version is not a canonical version of path.
func canonical(path, version string) (layout.Module, error) {
	mv := module.Version{Path: path, Version: version}
	if !layout.IsCanonical(mv) {
		return layout.Module{}, &BadRequestError{path, version, errors.New("invalid version: not a canonical version of this module")}
	}
	return escape(mv)
}
