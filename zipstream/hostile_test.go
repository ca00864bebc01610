package zipstream

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"
)

// rawEntry is one local entry of a zip written byte by byte, so that its
// local header and its central directory record can disagree.
type rawEntry struct {
	name       string
	localName  string // the local header's name, if not name
	data       []byte
	method     uint16
	flags      uint16 // besides the data descriptor's
	descriptor bool   // a data descriptor with signature follows the data
	desc64     bool   // ... with 64-bit sizes
	extra      []byte // the local header's extra field
	badDescCRC bool   // the data descriptor's CRC-32 is off by one
	badCRC     bool   // both headers' CRC-32 is off by one
}

// cdRecord is one central directory record.
type cdRecord struct {
	name         string
	offset       uint32
	method       uint16
	flags        uint16
	crc          uint32
	csize, usize uint32
}

// rawZip writes entries (after each, junk[i] if any), then the central
// directory edit makes of the records that describe them truthfully.
func rawZip(t testing.TB, entries []rawEntry, junk map[int][]byte, edit func([]cdRecord) []cdRecord) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	u16 := func(v uint16) { binary.Write(&b, le, v) }
	u32 := func(v uint32) { binary.Write(&b, le, v) }
	var cd []cdRecord
	for i, e := range entries {
		body := e.data
		if e.method == zip.Deflate {
			var c bytes.Buffer
			fw, _ := flate.NewWriter(&c, flate.DefaultCompression)
			fw.Write(e.data)
			fw.Close()
			body = c.Bytes()
		}
		r := cdRecord{name: e.name, offset: uint32(b.Len()), method: e.method, flags: e.flags,
			crc: crc32.ChecksumIEEE(e.data), csize: uint32(len(body)), usize: uint32(len(e.data))}
		if e.descriptor {
			r.flags |= flagDescriptor
		}
		if e.badCRC {
			r.crc++
		}
		local := e.localName
		if local == "" {
			local = e.name
		}
		u32(localSig)
		u16(20)
		u16(r.flags)
		u16(r.method)
		u32(0) // time, date
		if e.descriptor {
			u32(0)
			u32(0)
			u32(0)
		} else {
			u32(r.crc)
			u32(r.csize)
			u32(r.usize)
		}
		u16(uint16(len(local)))
		u16(uint16(len(e.extra)))
		b.WriteString(local)
		b.Write(e.extra)
		b.Write(body)
		if e.descriptor {
			u32(descriptorSig)
			if e.badDescCRC {
				u32(r.crc + 1)
			} else {
				u32(r.crc)
			}
			if e.desc64 {
				binary.Write(&b, le, uint64(r.csize))
				binary.Write(&b, le, uint64(r.usize))
			} else {
				u32(r.csize)
				u32(r.usize)
			}
		}
		b.Write(junk[i])
		cd = append(cd, r)
	}
	if edit != nil {
		cd = edit(cd)
	}
	cdStart := b.Len()
	for _, r := range cd {
		u32(centralSig)
		u16(20)
		u16(20)
		u16(r.flags)
		u16(r.method)
		u32(0)
		u32(r.crc)
		u32(r.csize)
		u32(r.usize)
		u16(uint16(len(r.name)))
		u16(0)
		u16(0)
		u16(0)
		u16(0)
		u32(0)
		u32(r.offset)
		b.WriteString(r.name)
	}
	cdSize := b.Len() - cdStart
	u32(0x06054b50)
	u16(0)
	u16(0)
	u16(uint16(len(cd)))
	u16(uint16(len(cd)))
	u32(uint32(cdSize))
	u32(uint32(cdStart))
	u16(0)
	return b.Bytes()
}

// forgeCRC returns data with 4 bytes appended so that its CRC-32 is target.
func forgeCRC(data []byte, target uint32) []byte {
	tab := crc32.MakeTable(crc32.IEEE)
	var top [256]byte // index of the table entry with that top byte
	for i, v := range tab {
		top[v>>24] = byte(i)
	}
	reg := target ^ 0xffffffff
	var idx [4]byte
	for k := 3; k >= 0; k-- {
		idx[k] = top[reg>>24]
		reg = (reg ^ tab[idx[k]]) << 8
	}
	reg = crc32.ChecksumIEEE(data) ^ 0xffffffff
	out := append([]byte(nil), data...)
	for _, j := range idx {
		c := byte(reg) ^ j
		out = append(out, c)
		reg = tab[byte(reg)^c] ^ reg>>8
	}
	return out
}

// TestHostileZips: a zip whose local headers and central directory
// disagree, or that the parser does not fully understand, never yields a
// streamed hash. Where archive/zip can read the zip, the files it reads
// are not those the stream saw, so a hash over the stream would be wrong.
func TestHostileZips(t *testing.T) {
	a := []byte("package a\n\nconst A = 1\n")
	evil := forgeCRC([]byte("package a\n\nconst A = 2"), crc32.ChecksumIEEE(a))
	if crc32.ChecksumIEEE(evil) != crc32.ChecksumIEEE(a) || len(evil) != len(a)+3 {
		t.Fatalf("forgeCRC: %08x, want %08x", crc32.ChecksumIEEE(evil), crc32.ChecksumIEEE(a))
	}
	same := forgeCRC([]byte("package a\n\nconst A = 1"), crc32.ChecksumIEEE(evil))
	plain := func(name string, data []byte) rawEntry { return rawEntry{name: name, data: data, method: zip.Store} }
	deflated := func(name string, data []byte) rawEntry {
		return rawEntry{name: name, data: data, method: zip.Deflate, descriptor: true}
	}
	zip64Extra := []byte{1, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	tests := []struct {
		name    string
		entries []rawEntry
		junk    map[int][]byte
		edit    func([]cdRecord) []cdRecord
		cut     int    // stream only the first cut bytes
		want    string // in the error: the check that refuses it
	}{
		{name: "local name differs from the central directory's", want: `central directory names "a.go", local header "b.go"`,
			entries: []rawEntry{plain("go.mod", a), {name: "a.go", localName: "b.go", data: a, method: zip.Store}}},
		{name: "entry hidden between entries", want: "central directory has 2 entries, the stream 3",
			entries: []rawEntry{plain("go.mod", a), deflated("hidden.go", evil), plain("a.go", a)},
			edit:    func(cd []cdRecord) []cdRecord { return []cdRecord{cd[0], cd[2]} }},
		{name: "entry hidden at the end", want: "central directory has 2 entries, the stream 3",
			entries: []rawEntry{plain("go.mod", a), plain("a.go", a), plain("hidden.go", evil)},
			edit:    func(cd []cdRecord) []cdRecord { return cd[:2] }},
		{name: "overlapping entries", want: "central directory's data at offset",
			// b.go's record points at a.go's data: same method, CRC and
			// sizes (forged), different bytes.
			entries: []rawEntry{plain("a.go", same), plain("b.go", evil)},
			edit: func(cd []cdRecord) []cdRecord {
				cd[1].offset = cd[0].offset
				return cd
			}},
		{name: "duplicate names", want: "duplicate name",
			entries: []rawEntry{plain("a.go", a), plain("a.go", evil)}},
		{name: "central directory CRC differs", want: "crc 7911160d",
			entries: []rawEntry{plain("a.go", a)},
			edit: func(cd []cdRecord) []cdRecord {
				cd[0].crc++
				return cd
			}},
		{name: "central directory sizes differ", want: "sizes 31/23",
			entries: []rawEntry{deflated("a.go", a), plain("b.go", a)},
			edit: func(cd []cdRecord) []cdRecord {
				cd[0].csize += 2
				return cd
			}},
		{name: "central directory method differs", want: "(method 8, flags 0x0",
			entries: []rawEntry{plain("a.go", a)},
			edit: func(cd []cdRecord) []cdRecord {
				cd[0].method = zip.Deflate
				return cd
			}},
		{name: "central directory flags differ", want: "flags 0x800",
			entries: []rawEntry{plain("a.go", a)},
			edit: func(cd []cdRecord) []cdRecord {
				cd[0].flags |= 1 << 11
				return cd
			}},
		{name: "junk between entries", want: "neither a local file header",
			entries: []rawEntry{plain("a.go", a), plain("b.go", a)},
			junk:    map[int][]byte{0: []byte("junk")}},
		{name: "stored entry with a data descriptor", want: "stored entry with a data descriptor",
			entries: []rawEntry{{name: "a.go", data: a, method: zip.Store, descriptor: true}}},
		{name: "encrypted", want: "encrypted entry",
			entries: []rawEntry{{name: "a.go", data: a, method: zip.Store, flags: flagEncrypted}}},
		{name: "unknown flag", want: "flags 0x2000",
			entries: []rawEntry{{name: "a.go", data: a, method: zip.Store, flags: 1 << 13}}},
		{name: "unknown method", want: "method 12",
			entries: []rawEntry{{name: "a.go", data: a, method: 12}}},
		{name: "zip64 extra field", want: "zip64 extra field",
			entries: []rawEntry{{name: "a.go", data: a, method: zip.Store, extra: zip64Extra}}},
		{name: "extra field too long", want: "extra field of",
			entries: []rawEntry{{name: "a.go", data: a, method: zip.Store, extra: make([]byte, MaxExtra+1)}}},
		{name: "name too long", want: "name of 4097 bytes",
			entries: []rawEntry{plain(strings.Repeat("n", MaxName+1), a)}},
		{name: "names too long in all", want: "names of more than",
			// Empty entries with the longest names: memory, not the
			// download, would grow with them.
			entries: func() []rawEntry {
				var es []rawEntry
				for i := range MaxNames/MaxName + 1 {
					es = append(es, plain(fmt.Sprintf("%0*d", MaxName, i), nil))
				}
				return es
			}()},
		{name: "directory", want: "name \"d/\"",
			entries: []rawEntry{plain("d/", nil), plain("a.go", a)}},
		{name: "newline in name", want: "name \"a\\n.go\"",
			entries: []rawEntry{plain("a\n.go", a)}},
		{name: "no entries", want: "neither a local file header"},
		{name: "truncated stream", want: "unexpected EOF",
			entries: []rawEntry{plain("a.go", a), deflated("b.go", a)}, cut: 60},
		{name: "local header CRC differs from the data's", want: "local header says crc",
			entries: []rawEntry{{name: "a.go", data: a, method: zip.Deflate, badCRC: true}}},
		{name: "data descriptor CRC differs",
			entries: []rawEntry{{name: "a.go", data: a, method: zip.Deflate, descriptor: true, badDescCRC: true}}, want: "data descriptor: crc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z := rawZip(t, tt.entries, tt.junk, tt.edit)
			in := z
			if tt.cut > 0 {
				in = z[:tt.cut]
			}
			h := New(1 << 20)
			h.Write(in)
			h.Close()
			h1, err := h.Verify(bytes.NewReader(z), int64(len(z)))
			if err == nil {
				ref, rerr := hashZip(t, z)
				t.Fatalf("streamed hash %s accepted (dirhash.HashZip: %s, %v), want an error", h1, ref, rerr)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("refused with %q, want the check that says %q", err, tt.want)
			}
			// Finish, wherever the stream stopped, yields dirhash.HashZip's
			// hash (the files the go command extracts) or nothing.
			ref, rerr := hashZip(t, z)
			for _, cut := range []int{0, len(in) / 2, len(in)} {
				h := New(1 << 20)
				h.Write(in[:cut])
				got, err := h.Finish(context.Background(), bytes.NewReader(z), int64(len(z)), 2, nil)
				if err == nil && (rerr != nil || got != ref) {
					t.Errorf("cut at %d: Finish = %s; dirhash.HashZip: %s, %v", cut, got, ref, rerr)
				}
			}
		})
	}
}

// TestRawZipsAccepted checks the raw zip writer itself, and the data
// descriptor forms: with 32- and 64-bit sizes they stream to the hash
// dirhash.HashZip computes.
func TestRawZipsAccepted(t *testing.T) {
	a := []byte("package a\n")
	for name, entries := range map[string][]rawEntry{
		"stored":        {{name: "a.go", data: a, method: zip.Store}},
		"descriptor32":  {{name: "a.go", data: a, method: zip.Deflate, descriptor: true}, {name: "b.go", data: a, method: zip.Store}},
		"descriptor64":  {{name: "a.go", data: a, method: zip.Deflate, descriptor: true, desc64: true}, {name: "b.go", data: nil, method: zip.Deflate, descriptor: true, desc64: true}},
		"extra field":   {{name: "a.go", data: a, method: zip.Store, extra: []byte{0x55, 0x54, 5, 0, 1, 0, 0, 0, 0}}},
		"deflated only": {{name: "a.go", data: a, method: zip.Deflate}},
	} {
		t.Run(name, func(t *testing.T) {
			z := rawZip(t, entries, nil, nil)
			want, err := hashZip(t, z)
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := stream(z, 5)
			if err != nil || got != want {
				t.Fatalf("streamed %s, %v; dirhash.HashZip %s", got, err, want)
			}
		})
	}
}
