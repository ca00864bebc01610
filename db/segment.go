package db

import (
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gomirror/gomirror/audit"
)

// A segment is one row of audit_segments: the records of one written
// batch (of one writer, see writerOf), encoded by encodeSegment, with
// their time range and count; audit_segment_keys lists the distinct
// module keys, clients and status classes of its records, so that a
// query for one of them reads only the segments that can match.
//
// The encoding, version 1 or 2, all integers varints (encoding/binary):
//
//	byte     1 or 2 (the version)
//	varint   base: the least time_ns of the records
//	uvarint  n, then n strings, each a uvarint length and its bytes: the
//	         segment's distinct strings; string 0 is the writer
//	uvarint  the number of records, then each record:
//	  uvarint  time_ns - base
//	  uvarint  ID: seq+1 when the ID is the writer followed by seq in
//	           base 36 (strconv.FormatUint), else 0 and a string index
//	  uvarint  ×10 the string indexes of Client, Remote, Method, Module,
//	           Version, Kind, Cache, Upstream, Agent, Replica
//	  uvarint  version 2 only: the string index of Policy
//	  uvarint  Status; varint Bytes; varint Duration
//
// A segment none of whose records has a Policy is written as version 1,
// as it was before version 2 existed (so segments stay readable by the
// previous release unless a policy refused something); both are read.
// Records are kept in the batch's order; readers sort.
const (
	segmentFormat       = 1
	segmentFormatPolicy = 2
)

// segmentStrings is the number of string fields of a record in a segment
// of version 2 (one fewer in version 1: no Policy).
const segmentStrings = 11

// Kinds of audit_segment_keys rows.
const (
	keyModule = 1 // key: lower(module)
	keyClient = 2 // key: the token name (not empty)
	keyStatus = 3 // key: the status class, "1" to "9" (status / 100)
	// keyClientStatus: a status class other than 2 and a token name,
	// "<class>:<name>" (the class is one digit), for a client's failed
	// requests: its token name and its non-2xx classes are each in most
	// segments, the two together in few.
	keyClientStatus = 4
)

// clientStatusKey is the keyClientStatus key of class and client.
func clientStatusKey(class int, client string) string { return strconv.Itoa(class) + ":" + client }

// recorderIDLen is the length of the Recorder's ID prefix ("" + 12
// base32hex characters + "-"): see writerOf.
const recorderIDLen = 13

// writerOf returns who wrote the record with ID id, and its sequence
// number, for WriteAudit's duplicate check: for an ID of the Recorder's
// form (12 base32hex characters, "-", a base-36 number), its prefix and
// number; for any other ID "" and 0. It depends on the ID alone, so that
// a record written twice is looked for where it was stored.
func writerOf(id string) (string, uint64) {
	if len(id) <= recorderIDLen || id[recorderIDLen-1] != '-' {
		return "", 0
	}
	for i := range recorderIDLen - 1 {
		c := id[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'V') {
			return "", 0
		}
	}
	rest := id[recorderIDLen:]
	if rest[0] == '0' {
		return "", 0
	}
	// The base-36 number in lower case, below 1<<63: one pass, as
	// strconv.ParseUint(rest, 36, 64) and a check for upper case would
	// take (this runs several times per record of every batch).
	var seq uint64
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		var d uint64
		switch {
		case '0' <= c && c <= '9':
			d = uint64(c - '0')
		case 'a' <= c && c <= 'z':
			d = uint64(c-'a') + 10
		default:
			return "", 0
		}
		if seq > (1<<63-1-d)/36 {
			return "", 0
		}
		seq = seq*36 + d
	}
	return id[:recorderIDLen], seq
}

// segmentEncoder encodes segments, reusing its buffers.
type segmentEncoder struct {
	buf     []byte
	recs    []byte
	strs    map[string]uint64
	list    []string
	last    [segmentStrings]string // the previous record's strings, and their indexes
	lastIdx [segmentStrings]uint64
}

// maxKeptSegment bounds the buffers an encoder keeps for the next
// segment (reset): a rare large one is not held on to.
const maxKeptSegment = 1 << 20

// reset lets go of what e refers to (the strings of the last segment)
// and of buffers over maxKeptSegment, for e's next use; it returns e.
func (e *segmentEncoder) reset() *segmentEncoder {
	clear(e.strs)
	clear(e.list)
	e.list = e.list[:0]
	clear(e.last[:])
	if cap(e.buf) > maxKeptSegment || cap(e.recs) > maxKeptSegment {
		e.buf, e.recs = nil, nil
	}
	if cap(e.list) > maxKeptSegment/16 {
		e.strs, e.list = nil, nil // a map that grew large keeps its buckets
	}
	return e
}

// encode returns the encoding of recs, all of writer writer (writerOf),
// and their least and greatest time_ns. The slice is e's until the next
// call.
func (e *segmentEncoder) encode(writer string, recs []audit.Record) (data []byte, first, last int64) {
	if e.strs == nil {
		e.strs = make(map[string]uint64, 64)
	}
	clear(e.strs)
	e.list = e.list[:0]
	e.str(writer)
	for i := range e.last {
		e.last[i], e.lastIdx[i] = writer, 0
	}
	first, last = recs[0].Time.UnixNano(), recs[0].Time.UnixNano()
	format, nstr := byte(segmentFormat), segmentStrings-1
	for i := range recs {
		ns := recs[i].Time.UnixNano()
		first, last = min(first, ns), max(last, ns)
		if recs[i].Policy != "" {
			format, nstr = segmentFormatPolicy, segmentStrings
		}
	}
	r := e.recs[:0]
	r = binary.AppendUvarint(r, uint64(len(recs)))
	for i := range recs {
		rec := &recs[i]
		r = binary.AppendUvarint(r, uint64(rec.Time.UnixNano()-first))
		if w, seq := writerOf(rec.ID); w == writer && w != "" {
			r = binary.AppendUvarint(r, seq+1)
		} else {
			r = binary.AppendUvarint(r, 0)
			r = binary.AppendUvarint(r, e.str(rec.ID))
		}
		strs := [segmentStrings]string{rec.Client, rec.Remote, rec.Method, rec.Module, rec.Version, rec.Kind, rec.Cache, rec.Upstream, rec.Agent, rec.Replica, rec.Policy}
		for j, s := range strs[:nstr] {
			if s != e.last[j] {
				e.last[j], e.lastIdx[j] = s, e.str(s)
			}
			r = binary.AppendUvarint(r, e.lastIdx[j])
		}
		r = binary.AppendUvarint(r, uint64(rec.Status))
		r = binary.AppendVarint(r, rec.Bytes)
		r = binary.AppendVarint(r, int64(rec.Duration))
	}
	e.recs = r
	b := append(e.buf[:0], format)
	b = binary.AppendVarint(b, first)
	b = binary.AppendUvarint(b, uint64(len(e.list)))
	for _, s := range e.list {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = append(b, r...)
	e.buf = b
	return b, first, last
}

// str returns the index of s in the segment's strings, adding it.
func (e *segmentEncoder) str(s string) uint64 {
	if i, ok := e.strs[s]; ok {
		return i
	}
	i := uint64(len(e.list))
	e.strs[s] = i
	e.list = append(e.list, s)
	return i
}

var errBadSegment = errors.New("db: a damaged audit segment")

// segReader reads an encoded segment: b from off. (An offset, not a
// slice cut at each read: no pointer written per varint.)
type segReader struct {
	b   []byte
	off int
	err bool
}

func (r *segReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.err, r.off = true, len(r.b)
		return 0
	}
	r.off += n
	return v
}

func (r *segReader) varint() int64 {
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		r.err, r.off = true, len(r.b)
		return 0
	}
	r.off += n
	return v
}

func (r *segReader) left() int { return len(r.b) - r.off }

// segFilter selects the records that decodeSegment returns.
type segFilter struct {
	// str, per string field of a record (in the order of the encoding:
	// Client, Remote, Method, Module, Version, Kind, Cache, Upstream,
	// Agent, Replica), if not nil, must accept the field's value: each
	// is asked once per distinct string of a segment, so that records
	// that fail are skipped without being built.
	str [10]func(string) bool
	// keep, if not nil, is asked about each complete record that str
	// let through.
	keep func(*audit.Record) bool
}

// String fields of segFilter.str.
const (
	fieldClient = 0
	fieldRemote = 1
	fieldModule = 3
	fieldKind   = 5
	fieldCache  = 6
)

// decodeSegment appends the records of the encoded segment data that f
// selects (all when f is nil) to out.
func decodeSegment(data []byte, out []audit.Record, f *segFilter) ([]audit.Record, error) {
	if len(data) == 0 || data[0] != segmentFormat && data[0] != segmentFormatPolicy {
		return out, errBadSegment
	}
	nfields := segmentStrings - 1
	if data[0] == segmentFormatPolicy {
		nfields = segmentStrings
	}
	r := segReader{b: data, off: 1}
	base := r.varint()
	n := r.uvarint()
	if r.err || n == 0 || n > uint64(r.left()) {
		return out, errBadSegment
	}
	// One string for all the segment's strings (string i is
	// all[ends[i-1]:ends[i]]): the records' fields are substrings of it.
	ends := make([]int, n)
	var sb strings.Builder
	sb.Grow(r.left())
	for i := range ends {
		l := r.uvarint()
		if r.err || l > uint64(r.left()) {
			return out, errBadSegment
		}
		sb.Write(r.b[r.off : r.off+int(l)])
		r.off += int(l)
		ends[i] = sb.Len()
	}
	all := sb.String()
	str := func(i uint64) string {
		if i == 0 {
			return all[:ends[0]]
		}
		return all[ends[i-1]:ends[i]]
	}
	// memo[j][i]: whether f.str[j] accepts string i; 0 not asked yet, 1
	// yes, 2 no.
	var memo [10][]uint8
	if f != nil {
		for j, p := range f.str {
			if p != nil {
				memo[j] = make([]uint8, n)
			}
		}
	}
	writer := str(0)
	count := r.uvarint()
	if r.err || count > uint64(r.left()) {
		return out, errBadSegment
	}
	nstr := n
	var idx [segmentStrings]uint64 // idx[10], Policy's, stays 0 in version 1
	var rec audit.Record
records:
	for range count {
		ns := base + int64(r.uvarint())
		seq := r.uvarint()
		var idIdx uint64
		if seq == 0 {
			idIdx = r.uvarint()
		}
		for j := range nfields {
			idx[j] = r.uvarint()
		}
		status := r.uvarint()
		size := r.varint()
		dur := r.varint()
		if r.err || idIdx >= nstr {
			return out, errBadSegment
		}
		for j := range nfields {
			if idx[j] >= nstr {
				return out, errBadSegment
			}
		}
		if f != nil {
			for j, p := range f.str {
				if p == nil {
					continue
				}
				m := &memo[j][idx[j]]
				if *m == 0 {
					*m = 2
					if p(str(idx[j])) {
						*m = 1
					}
				}
				if *m == 2 {
					continue records
				}
			}
		}
		rec.Time = time.Unix(0, ns).UTC()
		if seq > 0 {
			rec.ID = writer + strconv.FormatUint(seq-1, 36)
		} else {
			rec.ID = str(idIdx)
		}
		rec.Client, rec.Remote, rec.Method, rec.Module, rec.Version = str(idx[0]), str(idx[1]), str(idx[2]), str(idx[3]), str(idx[4])
		rec.Kind, rec.Cache, rec.Upstream, rec.Agent, rec.Replica = str(idx[5]), str(idx[6]), str(idx[7]), str(idx[8]), str(idx[9])
		rec.Policy = ""
		if nfields == segmentStrings {
			rec.Policy = str(idx[10])
		}
		rec.Status, rec.Bytes, rec.Duration = int(status), size, time.Duration(dur)
		if f != nil && f.keep != nil && !f.keep(&rec) {
			continue
		}
		out = append(out, rec)
	}
	if r.left() != 0 {
		return out, errBadSegment
	}
	return out, nil
}
