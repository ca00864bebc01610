package storage

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Settings is a driver's view of the configuration: the value of a setting
// by its name ("storage-dir", "s3-bucket"), as text (booleans "true" or
// "false"), and whether a setting of that name exists at all.
// *config.Serve is one.
type Settings interface {
	Setting(name string) (value string, ok bool)
}

// Factory opens a driver's storage. It decodes and checks the settings it
// needs itself; its errors name the setting at fault (gomirror's drivers
// return *config.Error).
type Factory func(ctx context.Context, settings Settings) (Storage, error)

// drivers holds the registered factories by name. It is written only by
// Register, from the drivers' init functions, and read afterwards.
var drivers struct {
	sync.RWMutex
	m map[string]Factory
}

// Register makes a driver available to Open under name. A driver package
// calls it from its init function, so that a blank import of the package
// is all a program needs to offer the driver. Registering a name twice, or
// a nil factory, panics.
func Register(name string, f Factory) {
	drivers.Lock()
	defer drivers.Unlock()
	if f == nil {
		panic("storage: Register of a nil factory for " + name)
	}
	if _, dup := drivers.m[name]; dup {
		panic("storage: Register called twice for driver " + name)
	}
	if drivers.m == nil {
		drivers.m = map[string]Factory{}
	}
	drivers.m[name] = f
}

// Drivers returns the names of the registered drivers, sorted.
func Drivers() []string {
	drivers.RLock()
	defer drivers.RUnlock()
	names := make([]string, 0, len(drivers.m))
	for name := range drivers.m {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Open opens the storage of the driver registered as name with settings,
// wrapped (see Wrap) so that every key the driver is given is valid.
func Open(ctx context.Context, name string, settings Settings) (Storage, error) {
	drivers.RLock()
	f, ok := drivers.m[name]
	drivers.RUnlock()
	if !ok {
		return nil, fmt.Errorf("storage: no driver %q (have %q)", name, Drivers())
	}
	s, err := f(ctx, settings)
	if err != nil {
		return nil, err
	}
	return Wrap(s), nil
}

// Presigner is an optional capability of a Storage: PresignGet returns a
// URL from which key can be downloaded directly, without credentials, for
// ttl (zips are then answered with a redirect instead of through gomirror).
type Presigner interface {
	PresignGet(ctx context.Context, key string, ttl time.Duration) (*url.URL, error)
}

// Rooter is an optional capability of a Storage kept in a local directory
// whose layout is the key space: Root is that directory, which callers may
// walk instead of listing.
type Rooter interface {
	Root() string
}

// As finds the optional capability T (FileAdopter, TempDirer, Unsyncer,
// Presigner, Rooter, or any other interface) of s: s itself if it has it,
// else, as errors.As does, what s unwraps to. A wrapper offers a
// capability either through a method As(target any) bool, which sets
// *target (a *T) and reports whether it did, or by unwrapping: a method
// Unwrap() Storage. Callers use As rather than a type assertion, which
// would not see through wrappers.
func As[T any](s Storage) (T, bool) {
	var c T
	for s != nil {
		if c, ok := s.(T); ok {
			return c, true
		}
		if a, ok := s.(capabilityFinder); ok && a.As(&c) {
			return c, true
		}
		u, ok := s.(unwrapper)
		if !ok {
			break
		}
		s = u.Unwrap()
	}
	return c, false
}

// capabilityFinder is a wrapper that offers capabilities of its own making
// (see As).
type capabilityFinder interface{ As(target any) bool }

// unwrapper is a wrapper around one Storage (see As).
type unwrapper interface{ Unwrap() Storage }

var (
	_ capabilityFinder = (*base)(nil)
	_ unwrapper        = (*base)(nil)
	_ FileAdopter      = checkedAdopter{}
	_ SyncedAdopter    = checkedSyncedAdopter{}
	_ Presigner        = checkedPresigner{}
	_ Unsyncer         = wrappedUnsyncer{}
)

// Wrap returns d behind the base wrapper that storage.Open puts around
// every driver: it checks every key with ValidKey before d sees it (an
// invalid key is an error wrapping ErrInvalidKey), so drivers need not. It
// is also where per-operation instrumentation belongs. d's capabilities
// stay visible through As; those that take keys (FileAdopter, Presigner)
// are checked too, and Unsyncer's view is wrapped as well. Wrapping a
// wrapped store returns it unchanged.
func Wrap(d Storage) Storage {
	if b, ok := d.(*base); ok {
		return b
	}
	return &base{d: d}
}

// base is the wrapper of Wrap.
type base struct{ d Storage }

var _ Storage = (*base)(nil)

// Unwrap returns the driver.
func (b *base) Unwrap() Storage { return b.d }

// String names the store for logs as the driver does.
func (b *base) String() string {
	if s, ok := b.d.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", b.d)
}

func (b *base) Get(ctx context.Context, key string) (*Object, error) {
	if err := ValidKey(key); err != nil {
		return nil, err
	}
	return b.d.Get(ctx, key)
}

func (b *base) Stat(ctx context.Context, key string) (Info, error) {
	if err := ValidKey(key); err != nil {
		return Info{}, err
	}
	return b.d.Stat(ctx, key)
}

func (b *base) Put(ctx context.Context, key string, r io.Reader) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	return b.d.Put(ctx, key, r)
}

func (b *base) Delete(ctx context.Context, key string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	return b.d.Delete(ctx, key)
}

// List checks the directory part of a non-empty prefix (everything up to
// its last slash), the only part that names a place in the store: the rest
// is the start of a key's last element, which may be anything.
func (b *base) List(ctx context.Context, prefix string) ([]string, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	return b.d.List(ctx, prefix)
}

// checkPrefix checks a listing's prefix as List describes.
func checkPrefix(prefix string) error {
	if i := strings.LastIndexByte(prefix, '/'); i > 0 {
		return ValidKey(prefix[:i])
	}
	return nil
}

// As offers d's key-taking capabilities with their keys checked, and d's
// unsynced view wrapped. Other capabilities are found by unwrapping.
func (b *base) As(target any) bool {
	switch t := target.(type) {
	case *FileAdopter:
		a, ok := As[FileAdopter](b.d)
		if ok {
			*t = checkedAdopter{a}
		}
		return ok
	case *SyncedAdopter:
		a, ok := As[SyncedAdopter](b.d)
		if ok {
			*t = checkedSyncedAdopter{a}
		}
		return ok
	case *Presigner:
		p, ok := As[Presigner](b.d)
		if ok {
			*t = checkedPresigner{p}
		}
		return ok
	case *Creator:
		c, ok := As[Creator](b.d)
		if ok {
			*t = checkedCreator{c}
		}
		return ok
	case *Unsyncer:
		u, ok := As[Unsyncer](b.d)
		if ok {
			*t = wrappedUnsyncer{u}
		}
		return ok
	}
	return false
}

type checkedAdopter struct{ a FileAdopter }

func (c checkedAdopter) AdoptFile(ctx context.Context, key, name string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	return c.a.AdoptFile(ctx, key, name)
}

type checkedSyncedAdopter struct{ a SyncedAdopter }

func (c checkedSyncedAdopter) AdoptSynced(ctx context.Context, key, name string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	return c.a.AdoptSynced(ctx, key, name)
}

type checkedPresigner struct{ p Presigner }

func (c checkedPresigner) PresignGet(ctx context.Context, key string, ttl time.Duration) (*url.URL, error) {
	if err := ValidKey(key); err != nil {
		return nil, err
	}
	return c.p.PresignGet(ctx, key, ttl)
}

type wrappedUnsyncer struct{ u Unsyncer }

func (w wrappedUnsyncer) Unsynced() Storage { return Wrap(w.u.Unsynced()) }
