package snapshot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
)

// ErrExist is returned by Create for a name that is taken: a snapshot is
// never replaced. It is an fs.ErrExist (errors.Is).
var ErrExist error = existError{}

type existError struct{}

func (existError) Error() string {
	return "already exists (a snapshot is never replaced: delete it first, or choose another name)"
}

// Is makes ErrExist an fs.ErrExist.
func (existError) Is(target error) bool { return target == fs.ErrExist }

// InUseError is Delete's refusal of a snapshot that an environment points at.
type InUseError struct {
	Snapshot string
	Envs     []string // the environments it is in force in
	// RollbackEnvs are the environments whose rollback may return to it
	// (it is in the current record's Previous).
	RollbackEnvs []string
}

func (e *InUseError) Error() string {
	if len(e.Envs) == 0 {
		return fmt.Sprintf("snapshot %s is in use by environment %s: a rollback there may return to it (the last %d snapshots in force are kept for rollback)", e.Snapshot, strings.Join(e.RollbackEnvs, ", "), MaxPrevious)
	}
	return fmt.Sprintf("snapshot %s is in use by environment %s: promote another snapshot there first", e.Snapshot, strings.Join(e.Envs, ", "))
}

// Create validates m and writes it under layout.SnapshotKey(m.Name). It
// fails with an error wrapping ErrExist if that name is taken. With a
// store that can create if absent (storage.Creator: fs, S3, mem), the
// write itself is the check: of two Creates of one name at the same
// moment exactly one succeeds. Without it (a driver that lacks it), it
// Stats first, writes, and reads its write back: two Creates at the same
// moment can both pass the check, and the earlier writer, reading back
// the later one's manifest, fails too, but the later write may land
// after the earlier writer's read back and replace its manifest
// unnoticed.
func Create(ctx context.Context, s storage.Storage, m *Manifest) error {
	if err := m.Validate(); err != nil {
		return err
	}
	key := layout.SnapshotKey(m.Name)
	if _, err := s.Stat(ctx, key); err == nil {
		return fmt.Errorf("snapshot %s: %w", m.Name, ErrExist)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var buf bytes.Buffer
	if err := m.Encode(&buf); err != nil {
		return err
	}
	if c, ok := storage.As[storage.Creator](s); ok {
		err := c.CreateIfAbsent(ctx, key, bytes.NewReader(buf.Bytes()))
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("snapshot %s was created by someone else at the same time: %w", m.Name, ErrExist)
		}
		return err
	}
	if err := storage.PutBytes(ctx, s, key, buf.Bytes()); err != nil {
		return err
	}
	back, err := storage.ReadAll(ctx, s, key)
	if err != nil {
		return err
	}
	if !bytes.Equal(back, buf.Bytes()) {
		return fmt.Errorf("snapshot %s was created by someone else at the same time: %w", m.Name, ErrExist)
	}
	return nil
}

// NotFoundError is a snapshot that does not exist (a "not found").
type NotFoundError struct{ Name string }

func (e *NotFoundError) Error() string { return "not found: no snapshot " + e.Name }

// Unwrap makes a NotFoundError a "not found".
func (e *NotFoundError) Unwrap() error { return fs.ErrNotExist }

// Get reads the snapshot name (Decode: bounded, strict). A snapshot that
// does not exist, or an invalid name, is a *NotFoundError.
func Get(ctx context.Context, s storage.Storage, name string) (*Manifest, error) {
	if ValidName(name) != nil {
		return nil, &NotFoundError{name}
	}
	obj, err := s.Get(ctx, layout.SnapshotKey(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &NotFoundError{name}
	}
	if err != nil {
		return nil, err
	}
	defer obj.Body.Close()
	m, err := Decode(storage.ContextReader(ctx, obj.Body))
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", name, err)
	}
	if m.Name != name {
		return nil, fmt.Errorf("snapshot %s: its manifest names %q", name, m.Name)
	}
	return m, nil
}

// List returns the names of the stored snapshots, sorted.
func List(ctx context.Context, s storage.Storage) ([]string, error) {
	keys, err := s.List(ctx, layout.SnapshotDir+"/")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, k := range keys {
		name, ok := strings.CutSuffix(strings.TrimPrefix(k, layout.SnapshotDir+"/"), ".json")
		if ok && ValidName(name) == nil {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names, nil
}

// Delete removes the snapshot name. It refuses (*InUseError) while an
// environment's current record points at it or lists it in Previous (a
// rollback may return to it: at most MaxPrevious snapshots per
// environment); older records of the history may still name it. Deleting a missing snapshot is a
// *NotFoundError. (A promotion to name at the same moment can slip past
// the check; promote checks that the snapshot exists.)
func Delete(ctx context.Context, s storage.Storage, name string) error {
	if err := ValidName(name); err != nil {
		return &NotFoundError{name}
	}
	key := layout.SnapshotKey(name)
	if _, err := s.Stat(ctx, key); errors.Is(err, fs.ErrNotExist) {
		return &NotFoundError{name}
	} else if err != nil {
		return err
	}
	envs, err := Envs(ctx, s)
	if err != nil {
		return err
	}
	inUse := &InUseError{Snapshot: name}
	for _, env := range envs {
		rec, err := Current(ctx, s, env)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if rec.Snapshot == name {
			inUse.Envs = append(inUse.Envs, env)
		} else if slices.Contains(rec.Previous, name) {
			inUse.RollbackEnvs = append(inUse.RollbackEnvs, env)
		}
	}
	if len(inUse.Envs) > 0 || len(inUse.RollbackEnvs) > 0 {
		return inUse
	}
	return s.Delete(ctx, key)
}

// Pinned returns every module version that a stored snapshot lists (with
// or without its zip), for the garbage collector: none of their files may
// be evicted. A manifest that cannot be read is an error, not an empty
// set, so that a collector never evicts what it could not check.
func Pinned(ctx context.Context, s storage.Storage) (map[module.Version]struct{}, error) {
	names, err := List(ctx, s)
	if err != nil {
		return nil, err
	}
	pins := make(map[module.Version]struct{})
	for _, name := range names {
		m, err := Get(ctx, s, name)
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since List
		}
		if err != nil {
			return nil, err
		}
		for _, e := range m.Modules {
			pins[e.Module()] = struct{}{}
		}
	}
	return pins, nil
}

// Pins is Pinned as a value, for a collector that takes an interface
// (Pinned(ctx) (map[module.Version]struct{}, error)).
type Pins struct{ Storage storage.Storage }

// Pinned is the package's Pinned of p.Storage.
func (p Pins) Pinned(ctx context.Context) (map[module.Version]struct{}, error) {
	return Pinned(ctx, p.Storage)
}
