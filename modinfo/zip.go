package modinfo

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gomirror/gomirror/storage"
)

// The zip reading here is a small reader of its own rather than
// archive/zip's: archive/zip keeps every entry of the central directory in
// memory (a hostile zip of 500 MB can hold millions), while modinfo needs
// only the few files at the module root. It streams the central directory
// once, keeping the entries a caller wants, and decompresses those under
// a limit. Module zips are at most 500 MiB (x/mod's zip limit), so zip64
// is not read.

// zipEntry is one file of the central directory.
type zipEntry struct {
	name       string
	method     uint16
	flags      uint16
	compSize   int64
	size       int64 // uncompressed, as the directory says (not trusted)
	headerOffs int64
}

// zipLimits bound what reading a zip may cost.
type zipLimits struct {
	dirBytes int64 // largest central directory read
	entries  int   // most entries read
}

var errZip64 = errors.New("zip64 archives are not read")

const (
	eocdSig    = 0x06054b50
	dirSig     = 0x02014b50
	localSig   = 0x04034b50
	eocdLen    = 22
	dirHdrLen  = 46
	localHdr   = 30
	maxComment = 1<<16 - 1
)

// zipDir reads the central directory of the zip ra of size bytes and
// returns the entries keep accepts, in directory order. It reads at most
// lim.dirBytes of directory and lim.entries entries, and holds only the
// kept entries.
func zipDir(ctx context.Context, ra io.ReaderAt, size int64, lim zipLimits, keep func(name []byte) bool) ([]zipEntry, error) {
	// The end of central directory record is in the last 22+65535 bytes.
	tail := min(size, eocdLen+maxComment)
	buf := make([]byte, tail)
	if _, err := ra.ReadAt(buf, size-tail); err != nil && err != io.EOF {
		return nil, err
	}
	i := -1
	for j := len(buf) - eocdLen; j >= 0; j-- {
		if binary.LittleEndian.Uint32(buf[j:]) == eocdSig {
			i = j
			break
		}
	}
	if i < 0 {
		return nil, errors.New("not a zip file: no end of central directory")
	}
	eocd := buf[i:]
	records := int64(binary.LittleEndian.Uint16(eocd[10:]))
	dirSize := int64(binary.LittleEndian.Uint32(eocd[12:]))
	dirOffs := int64(binary.LittleEndian.Uint32(eocd[16:]))
	if records == 0xffff || dirSize == 0xffffffff || dirOffs == 0xffffffff {
		return nil, errZip64
	}
	if dirOffs+dirSize > size-tail+int64(i) {
		return nil, errors.New("zip central directory out of bounds")
	}
	if dirSize > lim.dirBytes {
		return nil, fmt.Errorf("zip central directory of %d bytes is over the limit of %d", dirSize, lim.dirBytes)
	}
	if records > int64(lim.entries) {
		return nil, fmt.Errorf("zip of %d files is over the limit of %d", records, lim.entries)
	}
	r := bufio.NewReaderSize(io.NewSectionReader(ra, dirOffs, dirSize), 32<<10)
	var out []zipEntry
	hdr := make([]byte, dirHdrLen)
	var name []byte // reused: at most 64 KiB
	for n := int64(0); n < records; n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if _, err := io.ReadFull(r, hdr); err != nil {
			return nil, fmt.Errorf("zip central directory: %w", err)
		}
		if binary.LittleEndian.Uint32(hdr) != dirSig {
			return nil, errors.New("zip central directory: bad signature")
		}
		e := zipEntry{
			flags:      binary.LittleEndian.Uint16(hdr[8:]),
			method:     binary.LittleEndian.Uint16(hdr[10:]),
			compSize:   int64(binary.LittleEndian.Uint32(hdr[20:])),
			size:       int64(binary.LittleEndian.Uint32(hdr[24:])),
			headerOffs: int64(binary.LittleEndian.Uint32(hdr[42:])),
		}
		nameLen := int(binary.LittleEndian.Uint16(hdr[28:]))
		extraLen := int(binary.LittleEndian.Uint16(hdr[30:]))
		commentLen := int(binary.LittleEndian.Uint16(hdr[32:]))
		if cap(name) < nameLen {
			name = make([]byte, nameLen)
		}
		name = name[:nameLen]
		if _, err := io.ReadFull(r, name); err != nil {
			return nil, fmt.Errorf("zip central directory: %w", err)
		}
		if _, err := r.Discard(extraLen + commentLen); err != nil {
			return nil, fmt.Errorf("zip central directory: %w", err)
		}
		if !keep(name) {
			continue
		}
		if e.compSize == 0xffffffff || e.size == 0xffffffff || e.headerOffs == 0xffffffff {
			return nil, errZip64
		}
		e.name = string(name)
		out = append(out, e)
	}
	return out, nil
}

// readEntry returns at most max bytes of e's content, and whether there
// was more. It reads at most e's compressed size of ra, and stops when ctx
// ends.
func readEntry(ctx context.Context, ra io.ReaderAt, size int64, e zipEntry, max int64) ([]byte, bool, error) {
	var h [localHdr]byte
	if _, err := ra.ReadAt(h[:], e.headerOffs); err != nil {
		return nil, false, fmt.Errorf("zip entry %s: %w", e.name, err)
	}
	if binary.LittleEndian.Uint32(h[:]) != localSig {
		return nil, false, fmt.Errorf("zip entry %s: bad local header", e.name)
	}
	start := e.headerOffs + localHdr + int64(binary.LittleEndian.Uint16(h[26:])) + int64(binary.LittleEndian.Uint16(h[28:]))
	if e.flags&1 != 0 {
		return nil, false, fmt.Errorf("zip entry %s: encrypted", e.name)
	}
	if start+e.compSize > size {
		return nil, false, fmt.Errorf("zip entry %s: out of bounds", e.name)
	}
	// Honest deflate needs barely more input than the output it yields
	// (stored blocks for incompressible data): a stream that needs more to
	// produce max bytes is cut there, whatever its directory entry says,
	// so that a bomb of empty blocks costs no more time than the limit.
	in := min(e.compSize, max+max/8+64<<10)
	var body io.Reader = storage.ContextReader(ctx, io.NewSectionReader(ra, start, in))
	switch e.method {
	case 0: // stored
	case 8: // deflate
		fr := flate.NewReader(body)
		defer fr.Close()
		body = fr
	default:
		return nil, false, fmt.Errorf("zip entry %s: compression method %d", e.name, e.method)
	}
	b, err := io.ReadAll(io.LimitReader(body, max+1))
	if errors.Is(err, io.ErrUnexpectedEOF) && in < e.compSize {
		return b, true, nil // cut by the input limit
	}
	if err != nil {
		return nil, false, fmt.Errorf("zip entry %s: %w", e.name, err)
	}
	if int64(len(b)) > max {
		return b[:max], true, nil
	}
	return b, false, nil
}

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
