package db_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gomirror/gomirror/audit"
	"github.com/gomirror/gomirror/db"
)

// BenchmarkWriteAudit times WriteAudit of batches of 256 records into a
// fresh SQLite file: "same", every record a cached .info of one module by
// one client (the CachedInfo benchmark's traffic), and "mixed", many
// modules, versions and clients. ns/op and us-cpu/record (CPU time of
// the whole process, the checkpointer's too) are per record.
func BenchmarkWriteAudit(b *testing.B) {
	for _, tc := range []struct {
		name string
		fill func(r *audit.Record, k int)
	}{
		{"same", func(r *audit.Record, k int) {
			*r = audit.Record{Client: "", Remote: "127.0.0.1", Method: "GET", Module: "example.com/m", Version: "v1.0.0",
				Kind: audit.KindInfo, Status: 200, Bytes: 60, Duration: 30 * time.Microsecond, Cache: "hit",
				Agent: "wrk", Replica: "bench:8080"}
		}},
		{"mixed", func(r *audit.Record, k int) {
			k *= 7919
			m := (k % 100) * (k / 100 % 100)
			*r = audit.Record{Client: fmt.Sprintf("token%d", k%300), Remote: fmt.Sprintf("10.1.%d.%d", k%8, k%250),
				Method: "GET", Module: fmt.Sprintf("github.com/org%d/mod%d", m%300, m), Version: fmt.Sprintf("v1.%d.0", k%30),
				Kind: []string{audit.KindInfo, audit.KindMod, audit.KindZip, audit.KindZip, audit.KindList}[k%5], Status: 200,
				Bytes: int64(k % 1000000), Duration: time.Duration(k%100) * time.Millisecond, Cache: []string{"hit", "hit", "hit", "miss"}[k%4],
				Agent: "Go-http-client/1.1", Replica: "bench:8080"}
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			d, err := db.Open(ctx, filepath.Join(b.TempDir(), "a.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			batch := make([]audit.Record, 256)
			seq := 0
			cpu0 := cpuTime()
			b.ResetTimer()
			for n := 0; n < b.N; n += len(batch) {
				now := time.Now().UTC()
				for j := range batch {
					tc.fill(&batch[j], seq)
					seq++
					batch[j].ID = "0123456789AB-" + strconv.FormatUint(uint64(seq), 36) // as the Recorder's
					batch[j].Time = now
				}
				if err := d.WriteAudit(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Microsecond)/float64(b.N), "us-cpu/record")
		})
	}
}

// cpuTime is the CPU time this process has used (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
