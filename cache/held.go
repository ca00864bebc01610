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
// zips in at most heldZipsCount zips (on storage/fs each has a hash
// side-file too, of a few bytes not counted in heldZipsBytes), each kept
// at most heldZipTTL. A `go mod download` of a 282-module project holds about
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
// at its TTL, by a timer on the oldest (also on an idle mirror); a removed
// one's files are deleted, outside the lock. After drop (Mirror.Close)
// nothing is held and no timer runs. The zero value is not usable: see
// newHeldZips.
type heldZips struct {
	maxBytes  int64
	maxCount  int
	ttl       time.Duration
	now       func() time.Time
	afterFunc func(time.Duration, func()) timerStopper // time.AfterFunc

	mu      sync.Mutex
	bytes   int64
	order   *list.List               // of *heldZip, oldest first
	byKey   map[string]*list.Element // into order
	timer   timerStopper             // expires the oldest; nil if none held
	timerAt time.Time                // when timer fires
	timerN  int                      // counts timers set: which one is h.timer
	closed  bool                     // dropped: holds nothing more
	counts  HeldZipStats
}

// timerStopper is a timer that can be stopped (*time.Timer).
type timerStopper interface{ Stop() bool }

// HeldZipStats are counts of the prefetched zips held until a client asks
// for them (Mirror.HeldZips), for metrics.
type HeldZipStats struct {
	Count   int   // held now
	Bytes   int64 // their size
	Held    int64 // zips held since the start
	Taken   int64 // of them, taken for a client's request
	Evicted int64 // removed unused to make room for a newer one
	Expired int64 // removed unused at their TTL
}

func newHeldZips(maxBytes int64, maxCount int, ttl time.Duration) *heldZips {
	return &heldZips{maxBytes: maxBytes, maxCount: maxCount, ttl: ttl, now: time.Now,
		afterFunc: func(d time.Duration, f func()) timerStopper { return time.AfterFunc(d, f) },
		order:     list.New(), byKey: map[string]*list.Element{}}
}

// add holds z, making room for it, and reports whether it did: a zip
// larger than the whole budget, or one whose key is held already, or
// one added after drop, is not, and the caller removes its file. z.at is
// set.
func (h *heldZips) add(z *heldZip) bool {
	var gone []*heldZip
	defer removeAll(&gone)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || z.size > h.maxBytes || h.byKey[z.key] != nil {
		return false
	}
	z.at = h.now()
	gone = h.expireLocked(z.at)
	for h.order.Len() > 0 && (h.bytes+z.size > h.maxBytes || h.order.Len() >= h.maxCount) {
		gone = append(gone, h.removeLocked(h.order.Front()))
		h.counts.Evicted++
	}
	h.byKey[z.key] = h.order.PushBack(z)
	h.bytes += z.size
	h.counts.Held++
	h.armLocked()
	return true
}

// take removes the zip held for key and returns it, or nil if none is
// held (or it has expired). Its file is the caller's from then on.
func (h *heldZips) take(key string) *heldZip {
	var gone []*heldZip
	defer removeAll(&gone)
	h.mu.Lock()
	defer h.mu.Unlock()
	gone = h.expireLocked(h.now())
	e := h.byKey[key]
	if e == nil {
		return nil
	}
	z := h.removeLocked(e)
	h.counts.Taken++
	h.armLocked()
	return z
}

// has reports whether a zip is held for key (and not expired).
func (h *heldZips) has(key string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.byKey[key]
	return e != nil && h.now().Sub(e.Value.(*heldZip).at) < h.ttl
}

// drop removes every held zip and its file, stops the timer, and holds
// nothing from then on.
func (h *heldZips) drop() {
	var gone []*heldZip
	defer removeAll(&gone)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for h.order.Len() > 0 {
		gone = append(gone, h.removeLocked(h.order.Front()))
	}
	h.armLocked()
}

// isClosed reports whether drop has been called.
func (h *heldZips) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// len returns how many zips are held and their bytes.
func (h *heldZips) len() (int, int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.order.Len(), h.bytes
}

// stats returns the counts.
func (h *heldZips) stats() HeldZipStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.counts
	st.Count, st.Bytes = h.order.Len(), h.bytes
	return st
}

// expire is timer n's: it removes the zips at their TTL.
func (h *heldZips) expire(n int) {
	var gone []*heldZip
	defer removeAll(&gone)
	h.mu.Lock()
	defer h.mu.Unlock()
	if n == h.timerN {
		h.timer = nil // fired (an older one, stopped too late, is not h.timer)
	}
	gone = h.expireLocked(h.now())
	h.armLocked()
}

// armLocked sets the timer for the oldest zip's TTL, or stops it if none
// is held.
func (h *heldZips) armLocked() {
	e := h.order.Front()
	if e == nil {
		if h.timer != nil {
			h.timer.Stop()
			h.timer = nil
		}
		return
	}
	at := e.Value.(*heldZip).at.Add(h.ttl)
	if h.timer != nil {
		if h.timerAt.Equal(at) {
			return
		}
		h.timer.Stop()
	}
	h.timerN++
	n := h.timerN
	h.timer, h.timerAt = h.afterFunc(max(at.Sub(h.now()), 0), func() { h.expire(n) }), at
}

// expireLocked forgets the zips held since before now minus the TTL and
// returns them, for removeAll.
func (h *heldZips) expireLocked(now time.Time) []*heldZip {
	var gone []*heldZip
	for e := h.order.Front(); e != nil && now.Sub(e.Value.(*heldZip).at) >= h.ttl; e = h.order.Front() {
		gone = append(gone, h.removeLocked(e))
		h.counts.Expired++
	}
	return gone
}

// removeLocked forgets the held zip at e and returns it; its files are
// the caller's to remove (outside the lock: removeAll).
func (h *heldZips) removeLocked(e *list.Element) *heldZip {
	z := h.order.Remove(e).(*heldZip)
	delete(h.byKey, z.key)
	h.bytes -= z.size
	return z
}

// removeAll removes the files of the zips in *zs.
func removeAll(zs *[]*heldZip) {
	for _, z := range *zs {
		z.remove()
	}
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
