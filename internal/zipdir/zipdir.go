// Package zipdir reads a zip's central directory as a stream, keeping only
// the entries a caller wants, and one entry's content under a limit.
package zipdir

import (
	"bufio"
	"compress/flate"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/gomirror/gomirror/storage"
)

// The zip reading here is a small reader of its own rather than
// archive/zip's: archive/zip keeps every entry of the central directory in
// memory (a hostile zip of 500 MB can hold millions), while its callers
// need a few files (modinfo: those at the module root; vulndb: data/osv). It streams the central directory
// once, keeping the entries a caller wants, and decompresses those under
// a limit. Module zips are at most 500 MiB (x/mod's zip limit), so zip64
// is not read.

// Entry is one file of the central directory.
type Entry struct {
	Name         string
	Method       uint16 // 0 stored, 8 deflate
	Flags        uint16
	CRC32        uint32 // of the uncompressed content, as the directory says
	CompSize     int64
	Size         int64 // uncompressed, as the directory says (not trusted)
	HeaderOffset int64 // of the local header
}

// Limits bound what reading a zip may cost.
type Limits struct {
	DirBytes int64 // largest central directory read
	Entries  int   // most entries read
}

// ErrZip64 is the error for a zip64 archive, which is not read.
var ErrZip64 = errors.New("zip64 archives are not read")

const (
	eocdSig    = 0x06054b50
	dirSig     = 0x02014b50
	localSig   = 0x04034b50
	eocdLen    = 22
	dirHdrLen  = 46
	localHdr   = 30
	maxComment = 1<<16 - 1
)

// Read reads the central directory of the zip ra of size bytes and
// returns the entries keep accepts, in directory order. It reads at most
// lim.DirBytes of directory and lim.Entries entries, and holds only the
// kept entries.
func Read(ctx context.Context, ra io.ReaderAt, size int64, lim Limits, keep func(name []byte) bool) ([]Entry, error) {
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
		return nil, ErrZip64
	}
	if dirOffs+dirSize > size-tail+int64(i) {
		return nil, errors.New("zip central directory out of bounds")
	}
	if dirSize > lim.DirBytes {
		return nil, fmt.Errorf("zip central directory of %d bytes is over the limit of %d", dirSize, lim.DirBytes)
	}
	if records > int64(lim.Entries) {
		return nil, fmt.Errorf("zip of %d files is over the limit of %d", records, lim.Entries)
	}
	r := bufio.NewReaderSize(io.NewSectionReader(ra, dirOffs, dirSize), 32<<10)
	var out []Entry
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
		e := Entry{
			Flags:        binary.LittleEndian.Uint16(hdr[8:]),
			Method:       binary.LittleEndian.Uint16(hdr[10:]),
			CRC32:        binary.LittleEndian.Uint32(hdr[16:]),
			CompSize:     int64(binary.LittleEndian.Uint32(hdr[20:])),
			Size:         int64(binary.LittleEndian.Uint32(hdr[24:])),
			HeaderOffset: int64(binary.LittleEndian.Uint32(hdr[42:])),
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
		if e.CompSize == 0xffffffff || e.Size == 0xffffffff || e.HeaderOffset == 0xffffffff {
			return nil, ErrZip64
		}
		e.Name = string(name)
		out = append(out, e)
	}
	return out, nil
}

// DataOffset returns the offset in ra (of size bytes) of e's compressed
// content, read from its local header, after checking that the content is
// within the zip and not encrypted.
func DataOffset(ra io.ReaderAt, size int64, e Entry) (int64, error) {
	var h [localHdr]byte
	if _, err := ra.ReadAt(h[:], e.HeaderOffset); err != nil {
		return 0, fmt.Errorf("zip entry %s: %w", e.Name, err)
	}
	if binary.LittleEndian.Uint32(h[:]) != localSig {
		return 0, fmt.Errorf("zip entry %s: bad local header", e.Name)
	}
	start := e.HeaderOffset + localHdr + int64(binary.LittleEndian.Uint16(h[26:])) + int64(binary.LittleEndian.Uint16(h[28:]))
	if e.Flags&1 != 0 {
		return 0, fmt.Errorf("zip entry %s: encrypted", e.Name)
	}
	if start+e.CompSize > size {
		return 0, fmt.Errorf("zip entry %s: out of bounds", e.Name)
	}
	return start, nil
}

// ReadEntry returns at most max bytes of e's content, and whether there
// was more. It reads at most e's compressed size of ra, and stops when ctx
// ends.
func ReadEntry(ctx context.Context, ra io.ReaderAt, size int64, e Entry, max int64) ([]byte, bool, error) {
	start, err := DataOffset(ra, size, e)
	if err != nil {
		return nil, false, err
	}
	// Honest deflate needs barely more input than the output it yields
	// (stored blocks for incompressible data): a stream that needs more to
	// produce max bytes is cut there, whatever its directory entry says,
	// so that a bomb of empty blocks costs no more time than the limit.
	in := min(e.CompSize, max+max/8+64<<10)
	var body io.Reader = storage.ContextReader(ctx, io.NewSectionReader(ra, start, in))
	switch e.Method {
	case 0: // stored
	case 8: // deflate
		fr := flate.NewReader(body)
		defer fr.Close()
		body = fr
	default:
		return nil, false, fmt.Errorf("zip entry %s: compression method %d", e.Name, e.Method)
	}
	b, err := io.ReadAll(io.LimitReader(body, max+1))
	if errors.Is(err, io.ErrUnexpectedEOF) && in < e.CompSize {
		return b, true, nil // cut by the input limit
	}
	if err != nil {
		return nil, false, fmt.Errorf("zip entry %s: %w", e.Name, err)
	}
	if int64(len(b)) > max {
		return b[:max], true, nil
	}
	return b, false, nil
}
