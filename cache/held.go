package cache

import (
	"container/list"
	"errors"
	"os"
	"sync"
	"time"

	"github.com/gomirror/gomirror/upstream"
)

// Bounds of the held zips (heldZips): at most heldZipsBytes bytes of
// temporary disk in at most heldZipsCount files, each kept at most
// heldZipTTL. A `go mod download` of a 282-module project holds about
// 175 MB at its peak (it asks for every .info before its first zip).
const (
	heldZipsBytes = 1 << 30
	heldZipsCount = 4096
	heldZipTTL    = 10 * time.Minute
)

// heldZip is a zip that a prefetch fetched, checked and verified against
// the checksum database, kept as a file in the temporary directory instead
// of storage until a client asks for it (Mirror.commitHeld).
type heldZip struct {
	key  string // its storage key
	name string // the temporary file
	h1   string // its verified hash
	// hashName is a temporary file holding h1 as its side-file
	// (layout.HashKey) holds it, synced: storage/fs adopts it as it is.
	hashName string
	// hashStored: h1 is stored as its side-file already (a store that
	// cannot adopt files, S3: see Mirror.hold).
	hashStored bool
	// file is what the zip's file was when it was held: it is taken
	// only if it still is that file, of that size and modification time
	// (open).
	file os.FileInfo
	size int64           // bytes
	from upstream.Answer // the upstream that sent it
	at   time.Time       // when it was held
}

// heldZips are the prefetched zips that no client has asked for yet. They
// are not in storage: a client that only reads metadata (`go list -m`,
// whose .info requests start prefetches like `go mod download`'s) leaves
// nothing stored. The oldest go first when a new one needs room, and any
// older than the TTL; a removed one's file is deleted. The zero value is
// not usable: see newHeldZips.
type heldZips struct {
	maxBytes int64
	maxCount int
	ttl      time.Duration
	now      func() time.Time

	mu    sync.Mutex
	bytes int64
	order *list.List               // of *heldZip, oldest first
	byKey map[string]*list.Element // into order
}

func newHeldZips(maxBytes int64, maxCount int, ttl time.Duration) *heldZips {
	return &heldZips{maxBytes: maxBytes, maxCount: maxCount, ttl: ttl, now: time.Now, order: list.New(), byKey: map[string]*list.Element{}}
}

// add holds z, making room for it, and reports whether it did: a zip
// larger than the whole budget, or one whose key is held already, is not,
// and the caller removes its file. z.at is set.
func (h *heldZips) add(z *heldZip) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if z.size > h.maxBytes || h.byKey[z.key] != nil {
		return false
	}
	z.at = h.now()
	h.expireLocked(z.at)
	for h.order.Len() > 0 && (h.bytes+z.size > h.maxBytes || h.order.Len() >= h.maxCount) {
		h.removeLocked(h.order.Front())
	}
	h.byKey[z.key] = h.order.PushBack(z)
	h.bytes += z.size
	return true
}

// take removes the zip held for key and returns it, or nil if none is
// held (or it has expired). Its file is the caller's from then on.
func (h *heldZips) take(key string) *heldZip {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.expireLocked(h.now())
	e := h.byKey[key]
	if e == nil {
		return nil
	}
	z := h.order.Remove(e).(*heldZip)
	delete(h.byKey, key)
	h.bytes -= z.size
	return z
}

// has reports whether a zip is held for key (and not expired).
func (h *heldZips) has(key string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.expireLocked(h.now())
	return h.byKey[key] != nil
}

// drop removes every held zip and its file.
func (h *heldZips) drop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for h.order.Len() > 0 {
		h.removeLocked(h.order.Front())
	}
}

// len returns how many zips are held and their bytes.
func (h *heldZips) len() (int, int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.order.Len(), h.bytes
}

// expireLocked removes the zips held since before now minus the TTL.
func (h *heldZips) expireLocked(now time.Time) {
	for e := h.order.Front(); e != nil && now.Sub(e.Value.(*heldZip).at) >= h.ttl; e = h.order.Front() {
		h.removeLocked(e)
	}
}

// removeLocked forgets the held zip at e and removes its files.
func (h *heldZips) removeLocked(e *list.Element) {
	z := h.order.Remove(e).(*heldZip)
	delete(h.byKey, z.key)
	h.bytes -= z.size
	z.remove()
}

// errHeldChanged is a held zip whose file changed while it was held.
var errHeldChanged = errors.New("held zip's file changed while held")

// open opens z's file for the store, and fails if it is not the file that
// was held (z.file), of the same size and modification time, or if its
// hash side-file does not hold z.h1: a file altered in the temporary
// directory is never passed on as the verified zip.
func (z *heldZip) open() (*os.File, error) {
	f, err := os.OpenFile(z.name, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && (z.file == nil || !os.SameFile(fi, z.file) || fi.Size() != z.size || fi.Size() != z.file.Size() || !fi.ModTime().Equal(z.file.ModTime())) {
		err = errHeldChanged
	}
	if err == nil && z.hashName != "" {
		if b, rerr := os.ReadFile(z.hashName); rerr != nil || string(b) != z.h1+"\n" {
			err = errHeldChanged
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// remove removes z's temporary files.
func (z *heldZip) remove() {
	os.Remove(z.name)
	if z.hashName != "" {
		os.Remove(z.hashName)
	}
}
