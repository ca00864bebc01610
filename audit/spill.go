package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Spill files are named spillPrefix + the time the file was created (Unix
// nanoseconds, 20 digits, so that names sort by age) + "-" + the creating
// Recorder's ID prefix and a sequence number + spillSuffix. Each holds one
// JSON object per line, a Record, appended in the order the records left
// the queue.
const (
	spillPrefix = "audit-spill-"
	spillSuffix = ".jsonl"
)

// maxSpillLine bounds the memory a line of a spill file may take when it
// is read back: a longer line (only corruption makes one; a record's
// strings come from a request whose header the server bounds) is skipped.
const maxSpillLine = 8 << 20

// spillWriter appends encoded records to the current spill file of a
// Recorder. Its methods are safe for concurrent use (the writer goroutine,
// and Record after Close).
type spillWriter struct {
	dir, prefix string

	mu   sync.Mutex
	f    *os.File // the file being appended to, locked; nil before the first append
	name string
	size int64 // bytes in f known to be complete lines
	seq  int
}

// append writes buf (whole lines) at the end of the current spill file,
// creating one if there is none, and syncs it to disk. When it fails,
// nothing of buf is in the file: what a failed write left is cut off, or
// the file is closed (kept for a later replay) and the next append starts
// a new one.
func (s *spillWriter) append(buf []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		if err := s.create(); err != nil {
			return err
		}
	}
	_, err := s.f.Write(buf)
	if err == nil {
		err = s.f.Sync()
	}
	if err != nil {
		if terr := s.f.Truncate(s.size); terr != nil {
			s.f.Close()
			s.f = nil
		}
		return fmt.Errorf("audit: spilling to %s: %w", s.name, err)
	}
	s.size += int64(len(buf))
	return nil
}

func (s *spillWriter) create() error {
	s.seq++
	name := filepath.Join(s.dir, fmt.Sprintf("%s%020d-%s%d%s", spillPrefix, time.Now().UnixNano(), s.prefix, s.seq, spillSuffix))
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("audit: creating a spill file: %w", err)
	}
	if ok, err := tryLock(f); !ok {
		f.Close()
		os.Remove(name)
		return fmt.Errorf("audit: locking %s: %v", name, err)
	}
	// The file's name must survive a crash as well as its contents.
	if err := syncDir(s.dir); err != nil {
		f.Close()
		os.Remove(name)
		return err
	}
	s.f, s.name, s.size = f, name, 0
	return nil
}

// detach ends appending to the current spill file and returns it, still
// open and locked, read from its start, for replay; nil if nothing was
// spilled since the last detach.
func (s *spillWriter) detach() *spillFile {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	f, name, size := s.f, s.name, s.size
	s.f = nil
	if size == 0 {
		f.Close()
		os.Remove(name)
		return nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close() // a leftover for the next scan or start
		return nil
	}
	return &spillFile{f: f, name: name}
}

// current reports the name of the file being appended to, "" if none.
func (s *spillWriter) current() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return ""
	}
	return s.name
}

// close closes the current spill file, leaving it for a later replay.
func (s *spillWriter) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("audit: syncing %s: %w", dir, err)
	}
	return nil
}

// spillFile is a spill file being replayed: open, locked by this process,
// read from the start.
type spillFile struct {
	f    *os.File
	name string
	r    *bufio.Reader
	line int // lines read
}

// findSpills opens and locks the spill files in dir that no other open
// file holds and that are not named in skip (this Recorder's own), oldest
// first.
func findSpills(dir string, skip func(name string) bool) ([]*spillFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("audit: reading the spill directory: %w", err)
	}
	var out []*spillFile
	for _, e := range entries { // sorted by name: oldest first
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), spillPrefix) || !strings.HasSuffix(e.Name(), spillSuffix) {
			continue
		}
		name := filepath.Join(dir, e.Name())
		if skip(name) {
			continue
		}
		if sf := openSpill(name); sf != nil {
			out = append(out, sf)
		}
	}
	return out, nil
}

// openSpill opens and locks the spill file name; nil if another process
// holds it (it is still appending to it, or replaying it) or it is gone.
func openSpill(name string) *spillFile {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return nil
	}
	if ok, _ := tryLock(f); !ok {
		f.Close()
		return nil
	}
	// The lock may have been released by a replay that removed the file
	// after this open: then it is not to be replayed again.
	fi, err1 := f.Stat()
	now, err2 := os.Stat(name)
	if err1 != nil || err2 != nil || !os.SameFile(fi, now) {
		f.Close()
		return nil
	}
	return &spillFile{f: f, name: name}
}

// errCorrupt marks a line of a spill file that is not a record.
var errCorrupt = errors.New("not a record")

// next reads the next record of the file: io.EOF at its end, errCorrupt
// (wrapped, with the line number) for a line that is not a record, which
// the caller skips.
func (sf *spillFile) next() (Record, error) {
	if sf.r == nil {
		sf.r = bufio.NewReaderSize(sf.f, 64<<10)
	}
	line, err := readLine(sf.r, maxSpillLine)
	if len(line) == 0 && err != nil {
		return Record{}, err
	}
	sf.line++
	var rec Record
	if len(bytes.TrimSpace(line)) == 0 || json.Unmarshal(line, &rec) != nil || rec.ID == "" {
		return Record{}, fmt.Errorf("%s line %d: %w", sf.name, sf.line, errCorrupt)
	}
	return rec, nil
}

// readLine reads a line and its newline (absent at the end of the input)
// and returns it without the newline; a line longer than max is consumed
// and returned cut to max bytes, which then is never valid JSON.
func readLine(r *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(line) < max {
			line = append(line, chunk[:min(len(chunk), max-len(line))]...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == nil {
			return line[:len(line)-1], nil
		}
		if err == io.EOF && len(line) > 0 {
			return line, nil
		}
		return line, err
	}
}

// remove deletes the replayed file and releases it.
func (sf *spillFile) remove() error {
	err := os.Remove(sf.name)
	sf.f.Close()
	return err
}

// release closes the file, keeping it for a later replay.
func (sf *spillFile) release() { sf.f.Close() }
