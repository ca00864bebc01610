package fakeproxy

import (
	"archive/zip"
	"bytes"
	"io"
	"strings"

	modzip "golang.org/x/mod/zip"
)

// zipFiles returns the files of the module zip of path@version, relative to
// the module root.
func zipFiles(z []byte, path, version string) ([]modzip.File, error) {
	prefix := path + "@" + version + "/"
	zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		return nil, err
	}
	var files []modzip.File
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
		files = append(files, memFile{name: strings.TrimPrefix(f.Name, prefix), data: data})
	}
	return files, nil
}
