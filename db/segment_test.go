package db

import (
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/audit"
)

func TestWriterOf(t *testing.T) {
	for _, tc := range []struct {
		id     string
		writer string
		seq    uint64
	}{
		{"0123456789AB-1", "0123456789AB-", 1},
		{"0123456789AB-zz", "0123456789AB-", 36*36 - 1},
		{"0123456789AV-" + strconv.FormatUint(1<<62, 36), "0123456789AV-", 1 << 62},
		{"0123456789AB-" + strconv.FormatUint(1<<63, 36), "", 0}, // beyond int64
		{"0123456789AB-" + strconv.FormatUint(1<<63-1, 36), "0123456789AB-", 1<<63 - 1},
		{"0123456789AB-" + strconv.FormatUint(1<<64-1, 36), "", 0},
		{"0123456789AB-" + strconv.FormatUint(1<<63-1, 36) + "0", "", 0},
		{"0123456789AB-01", "", 0}, // not what FormatUint writes
		{"0123456789AB-+1", "", 0},
		{"0123456789AB--1", "", 0},
		{"0123456789AB-1_0", "", 0},
		{"0123456789AB-1 ", "", 0},
		{"0123456789AB-Z", "", 0},
		{"0123456789AB-", "", 0},
		{"0123456789aB-1", "", 0}, // not base32hex
		{"0123456789AW-1", "", 0},
		{"0123456789ABC-1", "", 0},
		{"s00001", "", 0},
		{"6f1e2d3c-aaaa-bbbb-cccc-0123456789ab", "", 0},
		{"", "", 0},
	} {
		w, seq := writerOf(tc.id)
		if w != tc.writer || seq != tc.seq {
			t.Errorf("writerOf(%q) = %q, %d; want %q, %d", tc.id, w, seq, tc.writer, tc.seq)
		}
	}
}

func segmentRecords(n int, prefix string) []audit.Record {
	t0 := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	recs := make([]audit.Record, n)
	for i := range recs {
		recs[i] = audit.Record{
			ID: prefix + strconv.FormatUint(uint64(5000+i), 36), Time: t0.Add(time.Duration((i*7919)%1000) * time.Millisecond),
			Client: []string{"", "ci"}[i%2], Remote: "10.0.0." + strconv.Itoa(i%7), Method: "GET",
			Module: "example.com/Mod" + strconv.Itoa(i%13), Version: "v1.0." + strconv.Itoa(i%3), Kind: audit.KindInfo,
			Status: []int{200, 404, 500}[i%3], Bytes: int64(i) * 1000, Duration: time.Duration(i) * time.Microsecond,
			Cache: "hit", Agent: "Go-http-client/1.1", Replica: "host:8080",
		}
	}
	return recs
}

// TestSegmentRoundTrip: records of every kind of ID (the writer's,
// another's, anything), times before the batch's first, negative sizes
// and empty strings come back as they went in, and a damaged segment is
// an error, not a panic.
func TestSegmentRoundTrip(t *testing.T) {
	recs := segmentRecords(100, "0123456789AB-")
	recs[3].ID = "not-the-writers"
	recs[4].ID = "0123456789AC-5"
	recs[5].Time = time.Unix(0, -5).UTC()
	recs[6].Bytes, recs[6].Duration = -1, -time.Second
	recs[7] = audit.Record{ID: "x", Time: time.Unix(0, 0).UTC()}
	var e segmentEncoder
	data, first, last := e.encode("0123456789AB-", recs)
	var latest int64
	for _, r := range recs {
		latest = max(latest, r.Time.UnixNano())
	}
	if first != -5 || last != latest {
		t.Errorf("time range %d..%d, want -5..%d", first, last, latest)
	}
	got, err := decodeSegment(data, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, recs) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got[:8], recs[:8])
	}
	// Filtered while decoded.
	got, err = decodeSegment(data, nil, &segFilter{keep: func(r *audit.Record) bool { return r.Status == 404 }})
	if err != nil || len(got) != 32 { // i%3 == 1, but record 7
		t.Fatalf("filtered: %d records, %v", len(got), err)
	}
	asked := 0
	f := &segFilter{keep: func(r *audit.Record) bool { return r.Status == 200 }}
	f.str[fieldModule] = func(s string) bool { asked++; return s == "example.com/Mod4" }
	got, err = decodeSegment(data, nil, f)
	if err != nil || len(got) != 2 || got[0].Module != "example.com/Mod4" || got[0].Status != 200 || asked != 14 {
		t.Fatalf("filtered by module and status: %+v, %v; the module predicate asked %d times, want once per distinct module (14)", got, err, asked)
	}
	for n := range len(data) {
		if _, err := decodeSegment(data[:n], nil, nil); err == nil {
			t.Fatalf("a segment cut to %d of %d bytes decodes", n, len(data))
		}
	}
}

// TestSegmentPolicy: a segment with a record that has a Policy is version
// 2 and keeps it; one without is version 1, the encoding from before
// Policy, byte for byte, and a version 1 segment decodes with Policy "".
func TestSegmentPolicy(t *testing.T) {
	recs := segmentRecords(20, "0123456789AB-")
	var e segmentEncoder
	v1, _, _ := e.encode("0123456789AB-", recs)
	if v1[0] != 1 {
		t.Fatalf("a segment without policies is version %d", v1[0])
	}
	v1 = append([]byte(nil), v1...)
	recs[5].Policy = `warned by rule "legacy" (p.yaml:3): affected by GO-2024-0001`
	recs[6].Policy = recs[5].Policy
	recs[9].Policy = `refused by rule 2 (p.yaml:7): denied`
	v2, _, _ := e.encode("0123456789AB-", recs)
	if v2[0] != 2 {
		t.Fatalf("a segment with policies is version %d", v2[0])
	}
	got, err := decodeSegment(v2, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, recs) {
		t.Fatalf("round trip with policies:\n got %+v\nwant %+v", got[4:10], recs[4:10])
	}
	got, err = decodeSegment(v1, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if got[i].Policy != "" || got[i].Module != recs[i].Module || got[i].Replica != recs[i].Replica || got[i].Status != recs[i].Status {
			t.Fatalf("version 1 record %d: %+v", i, got[i])
		}
	}
	for n := range len(v2) {
		if _, err := decodeSegment(v2[:n], nil, nil); err == nil {
			t.Fatalf("a segment cut to %d of %d bytes decodes", n, len(v2))
		}
	}
}

// BenchmarkSegmentEncode: the CPU a batch of 256 records costs to encode
// (per record: ns/op / 256).
func BenchmarkSegmentEncode(b *testing.B) {
	recs := segmentRecords(256, "0123456789AB-")
	var e segmentEncoder
	b.ReportAllocs()
	for b.Loop() {
		data, _, _ := e.encode("0123456789AB-", recs)
		b.SetBytes(int64(len(data)))
	}
}

func BenchmarkSegmentDecode(b *testing.B) {
	recs := segmentRecords(256, "0123456789AB-")
	var e segmentEncoder
	data, _, _ := e.encode("0123456789AB-", recs)
	b.ReportAllocs()
	out := make([]audit.Record, 0, 256)
	for b.Loop() {
		out, _ = decodeSegment(data, out[:0], nil)
	}
}

// TestFirstOfEachID: a batch's repeated IDs are dropped, of the Recorder's
// form (whose increasing batches skip the map) or not.
func TestFirstOfEachID(t *testing.T) {
	const w, v = "0123456789AB-", "0123456789AV-"
	for _, tc := range []struct{ ids, want string }{
		{w + "1," + w + "2," + w + "a", w + "1," + w + "2," + w + "a"},
		{w + "1," + w + "2," + w + "2", w + "1," + w + "2"},
		{w + "2," + w + "1," + w + "2", w + "2," + w + "1"},
		{w + "1," + v + "2," + w + "1", w + "1," + v + "2"},
		{w + "1," + v + "1", w + "1," + v + "1"},
		{w + "1,x," + w + "1", w + "1,x"},
		{"x,y,x", "x,y"},
		{"x", "x"},
	} {
		var batch []audit.Record
		for _, id := range strings.Split(tc.ids, ",") {
			batch = append(batch, audit.Record{ID: id})
		}
		var got []string
		for _, r := range firstOfEachID(batch) {
			got = append(got, r.ID)
		}
		if g := strings.Join(got, ","); g != tc.want {
			t.Errorf("firstOfEachID(%s) = %s, want %s", tc.ids, g, tc.want)
		}
	}
}

// TestSegmentKeysClientStatus: a segment names each token with each of
// its non-2xx status classes (what a client's failures query reads), and
// no token with 2xx, and no record without a token.
func TestSegmentKeysClientStatus(t *testing.T) {
	recs := []audit.Record{
		{Client: "ci", Status: 200},
		{Client: "ci", Status: 404},
		{Client: "ci", Status: 410},
		{Client: "bob", Status: 502},
		{Client: "", Status: 500},
	}
	var got []string
	for _, k := range segmentKeys(recs) {
		if k.kind == keyClientStatus {
			got = append(got, k.key)
		}
	}
	if want := []string{"4:ci", "5:bob"}; !slices.Equal(got, want) {
		t.Errorf("client-status keys %q, want %q", got, want)
	}
}
