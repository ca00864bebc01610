package modinfo

import (
	"bytes"
	"strings"
)

// rootFile returns the name of a file at the root of the zip of module
// version prefix ("path@version/"), or "" if name is elsewhere.
func rootFile(name, prefix string) string {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok || rest == "" || strings.Contains(rest, "/") {
		return ""
	}
	return rest
}

// rootFileBytes is rootFile without allocating, for the central
// directory's names.
func rootFileBytes(name []byte, prefix string) []byte {
	if len(name) <= len(prefix) || string(name[:len(prefix)]) != prefix {
		return nil
	}
	rest := name[len(prefix):]
	if bytes.IndexByte(rest, '/') >= 0 {
		return nil
	}
	return rest
}
