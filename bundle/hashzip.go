package bundle

import (
	"archive/zip"
	"fmt"
	"io"
	"os"

	kflate "github.com/klauspost/compress/flate"
	"golang.org/x/mod/sumdb/dirhash"
)

// hashZip returns the h1: hash of the module zip in file, exactly as
// dirhash.HashZip(file, dirhash.Hash1) does (the same file list, the same
// contents, hashed by dirhash.Hash1), but inflating with
// github.com/klauspost/compress/flate, about twice as fast as
// compress/flate: inflating every file of every zip is most of an
// import's CPU time. The decompressor is registered on this reader only;
// it and the copy buffer are reused from file to file (dirhash.Hash1 reads
// one file at a time, closing each before it opens the next).
func hashZip(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	return hashZipAt(f, fi.Size())
}

// hashZipAt is hashZip of the size bytes of r.
func hashZipAt(r io.ReaderAt, size int64) (string, error) {
	z, err := zip.NewReader(r, size)
	if err != nil {
		return "", err
	}
	var dec io.ReadCloser
	z.RegisterDecompressor(zip.Deflate, func(r io.Reader) io.ReadCloser {
		if dec == nil {
			dec = kflate.NewReader(r)
		} else if err := dec.(kflate.Resetter).Reset(r, nil); err != nil {
			dec = kflate.NewReader(r)
		}
		return dec
	})
	buf := make([]byte, 64<<10)
	var files []string
	zfiles := make(map[string]*zip.File)
	for _, f := range z.File {
		files = append(files, f.Name)
		zfiles[f.Name] = f
	}
	return dirhash.Hash1(files, func(name string) (io.ReadCloser, error) {
		f := zfiles[name]
		if f == nil {
			return nil, fmt.Errorf("file %q not found in zip", name)
		}
		r, err := f.Open()
		if err != nil {
			return nil, err
		}
		return bufferedReader{r, buf}, nil
	})
}

// bufferedReader's WriteTo makes io.Copy use buf rather than allocate a
// buffer per file.
type bufferedReader struct {
	io.ReadCloser
	buf []byte
}

func (r bufferedReader) WriteTo(w io.Writer) (int64, error) {
	return io.CopyBuffer(w, struct{ io.Reader }{r.ReadCloser}, r.buf)
}
