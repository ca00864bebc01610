package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/storage/mem"
	"github.com/gomirror/gomirror/upstream"
)

// This file tests the fills of immutable artifacts across replicas (the
// Coordinator and its Lease) with a fake coordinator, and the retries of
// a zip fill, with the fake upstream of mirror_test.go and the in-memory
// store.

// fakeCoord is a Coordinator whose locks are held in memory. The replica
// under test takes them through TryLock; the test plays the other replicas
// with hold (and the returned lease's Unlock).
type fakeCoord struct {
	err     error         // if set, every call fails with it
	refused chan struct{} // a send, if there is room, each time TryLock says ErrLockHeld

	mu      sync.Mutex
	holders map[string]*fakeLease // key → the lease of the lock's holder
	taken   int                   // locks TryLock granted
}

var _ Coordinator = (*fakeCoord)(nil)

func newFakeCoord() *fakeCoord {
	return &fakeCoord{refused: make(chan struct{}, 1), holders: map[string]*fakeLease{}}
}

func (c *fakeCoord) TryLock(ctx context.Context, key string) (Lease, error) {
	if c.err != nil {
		return nil, c.err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.holders[key] != nil {
		select {
		case c.refused <- struct{}{}:
		default:
		}
		return nil, fmt.Errorf("%s: %w", key, ErrLockHeld)
	}
	l := &fakeLease{c: c, key: key}
	c.holders[key] = l
	c.taken++
	return l, nil
}

// hold makes another replica the holder of key's lock, taking it over from
// whoever held it (as when their lease expired), and returns its lease.
func (c *fakeCoord) hold(key string) *fakeLease {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := &fakeLease{c: c, key: key}
	c.holders[key] = l
	return l
}

// locksTaken returns how many locks TryLock granted.
func (c *fakeCoord) locksTaken() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.taken
}

func (c *fakeCoord) GetShared(ctx context.Context, key string) ([]byte, bool, error) {
	return nil, false, c.err
}

func (c *fakeCoord) SetShared(ctx context.Context, key string, b []byte, ttl time.Duration) error {
	return c.err
}

type fakeLease struct {
	c   *fakeCoord
	key string
}

// Valid reports whether l still holds its lock (nobody took it over).
func (l *fakeLease) Valid(context.Context) bool {
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	return l.c.holders[l.key] == l
}

// Unlock frees the lock if l still holds it.
func (l *fakeLease) Unlock() {
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	if l.c.holders[l.key] == l {
		delete(l.c.holders, l.key)
	}
}

// replicaStore is the replica under test's view of the store all replicas
// share: it records the keys this replica wrote.
type replicaStore struct {
	*mem.Store
	mu    sync.Mutex
	wrote []string
}

func (s *replicaStore) Put(ctx context.Context, key string, r io.Reader) error {
	s.mu.Lock()
	s.wrote = append(s.wrote, key)
	s.mu.Unlock()
	return s.Store.Put(ctx, key, r)
}

func (s *replicaStore) written() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.wrote)
}

// newReplica returns a Mirror over f and c (which may be nil), and the
// store the replicas share (which the test writes to as another replica)
// with this replica's view of it; its fills are waited for when the test
// ends.
func newReplica(t *testing.T, f upstream.Fetcher, c Coordinator) (*Mirror, *mem.Store, *replicaStore) {
	t.Helper()
	shared := mem.New()
	mine := &replicaStore{Store: shared}
	m := New(Options{Storage: mine, Upstream: f, Coordinator: c, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Wait(ctx); err != nil {
			t.Error(err)
		}
	})
	return m, shared, mine
}

// replicaTest is a replica under test that fills fakePath@v1.0.0's op
// (stored at key) from the fake upstream, with the fake coordinator.
type replicaTest struct {
	t       *testing.T
	op, key string
	f       *fakeUpstream
	c       *fakeCoord
	m       *Mirror
	shared  *mem.Store
	mine    *replicaStore
}

func newReplicaTest(t *testing.T, op, key string) *replicaTest {
	r := &replicaTest{t: t, op: op, key: key, f: newFakeUpstream(fakeVersion(t, "v1.0.0")), c: newFakeCoord()}
	r.m, r.shared, r.mine = newReplica(t, r.f, r.c)
	return r
}

// served is the answer of one request.
type served struct {
	b   []byte
	src Source
	err error
}

// request starts a request and returns where its answer will arrive.
func (r *replicaTest) request() <-chan served {
	ch := make(chan served, 1)
	go func() {
		b, src, err := get(r.t.Context(), r.m, r.op, "v1.0.0")
		ch <- served{b, src, err}
	}()
	return ch
}

// fetched returns what a fill stores and serves: the fake upstream's
// answer (a .info as checkInfo re-encodes it).
func (r *replicaTest) fetched() []byte {
	r.t.Helper()
	b := r.f.answers[r.op+" "+fakePath+"@v1.0.0"].b
	if r.op == "info" {
		var err error
		if b, err = checkInfo(b, fakePath, "v1.0.0"); err != nil {
			r.t.Fatal(err)
		}
	}
	return b
}

// check fails the test unless got is the answer want (nil: fetched())
// with Source src, the upstream was asked calls times and the lock taken
// locks times, and, once the fills are done, this replica stored want at
// key (and what goes with it) if wrote, and wrote nothing otherwise.
func (r *replicaTest) check(got served, want []byte, src Source, calls, locks int, wrote bool) {
	r.t.Helper()
	if want == nil {
		want = r.fetched()
	}
	if got.err != nil || !bytes.Equal(got.b, want) || got.src != src {
		r.t.Fatalf("answer %q, %+v, %v; want %q, %+v", got.b, got.src, got.err, want, src)
	}
	if n := r.f.Calls(r.op + " " + fakePath + "@v1.0.0"); n != calls {
		r.t.Errorf("upstream asked %d times, want %d", n, calls)
	}
	if n := r.c.locksTaken(); n != locks {
		r.t.Errorf("took the lock %d times, want %d", n, locks)
	}
	if err := r.m.Wait(r.t.Context()); err != nil {
		r.t.Fatal(err)
	}
	if w := r.mine.written(); slices.Contains(w, r.key) != wrote || !wrote && len(w) != 0 {
		r.t.Errorf("this replica wrote %q; want it to write %s: %v", w, r.key, wrote)
	}
	if !wrote {
		return
	}
	if b, err := storage.ReadAll(r.t.Context(), r.shared, r.key); err != nil || !bytes.Equal(b, want) {
		r.t.Errorf("stored %q, %v; want %q", b, err, want)
	}
}

// await receives from ch, failing t after 10 seconds.
func await[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// TestReplicaServesWhatTheLockHolderStored: while another replica holds
// the fill lock, this one fetches nothing; once the holder has stored the
// artifact (still holding the lock), this one serves it from storage.
func TestReplicaServesWhatTheLockHolderStored(t *testing.T) {
	for _, tt := range immutableOps {
		t.Run(tt.op, func(t *testing.T) {
			r := newReplicaTest(t, tt.op, tt.key)
			holder := r.c.hold(tt.key)
			defer holder.Unlock()
			answer := r.request()
			await(t, r.c.refused, "the lock to be refused")

			// The holder's result, told apart from a fetch of our own.
			theirs := slices.Concat(r.fetched(), []byte("theirs"))
			if err := storage.PutBytes(t.Context(), r.shared, tt.key, theirs); err != nil {
				t.Fatal(err)
			}
			r.check(await(t, answer, "the answer"), theirs, Source{Outcome: Miss}, 0, 0, false)
		})
	}
}

// TestReplicaFillsWhenTheHolderDies: when the lock becomes free and
// nothing was stored (its holder died and the lock expired), the waiting
// replica takes the lock and fills the artifact itself.
func TestReplicaFillsWhenTheHolderDies(t *testing.T) {
	for _, tt := range immutableOps {
		t.Run(tt.op, func(t *testing.T) {
			r := newReplicaTest(t, tt.op, tt.key)
			holder := r.c.hold(tt.key)
			answer := r.request()
			await(t, r.c.refused, "the lock to be refused")
			holder.Unlock() // it died: its lock expired, nothing stored
			r.check(await(t, answer, "the answer"), nil, Source{Outcome: Miss, Upstream: "fake"}, 1, 1, true)
		})
	}
}

// TestReplicaThatLostTheLeaseDoesNotWrite: a replica whose lease is taken
// over while it fetches writes nothing (neither the artifact nor its
// hash). A small artifact it has verified is still its answer; a zip is
// served once the new holder has stored it.
func TestReplicaThatLostTheLeaseDoesNotWrite(t *testing.T) {
	for _, tt := range immutableOps {
		t.Run(tt.op, func(t *testing.T) {
			r := newReplicaTest(t, tt.op, tt.key)
			r.f.gate, r.f.arrived = make(chan struct{}), make(chan struct{}, 1)
			answer := r.request()
			await(t, r.f.arrived, "the fetch")
			if n := r.c.locksTaken(); n != 1 {
				t.Fatalf("fetching with %d locks taken, want 1", n)
			}
			holder := r.c.hold(tt.key) // our lease expired; another replica took over
			defer holder.Unlock()
			close(r.f.gate)

			if tt.op == "zip" {
				// The zip is not ours to store: we wait for the holder's.
				await(t, r.c.refused, "the lock to be refused")
				if w := r.mine.written(); len(w) != 0 {
					t.Fatalf("wrote %q after losing the lease", w)
				}
				select {
				case got := <-answer:
					t.Fatalf("answered %+v before the new holder stored the zip", got)
				default:
				}
				if err := storage.PutBytes(t.Context(), r.shared, tt.key, r.fetched()); err != nil {
					t.Fatal(err)
				}
			}
			r.check(await(t, answer, "the answer"), nil, Source{Outcome: Miss, Upstream: "fake"}, 1, 1, false)
		})
	}
}

// TestReplicaFillsAloneWhenCoordinationFails: a coordinator that fails
// (other than by a held lock) does not stop the fill; the replica fills
// and stores the artifact alone.
func TestReplicaFillsAloneWhenCoordinationFails(t *testing.T) {
	for _, tt := range immutableOps {
		t.Run(tt.op, func(t *testing.T) {
			r := newReplicaTest(t, tt.op, tt.key)
			r.c.err = errors.New("coordinator unreachable")
			r.check(<-r.request(), nil, Source{Outcome: Miss, Upstream: "fake"}, 1, 0, true)
		})
	}
}
