package gc

import (
	"context"
	"sync"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/db"
)

// MemoryMax is the number of versions a Memory made by serve remembers
// (about 100 bytes each: some 25 MB at most).
const MemoryMax = 1 << 18

// Memory is where serve keeps access times without a database: a bounded
// map from version to its last download, written by the Tracker's flushes
// (AccessRecorder) and read by the collector (Accesses), kept across
// collections for the process's lifetime. A version whose files all went
// is forgotten (Catalog). Beyond its bound a new version's download is
// dropped, and Overflowed reports it from then on: the collector must
// then not trust an absent record (retention evicts only versions with a
// recorded download; Options.RetentionRecordedOnly).
//
// A Memory is safe for concurrent use. The zero value is not usable: use
// NewMemory.
type Memory struct {
	mu         sync.Mutex
	max        int
	times      map[module.Version]db.VersionAccess
	overflowed bool
}

var (
	_ AccessRecorder = (*Memory)(nil)
	_ Accesses       = (*Memory)(nil)
	_ Catalog        = (*Memory)(nil)
)

// NewMemory returns an empty Memory of at most max versions.
func NewMemory(max int) *Memory {
	return &Memory{max: max, times: map[module.Version]db.VersionAccess{}}
}

// RecordAccess records batch, moving times only forward.
func (m *Memory) RecordAccess(ctx context.Context, batch []db.VersionAccess) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range batch {
		mv := module.Version{Path: a.Module, Version: a.Version}
		old, ok := m.times[mv]
		switch {
		case ok && a.Time.After(old.Time):
			m.times[mv] = a
		case !ok && len(m.times) < m.max:
			m.times[mv] = a
		case !ok:
			m.overflowed = true
		}
	}
	return nil
}

// AccessTimes calls f for every version remembered, in no order, on a
// copy (f may take long).
func (m *Memory) AccessTimes(ctx context.Context, f func(db.VersionAccess) error) error {
	m.mu.Lock()
	all := make([]db.VersionAccess, 0, len(m.times))
	for _, a := range m.times {
		all = append(all, a)
	}
	m.mu.Unlock()
	for _, a := range all {
		if err := f(a); err != nil {
			return err
		}
	}
	return nil
}

// DeleteArtifact does nothing: Memory keeps no catalog.
func (m *Memory) DeleteArtifact(ctx context.Context, module, version, file string) error { return nil }

// ForgetAccess forgets a version whose files all went.
func (m *Memory) ForgetAccess(ctx context.Context, path, version string) error {
	m.mu.Lock()
	delete(m.times, module.Version{Path: path, Version: version})
	m.mu.Unlock()
	return nil
}

// Overflowed reports whether a download was ever dropped for want of room.
func (m *Memory) Overflowed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.overflowed
}
